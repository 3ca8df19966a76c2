"""Hostile and careless input to export, sim and the command line (issue 14): no user file lost, no code
from a folder run, nothing bad accepted in silence, no traceback for a user error. See docs/reliability.md."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difflut import files
from difflut.cli import main
from difflut.data import load_mnist
from difflut.hw.export import ExportError, export
from difflut.hw.names import ExportNameError
from difflut.hw.sim import SimError, read_vectors, run_sim, verify_folder
from difflut.models import get_model
from difflut.training import evaluate

pytest.importorskip("amaranth")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_verilog import random_ir, vectors_of  # noqa: E402

from difflut.hw.verilog import export_verilog, verilog_files  # noqa: E402

M = "export.json"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small fitted mnist model (eval mode) and its checkpoint."""
    images, labels = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(40, 20), mapping="random")
    model.fit_encoder(images[:200]).eval()
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    model.save_checkpoint(path, metadata={"dataset": "mnist"})
    return model, path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rehash(folder: Path, name: str) -> None:
    manifest = json.loads((folder / M).read_text())
    manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / M).write_text(json.dumps(manifest))


def _one_line_error(capsys, argv, command):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"difflut {command}: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- export folders ----------------------------------------------------------------------------
def test_export_never_replaces_a_folder_it_cannot_verify(small, tmp_path, capsys):
    model, path = small
    out = tmp_path / "out"
    out.mkdir()
    (out / M).write_text('{"anything": 1}')
    (out / "thesis.tex").write_text("years of work")
    before = _tree(out)
    with pytest.raises(ExportError, match="not a DiffLUT manifest"):
        export(model, "ir", out, vectors=4)
    _one_line_error(capsys, ["export", str(path), "--target", "ir", "--vectors", "4", "-o", str(out)], "export")
    with pytest.raises(ExportError, match="not a DiffLUT manifest"):
        export_verilog(random_ir(0), out)
    assert _tree(out) == before


def test_a_reexport_keeps_the_users_files(small, tmp_path):
    model, _ = small
    out = tmp_path / "out"
    export(model, "c", out, vectors=4)
    (out / "my_main.c").write_text("int main(void) { return 0; }")
    manifest = export(model, "c", out, vectors=6)
    assert (out / "my_main.c").read_text() == "int main(void) { return 0; }"
    assert set(os.listdir(out)) == {M, "my_main.c", *manifest["files"]}
    header = out / "mnist_fc_8k_dwn.h"
    header.write_text(header.read_text() + "// my edit\n")
    with pytest.raises(ExportError, match="mnist_fc_8k_dwn.h was changed since it was exported"):
        export(model, "c", out, vectors=4)
    assert header.read_text().endswith("// my edit\n")


def test_export_recovers_a_commit_killed_between_the_renames(small, tmp_path):
    model, _ = small
    out = tmp_path / "out"
    export(model, "ir", out, vectors=4)
    before = _tree(out)
    old = Path(tempfile.mkdtemp(prefix=".out.old-", dir=tmp_path))
    os.replace(out, old / "export")  # SIGKILL after the first rename: only the hidden copy is left
    tmp = Path(tempfile.mkdtemp(prefix=".out.tmp-", dir=tmp_path))
    (tmp / "half.json").write_text("{")
    with pytest.raises(ExportError, match="training mode"):  # the recovery runs before any other work
        export(model.train(), "ir", out, vectors=4)
    model.eval()
    assert _tree(out) == before and sorted(os.listdir(tmp_path)) == ["out"]
    export(model, "ir", out, vectors=4)
    assert _tree(out) == before


