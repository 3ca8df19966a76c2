"""Without the ``hw`` extra (no Amaranth), every command but the Verilog export works: list-models, train,
eval, export to C (with --check) and to the IR; the Verilog export says what is missing in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

#: runs the CLI with ``import amaranth`` (and its submodules) failing, as on an install without the hw extra
BLOCKED = ("import sys\n"
           "for name in ('amaranth', 'amaranth.lib', 'amaranth.back', 'amaranth.hdl'): sys.modules[name] = None\n"
           "from difflut.cli import main\n"
           "rc = main(sys.argv[1:])\n"
           "assert not any(n.startswith('amaranth') and m is not None for n, m in sys.modules.items()), 'amaranth'\n"
           "sys.exit(rc)\n")


def difflut(*argv, cwd):
    return subprocess.run([sys.executable, "-c", BLOCKED, *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_the_blocker_blocks(tmp_path):
    result = subprocess.run([sys.executable, "-c", BLOCKED.replace("from difflut.cli import main", "import amaranth")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_every_non_verilog_command_works_without_amaranth(tmp_path):
    ok = difflut("list-models", cwd=tmp_path)
    assert ok.returncode == 0 and "mnist_fc_8k_dwn" in ok.stdout, ok.stderr
    ok = difflut("train", "mnist_fc_8k_dwn", "--set", "layer_widths=[40,20]", "--train-limit", "600", "--val-size",
                 "100", "--test-limit", "100", "--quiet", "--out", "m.pt", cwd=tmp_path)
    assert ok.returncode == 0 and (tmp_path / "m.pt").is_file(), ok.stderr
    ok = difflut("eval", "m.pt", "--limit", "100", cwd=tmp_path)
    assert ok.returncode == 0 and "accuracy" in ok.stdout, ok.stderr
    check = ["--check"] if (shutil.which("cc")) else []
    ok = difflut("export", "m.pt", "--target", "c", "-o", "c", "--vectors", "20", *check, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "c" / "mnist_fc_8k_dwn.h").is_file()
    if check:
        assert json.loads((tmp_path / "c" / "export.json").read_text())["selftest"].endswith("PASS")
    ok = difflut("export", "m.pt", "--target", "ir", "-o", "ir", "--vectors", "20", cwd=tmp_path)
    assert ok.returncode == 0 and (tmp_path / "ir" / "mnist_fc_8k_dwn.ir.json").is_file(), ok.stderr
    for extra in ([], ["--pipeline", "layers"]):
        bad = difflut("export", "m.pt", "--target", "verilog", "-o", "v", *extra, cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
        assert "difflut export: error: target 'verilog' needs Amaranth" in bad.stderr
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("module", ["difflut.hw.backends", "difflut.hw.export", "difflut.hw.sim",
                                    "difflut.hw.vectors", "difflut.files", "difflut.demo"])
def test_modules_outside_rtl_and_verilog_import_without_amaranth(module):
    code = BLOCKED.split("from difflut.cli")[0] + f"import {module}\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
