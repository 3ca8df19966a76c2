"""Packaging: a (non-editable) wheel carries the files that live outside the package.

The cocotb testbench (``sim/``) and the CUDA kernel sources (``csrc/``) stay at the top level of the
repository; the wheel installs them under ``<prefix>/share/difflut`` (``[tool.setuptools.data-files]``),
where :func:`difflut.hw.verilog.testbench_dir` and :func:`difflut.kernels.source_dir` look after the
source checkout.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SIM_DATA = ("tb_difflut.py", "run_sim.py", "README.md")
CSRC_DATA = ("efd_lookup.cpp", "efd_lookup_cuda.cu", "wired_lookup_cuda.cu", "split_parts_cuda.cu")
MNIST = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")
#: a file in the copy of the tree standing for a shipped trained model (difflut/models/pretrained/*.pt)
PROBE = "difflut/models/pretrained/packaging_probe.pt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built offline from a copy of the tree (the build's build/ and *.egg-info stay in tmp)."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".devdata", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".benchmarks", "runs",
        "out"))
    (src / PROBE).write_bytes(b"stands for a shipped checkpoint")  # pretrained/*.pt ship whatever they hold
    before = sorted(p.name for p in REPO.iterdir())
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                          "--no-index", "--disable-pip-version-check", "-q", "-w", str(tmp / "dist")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in REPO.iterdir()) == before, "the wheel build left files in the repository"
    wheels = list((tmp / "dist").glob("difflut-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_ships_testbench_kernels_mnist_and_pretrained_models(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        data = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".data"))
        expected = {f"{data}/data/share/difflut/sim/{f}": REPO / "sim" / f for f in SIM_DATA}
        expected |= {f"{data}/data/share/difflut/csrc/{f}": REPO / "csrc" / f for f in CSRC_DATA}
        expected |= {f"difflut/data/mnist/{f}": REPO / "difflut" / "data" / "mnist" / f for f in MNIST}
        expected |= {"difflut/models/pretrained/README.md": REPO / "difflut/models/pretrained/README.md"}
        assert z.read(PROBE) == b"stands for a shipped checkpoint"
        for entry, source in expected.items():
            assert entry in names, f"{entry} is not in {wheel.name}"
            assert z.read(entry) == source.read_bytes(), entry
        # nothing of sim/ or csrc/ lands in site-packages as a top-level package
        assert not any(n.startswith(("sim/", "csrc/")) for n in names)


def _fake_prefix(tmp_path: Path, monkeypatch, *, ship: bool, user: bool = False) -> Path:
    """Hide the source checkout's sim/ and point sys.prefix (or, with ``user``, the pip --user base) at a
    folder whose share/difflut/sim holds marked copies of the testbench (``ship=True``) or nothing."""
    from difflut import resources

    monkeypatch.setattr(resources, "REPOSITORY", tmp_path / "checkout")
    prefix = tmp_path / ("userbase" if user else "prefix")
    share = prefix / "share" / "difflut" / "sim"
    share.mkdir(parents=True)
    if ship:
        for f in SIM_DATA:
            (share / f).write_bytes((REPO / "sim" / f).read_bytes() + b"\n# installed copy\n")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(site, "USER_BASE", str(tmp_path / "userbase"))
    return share


def test_testbench_dir_prefers_the_source_checkout():
    pytest.importorskip("amaranth")
    from difflut.hw.verilog import testbench_dir
    from difflut.resources import REPOSITORY

    assert REPOSITORY == REPO
    assert testbench_dir() == REPO / "sim"


def test_testbench_dir_falls_back_to_the_installed_share(tmp_path, monkeypatch):
    pytest.importorskip("amaranth")
    from difflut.hw.verilog import testbench_dir, verilog_files

    share = _fake_prefix(tmp_path, monkeypatch, ship=True)
    assert testbench_dir() == share
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    from irtools import rtl_ir

    files, _ = verilog_files(rtl_ir(0, ks=(2, 3), nodes=4, classes=2, group=3))
    for f in ("tb_difflut.py", "run_sim.py"):
        assert files[f] == (share / f).read_bytes()


def test_testbench_dir_finds_a_pip_user_install(tmp_path, monkeypatch):
    pytest.importorskip("amaranth")
    from difflut.hw.verilog import testbench_dir

    share = _fake_prefix(tmp_path, monkeypatch, ship=True, user=True)
    assert testbench_dir() == share


def test_testbench_dir_error_names_both_places(tmp_path, monkeypatch):
    pytest.importorskip("amaranth")
    from difflut.hw.export import ExportError
    from difflut.hw.verilog import testbench_dir

    share = _fake_prefix(tmp_path, monkeypatch, ship=False)
    with pytest.raises(ExportError) as e:
        testbench_dir()
    assert str(tmp_path / "checkout" / "sim") in str(e.value)
    assert str(share) in str(e.value)
    # one file missing is as good as none
    (share / "tb_difflut.py").write_bytes(b"")
    with pytest.raises(ExportError, match="run_sim.py"):
        testbench_dir()