def test_export_verilog_follows_the_same_rules(tmp_path):
    ir = random_ir(1)
    out = tmp_path / "rtl"
    out.mkdir()
    (out / "params.json").write_text("{}")  # the old marker alone no longer makes a folder ours
    (out / "mine.v").write_text("module mine; endmodule")
    with pytest.raises(ExportError, match="not empty and holds no DiffLUT export"):
        export_verilog(ir, out)
    shutil.rmtree(out)
    export_verilog(ir, out)
    (out / "mine.v").write_text("module mine; endmodule")
    export_verilog(ir, out, pipeline=1)
    assert (out / "mine.v").read_text() == "module mine; endmodule"
    assert json.loads((out / "params.json").read_text())["clocked"]  # the new export is in place


def test_output_paths_are_checked_before_any_work(small, tmp_path, capsys):
    _, path = small
    (tmp_path / "notes.txt").write_text("mine")
    err = _one_line_error(capsys, ["train", "mnist_fc_8k_dwn", "--out", str(tmp_path / "notes.txt")], "train")
    assert "is not a DiffLUT checkpoint; refusing to replace it" in err
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert "is a folder" in _one_line_error(capsys, ["train", "mnist_fc_8k_dwn", "--out", str(tmp_path)], "train")
    assert "does not exist" in _one_line_error(
        capsys, ["train", "mnist_fc_8k_dwn", "--out", str(tmp_path / "no" / "m.pt")], "train")
    assert "exists and is not a folder" in _one_line_error(
        capsys, ["demo", "--out-dir", str(tmp_path / "notes.txt")], "demo")
    assert "exists and is not a folder" in _one_line_error(
        capsys, ["export", str(path), "--target", "ir", "-o", str(tmp_path / "notes.txt")], "export")
    # a DiffLUT checkpoint may be replaced: the check passes (training is not run here)
    from difflut.run_options import check_checkpoint_out

    check_checkpoint_out(path)


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,options", [("reg", {}), ("module", {}), ("end", {}), ("int", {}), ("for", {}),
                                          ("LUT6", {"lut_style": "xilinx"}), ("always_ff", {})])
def test_reserved_names_are_refused(small, tmp_path, capsys, name, options):
    model, path = small
    with pytest.raises(ExportNameError, match=repr(name)):
        export(model, "verilog", tmp_path / "v", vectors=4, name=name, **options)
    argv = ["export", str(path), "--target", "verilog", "--vectors", "4", "--name", name, "-o", str(tmp_path / "v")]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", value]
    assert "choose another name" in _one_line_error(capsys, argv, "export")
    with pytest.raises(ExportNameError):
        export_verilog(random_ir(0), tmp_path / "w", name=name)
    assert not (tmp_path / "v").exists() and not (tmp_path / "w").exists()


# -- sim: verification before simulating ---------------------------------------------------------
@pytest.fixture(scope="module")
def rtl(tmp_path_factory):
    """A small exported Verilog folder with 20 test vectors (4-bit signed codes, 4 classes)."""
    ir = random_ir(3)
    out = tmp_path_factory.mktemp("rtl") / "rtl"
    export_verilog(ir, out, pipeline=1, vectors=vectors_of(ir, 20))
    return out


def _copy(rtl, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(rtl, out)
    return out


def _vectors_doc(folder):
    return json.loads((folder / "vectors.json").read_text())


def _write_vectors(folder, doc, rehash=True):
    (folder / "vectors.json").write_text(json.dumps(doc))
    if rehash:
        _rehash(folder, "vectors.json")


@pytest.mark.parametrize("change,message", [
    (lambda d: d["vectors"].pop(), "holds 19 vectors, params.json says 20"),
    (lambda d: d["vectors"][3]["codes"].__setitem__(2, 256), r"vectors\[3\].codes\[2\]: expected an integer in -8..7"),
    (lambda d: d["vectors"][0]["codes"].__setitem__(0, -9), r"vectors\[0\].codes\[0\]"),
    (lambda d: d["vectors"][5]["codes"].__setitem__(1, True), r"vectors\[5\].codes\[1\]"),
    (lambda d: d["vectors"][5]["codes"].__setitem__(1, 1.0), r"vectors\[5\].codes\[1\]"),
    (lambda d: d["vectors"][7]["codes"].pop(), r"vectors\[7\].codes: expected a list of 6"),
    (lambda d: d["vectors"][2]["scores"].__setitem__(0, -1), r"vectors\[2\].scores\[0\]"),
    (lambda d: d["vectors"][2].__setitem__("class", 9), r"vectors\[2\].class"),
    (lambda d: d.__setitem__("format", "x"), "not a DiffLUT vectors file"),
])
def test_sim_refuses_bad_vectors_naming_them(rtl, tmp_path, change, message):
    out = _copy(rtl, tmp_path)
    doc = _vectors_doc(out)
    change(doc)
    _write_vectors(out, doc)
    with pytest.raises(SimError, match=message):
        verify_folder(out)
    if "params.json says" not in message:  # a vectors file given to run_sim (any count) is checked the same way
        with pytest.raises(SimError, match=message):
            run_sim(rtl, vectors=out / "vectors.json")


def test_sim_verifies_the_folder_before_simulating(rtl, tmp_path, capsys, monkeypatch):
    out = _copy(rtl, tmp_path)
    assert verify_folder(out)["top"] == "difflut"
    (out / "difflut.v").write_text((out / "difflut.v").read_text() + "\n// changed\n")
    err = _one_line_error(capsys, ["sim", str(out)], "sim")
    assert "difflut.v: its SHA-256 differs from the one in export.json" in err
    (out / "difflut.v").unlink()
    assert "difflut.v: listed in export.json but missing" in _one_line_error(capsys, ["sim", str(out)], "sim")
    (out / M).unlink()
    assert "has no export.json" in _one_line_error(capsys, ["sim", str(out)], "sim")
    with pytest.raises(SystemExit):  # argparse: a negative count is refused before any work
        main(["sim", str(rtl), "--vectors", "-1"])
    assert "must be an integer >= 0" in capsys.readouterr().err
    with pytest.raises(SimError, match="limit"):
        run_sim(rtl, limit=-1)
    with pytest.raises(SimError, match="21 is more than the 20 test vectors"):
        run_sim(rtl, limit=21)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda exe: None if exe == "verilator" else real_which(exe))
    assert "needs verilator on PATH" in _one_line_error(capsys, ["sim", str(rtl), "--simulator", "verilator"], "sim")


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_sim_runs_no_code_from_the_folder_and_runs_do_not_collide(tmp_path):
    ir = random_ir(4, features=2, ks=(2,), nodes=4, classes=2, group=2)
    out = tmp_path / "rtl"
    export_verilog(ir, out, pipeline=1, vectors=vectors_of(ir, 16))
    marker = tmp_path / "pwned"
    evil = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('evil')\n"
    for name in ("run_sim.py", "tb_difflut.py"):  # consistent with the manifest: only the hash is not enough
        (out / name).write_text(evil)
        _rehash(out, name)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.Popen([sys.executable, "-m", "difflut", "sim", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    for proc in runs:
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0 and "PASS: icarus" in output and "32 outputs checked" in output, output[-3000:]
    assert not marker.exists()
    assert not (out / "sim_build").exists()  # each run builds in its own temporary folder


# -- command line ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,message", [
    (["train", "mnist_fc_8k_dwn", "--train-limit", "-5"], "argument --train-limit: must be an integer >= 1"),
    (["train", "mnist_fc_8k_dwn", "--epochs", "0"], "argument --epochs: must be an integer >= 1"),
    (["train", "mnist_fc_8k_dwn", "--augment-shift", "-1"], "argument --augment-shift: must be an integer >= 0"),
    (["train", "mnist_fc_8k_dwn", "--lr", "nan"], "argument --lr: must be a number in (0.0, 1000.0]"),
    (["eval", "m.pt", "--flip-rate", "1.5"], "argument --flip-rate: must be a number in [0.0, 1.0]"),
    (["export", "m.pt", "--target", "ir", "-o", "x", "--vectors", "0"], "argument --vectors: must be an integer >= 1"),
    (["demo", "--sim-vectors", "-3"], "argument --sim-vectors: must be an integer >= 1"),
    (["train", "mnist_fc_8k_dwn", "--val-size", "-1"], "argument --val-size: must be an integer >= 0"),
    (["train", "mnist_fc_8k_dwn", "--gpus", "0"], "argument --gpus: must be an integer >= 1"),
    (["eval", "m.pt", "--limit", "0"], "argument --limit: must be an integer >= 1"),
    (["synth", "rtl", "--jobs", "0"], "argument --jobs: must be an integer >= 1"),
    (["train", "mnist_fc_8k_dwn", "--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
])
def test_numeric_options_are_range_checked_by_the_parser(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["train", "mnist_fc_8k_dwn", "--augment-shift", "100", "--train-limit", "20", "--val-size", "0"],
     "--augment-shift 100 is not smaller than the images ((28, 28))"),
    (["train", "mnist_fc_8k_dwn", "--train-limit", "100000"], "--train-limit 100000 is more than the 60000"),
    (["train", "mnist_fc_8k_dwn", "--device", "bogus"], "--device must be cpu, cuda or cuda:N, got 'bogus'"),
])
def test_options_are_checked_against_the_data_before_training(capsys, argv, message):
    assert message in _one_line_error(capsys, argv, argv[0])


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    from difflut.checkpoint import CheckpointError

    with pytest.raises(CheckpointError):
        main(["--debug", "eval", str(tmp_path / "bad.pt")])


def test_evaluate_refuses_labels_outside_the_classes_and_empty_batches_are_empty(small):
    model, _ = small
    images = load_mnist("test")[0][:8]
    for bad in (10, -1):
        labels = torch.zeros(8, dtype=torch.int64)
        labels[3] = bad
        with pytest.raises(ValueError, match=r"labels must be integers in 0..9"):
            evaluate(model, images, labels)
    with pytest.raises(ValueError, match=r"labels must be integers"):
        evaluate(model, images, torch.zeros(8))
    empty = images[:0]
    assert model.class_scores(empty).shape == (0, 10) and model.class_scores(empty).dtype == torch.int64
    assert model.predict(empty).shape == (0,)


def test_train_checks_its_output_and_shift_before_any_work(tmp_path):
    from difflut.files import OutputError
    from difflut.training import train

    model = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(20, 10))
    images, labels = load_mnist("train")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="is not a DiffLUT checkpoint"):
        train(model, images[:50], labels[:50], epochs=1, out=tmp_path / "notes.txt", progress=False)
    with pytest.raises(ValueError, match="augment_shift 28 must be smaller than the images"):
        train(model, images[:50], labels[:50], epochs=1, augment_shift=28, progress=False)
    assert not model.encoder.fitted  # nothing ran
    assert (tmp_path / "notes.txt").read_text() == "mine"


# -- property tests ------------------------------------------------------------------------------
_FILES = ("vectors.json", "export.json", "params.json", "difflut.v")
_corruption = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from(_FILES), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.sampled_from(_FILES), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("delete"), st.sampled_from(_FILES), st.just(0.0), st.just(0)),
    st.tuples(st.just("row"), st.just("vectors.json"), st.floats(0, 1),
              st.sampled_from([256, -5, 8, -9, 2**70, 0.5, True, None, "1", [], 7, -8])),
    st.tuples(st.just("cut"), st.just("vectors.json"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("add"), st.sampled_from(("notes.txt", "sim_build")), st.just(0.0), st.just(0)),
)


def _corrupt(folder: Path, corruption) -> bool:
    """Apply one corruption; returns whether the manifest was made to agree (rehashed)."""
    kind, name, where, value = corruption
    path = folder / name
    if kind == "delete":
        path.unlink()
    elif kind == "add":
        (folder / name).write_text("user data")
    elif kind in ("flip", "truncate"):
        data = bytearray(path.read_bytes())
        i = min(int(where * len(data)), len(data) - 1)
        if kind == "flip":
            data[i] ^= value
        else:
            del data[i:]
        path.write_bytes(bytes(data))
    else:
        doc = _vectors_doc(folder)
        rows = doc["vectors"]
        i = min(int(where * len(rows)), len(rows) - 1)
        if kind == "cut":
            del rows[i:]
        else:
            key = ("codes", "scores", "class")[i % 3]
            if key == "class":
                rows[i]["class"] = value
            else:
                rows[i][key][i % len(rows[i][key])] = value
        _write_vectors(folder, doc)
        return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruptions=st.lists(_corruption, min_size=1, max_size=3))
def test_property_sim_verification_of_corrupted_folders(rtl, corruptions):
    """Random corruptions of an export folder (its vectors, manifest, params, Verilog): verify_folder
    raises SimError, or the folder still means exactly what was exported (same params and vectors) -- or,
    when the manifest was made to agree with an edited vectors file, exactly what that file says (its
    expectations are then checked against the design by the simulation, tests/test_sim.py)."""
    want_params = verify_folder(rtl)
    want = read_vectors(rtl / "vectors.json", want_params)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "f"
        shutil.copytree(rtl, folder)
        rehashed = False
        for c in corruptions:
            if not (folder / c[1]).exists() and c[0] != "add":
                continue
            try:
                rehashed |= _corrupt(folder, c)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
                pass  # the corruption broke the JSON the next one edits: keep what it did
        try:
            params = verify_folder(folder)
        except SimError:
            return
        assert params == want_params
        got = read_vectors(folder / "vectors.json", params, count=params["vectors"]["count"])
        if rehashed:
            rows = _vectors_doc(folder)["vectors"]
            want = ([r["codes"] for r in rows], [r["scores"] for r in rows], [r["class"] for r in rows])
            assert all(type(v) is int for r in rows for v in (*r["codes"], *r["scores"], r["class"]))
        else:
            want = (want.codes, want.scores, want.classes)
        assert got.codes.tolist() == np.asarray(want[0]).tolist() and got.scores.tolist() == \
            np.asarray(want[1]).tolist() and got.classes.tolist() == np.asarray(want[2]).tolist()


@pytest.fixture(scope="module")
def rendered():
    ir = random_ir(5)
    made, _ = verilog_files(ir, pipeline=1, vectors=vectors_of(ir, 10))
    return files.with_manifest(made, M)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruptions=st.lists(_corruption, min_size=0, max_size=3), user_file=st.booleans())
def test_property_replacing_a_corrupted_export(rendered, corruptions, user_file):
    """An export over a corrupted earlier export: either an OutputError with the folder untouched, or the
    new export with every file the manifest did not list (the user's) kept byte for byte."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        files.commit_folder(rendered, out, manifest=M)
        if user_file:
            (out / "mine.txt").write_bytes(b"mine")
        for c in corruptions:
            if not (out / c[1]).exists() and c[0] != "add":
                continue
            try:
                _corrupt(out, c)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
                pass
        before = _tree(out)
        try:
            listed = json.loads((out / M).read_bytes()).get("files", {})
        except Exception:  # noqa: BLE001 (whatever it is, it is not a manifest we can read)
            listed = {}
        try:
            files.commit_folder(rendered, out, manifest=M)
        except files.OutputError:
            assert _tree(out) == before
            return
        after = _tree(out)
        user = {k: v for k, v in before.items() if k.split("/")[0] not in listed and k != M}
        assert after == {**rendered, **user}
        for name, data in before.items():  # a file the old manifest listed was unchanged (or it was refused)
            if name in listed and name != M:
                assert hashlib.sha256(data).hexdigest() == listed[name]
        assert sorted(os.listdir(tmp)) == ["out"]
