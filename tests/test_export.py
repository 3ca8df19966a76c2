"""End to end: PyTorch eval == IR evaluator == compiled C on real MNIST images; atomic, deterministic export."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

import difflut.files as files_mod
from difflut.cli import main
from difflut.data import load_mnist
from difflut.hw import export as export_mod
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.export import ExportError, export
from difflut.hw.ir import LUTLayer, NetlistIR, load_ir
from difflut.hw.lower import LoweringError, lower
from difflut.models import get_model
from difflut.training import train

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


@pytest.fixture(scope="module")
def mnist_test():
    images, labels = load_mnist("test")
    return images, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small mnist_fc_8k_dwn (widths 200, 100) trained 1 epoch on 3,000 images, and its checkpoint."""
    x, y = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(200, 100))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    train(model, x[:3000], y[:3000], x[3000:3500], y[3000:3500], epochs=1, batch_size=128, progress=False,
          out=path, metadata={"dataset": "mnist"}, seed=0)
    return model.eval(), path


def compile_and_run(folder, name):
    build = subprocess.run([CC, *CFLAGS, f"{name}_selftest.c", "-o", "st"], cwd=folder, capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(folder / "st")], cwd=folder, capture_output=True, text=True)
    return run.returncode, run.stdout


def _three_way(model, path, images, tmp_path):
    codes = images.numpy()
    torch_scores = model.class_scores(images).numpy()
    torch_pred = model.predict(images).numpy()
    ir = lower(model)
    ir_scores, ir_pred = evaluate_ir(ir, codes)
    np.testing.assert_array_equal(ir_scores, torch_scores)
    np.testing.assert_array_equal(ir_pred, torch_pred)
    # the C export (optimised IR) with these images as its embedded vectors: PyTorch's expected values
    manifest = export(path, "c", tmp_path / "c", vector_codes=codes, name="tiny")
    assert manifest["test_vectors"] == len(codes)
    rc, out = compile_and_run(tmp_path / "c", "tiny")
    assert rc == 0 and f"{len(codes)} vectors" in out and "PASS" in out, out
    return torch_pred


@needs_cc
def test_pytorch_ir_c_agree_on_2000_mnist_images(trained, mnist_test, tmp_path):
    model, path = trained
    images, labels = mnist_test
    pred = _three_way(model, path, images[:2000], tmp_path)
    assert (torch.from_numpy(pred) == labels[:2000]).float().mean() > 0.5  # it did learn something


@pytest.mark.slow
@needs_cc
def test_pytorch_ir_c_agree_on_all_10000_mnist_images(trained, mnist_test, tmp_path):
    model, path = trained
    _three_way(model, path, mnist_test[0], tmp_path)


def test_ir_target_and_cli(trained, mnist_test, tmp_path, capsys):
    model, path = trained
    out = tmp_path / "ir"
    assert main(["export", str(path), "--target", "ir", "-o", str(out), "--vectors", "32"]) == 0
    assert "exported mnist_fc_8k_dwn" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "mnist_fc_8k_dwn.ir.json"]
    ir = load_ir(out / "mnist_fc_8k_dwn.ir.json")
    images = mnist_test[0][:500]
    np.testing.assert_array_equal(evaluate_ir(ir, images.numpy())[0], model.class_scores(images).numpy())
    assert ir.metadata["checkpoint_sha256"]


@needs_cc
def test_cli_c_target_with_check(trained, tmp_path, capsys):
    _, path = trained
    out = tmp_path / "c"
    assert main(["export", str(path), "--target", "c", "-o", str(out), "--vectors", "100", "--check"]) == 0
    text = capsys.readouterr().out
    assert "100 vectors" in text and "PASS" in text
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "mnist_fc_8k_dwn.h",
                                                     "mnist_fc_8k_dwn_selftest.c"]
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["selftest"].endswith("PASS") and "100 vectors" in manifest["selftest"]


def test_byte_identical_re_export(trained, tmp_path):
    _, path = trained
    for target in ("c", "ir"):
        export(path, target, tmp_path / f"{target}1", vectors=64)
        first = {p.name: p.read_bytes() for p in (tmp_path / f"{target}1").iterdir()}
        export(path, target, tmp_path / f"{target}2", vectors=64)
        export(path, target, tmp_path / f"{target}1", vectors=64)  # replaces the previous export
        for again in (f"{target}1", f"{target}2"):
            assert {p.name: p.read_bytes() for p in (tmp_path / again).iterdir()} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1", "c2", "ir1", "ir2"]  # no temp folders left


def test_errors_leave_nothing(trained, tmp_path, monkeypatch):
    model, path = trained
    # unwritable output path: its parent is a file
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="cannot write"):
        export(path, "ir", tmp_path / "file" / "out", vectors=8)
    # a non-empty folder that is not an export is never replaced
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export(path, "c", tmp_path / "busy", vectors=8)
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    with pytest.raises(ExportError, match="target"):
        export(path, "verilog-ish", tmp_path / "x", vectors=8)
    # training mode
    model.train()
    try:
        with pytest.raises(ExportError, match="training mode"):
            export(model, "c", tmp_path / "t", vectors=8)
    finally:
        model.eval()
    # unfitted encoder
    fresh = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(20, 10)).eval()
    with pytest.raises(LoweringError, match="not fitted"):
        export(fresh, "ir", tmp_path / "u", vectors=8)
    # a failure while committing leaves the previous export untouched
    export(path, "ir", tmp_path / "prev", vectors=8)
    before = {p.name: p.read_bytes() for p in (tmp_path / "prev").iterdir()}

    real_replace = files_mod.os.replace
    for fail_at in (1, 2):  # 1: moving the old export aside; 2: renaming the new one into place
        calls = []

        def flaky(src, dst, fail_at=fail_at):
            calls.append(src)
            if len(calls) == fail_at:
                raise RuntimeError("disk full")
            return real_replace(src, dst)

        monkeypatch.setattr(files_mod.os, "replace", flaky)
        with pytest.raises(RuntimeError, match="disk full"):
            export(path, "ir", tmp_path / "prev", vectors=8)
        monkeypatch.setattr(files_mod.os, "replace", real_replace)
        assert len(calls) == fail_at + (fail_at == 2)  # after a failed second rename the old one is put back
        assert {p.name: p.read_bytes() for p in (tmp_path / "prev").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "file", "prev"]
    assert main(["export", str(path), "--target", "ir", "-o", str(tmp_path / "file" / "o")]) == 2


@pytest.mark.parametrize("target,options,message", [
    ("c", {"pipeline": "layers"}, "option 'pipeline' (--pipeline) does not apply to target 'c' (its options: cc)"),
    ("ir", {"cc": "gcc"}, "option 'cc' (--cc) does not apply to target 'ir' (it takes no options)"),
    ("verilog", {"check": True}, "target 'verilog' has no check (--check applies to: c)"),
    ("verilog", {"lut_style": "altera"}, "lut_style must be one of behavioral, xilinx"),
    ("verilog", {"pipeline": "everything"}, "bad pipeline 'everything'"),
])
def test_an_option_the_target_does_not_take_is_an_error(trained, tmp_path, capsys, target, options, message):
    _, path = trained
    with pytest.raises(ExportError) as info:
        export(path, target, tmp_path / "x", vectors=8, **options)
    assert message in str(info.value)
    argv = ["export", str(path), "--target", target, "-o", str(tmp_path / "y")]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [value])
    if options != {"lut_style": "altera"}:  # (argparse itself refuses a value outside --lut-style's choices)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("difflut export: error: ") and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_export_refuses_an_ir_that_disagrees_with_pytorch(trained, tmp_path, monkeypatch):
    """The export's PyTorch == IR check can fail: a corrupted truth table or threshold is refused."""
    model, path = trained
    ir = export_mod.build_ir(model)
    codes = load_mnist("test")[0][:256].numpy()
    ref = evaluate_ir(ir, codes)[0]
    # a flipped table bit of a class node that the images address
    layer = ir.layers[-1]
    base = ir.layer_bases[-1]
    bad_ir = None
    for w in ir.class_wires.ravel():
        node = int(w) - base
        if node < 0:
            continue
        for address in range(1 << layer.k):
            tables = layer.tables.copy()
            tables[node, address] ^= True
            cand = NetlistIR(ir.input_shape, ir.encoder, ir.layers[:-1] + (LUTLayer(layer.name, layer.inputs, tables),),
                             ir.class_wires, ir.metadata)
            if not np.array_equal(evaluate_ir(cand, codes)[0], ref):
                bad_ir = cand
                break
        if bad_ir is not None:
            break
    assert bad_ir is not None
    monkeypatch.setattr(export_mod, "build_ir", lambda *a, **k: bad_ir)
    with pytest.raises(ExportError, match="disagrees"):
        export(path, "c", tmp_path / "bad", vector_codes=codes)
    # a moved encoder threshold
    from difflut.hw.encoder_form import EncoderHardwareForm
    enc = ir.encoder
    fmt = enc.input_format
    tables = enc.tables.copy()
    numeric = np.arange(fmt.min_code, fmt.max_code + 1)
    thresholds = enc.thresholds.copy()
    for f, b in np.argwhere(enc.is_threshold & (enc.thresholds > 0) & (enc.thresholds < 200)):
        tables[f, b, numeric] = numeric >= thresholds[f, b] + 50
    bad_ir = NetlistIR(ir.input_shape, EncoderHardwareForm.from_tables(fmt, enc.encoder, tables), ir.layers,
                       ir.class_wires, ir.metadata)
    assert not np.array_equal(evaluate_ir(bad_ir, codes)[0], ref)
    monkeypatch.setattr(export_mod, "build_ir", lambda *a, **k: bad_ir)
    with pytest.raises(ExportError, match="disagrees"):
        export(path, "ir", tmp_path / "bad", vector_codes=codes)
    assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_verilog_target_and_sim_cli_on_a_trained_model(trained, tmp_path, capsys):
    """difflut export --target verilog, then difflut sim: Icarus == PyTorch eval on 1,000 MNIST test images."""
    _, path = trained
    out = tmp_path / "rtl"
    assert main(["export", str(path), "--target", "verilog", "--pipeline", "layers", "--vectors", "1000",
                 "-o", str(out)]) == 0
    assert "1000 test vectors, IR == PyTorch eval on all of them" in capsys.readouterr().out
    assert {"export.json", "params.json", "vectors.json", "tb_difflut.py", "run_sim.py",
            "mnist_fc_8k_dwn.v"} <= {p.name for p in out.iterdir()}
    assert main(["sim", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "PASS: icarus" in summary and "0 mismatches" in summary and "2000 outputs checked" in summary

    # corrupted truth tables in the Verilog (every 6-input table inverted): the simulation must fail
    verilog = out / "mnist_fc_8k_dwn.v"
    text, count = re.subn(r"64'h([0-9a-f]{16})", lambda m: "64'h%016x" % (~int(m.group(1), 16) & (2**64 - 1)),
                          verilog.read_text())
    assert count > 100
    verilog.write_text(text)
    assert main(["sim", str(out), "--vectors", "300"]) == 2  # the manifest's hash catches it before simulating
    assert "mnist_fc_8k_dwn.v: its SHA-256 differs from the one in export.json" in capsys.readouterr().err
    manifest = json.loads((out / "export.json").read_text())  # an exporter that wrote wrong tables: the
    manifest["files"][verilog.name] = hashlib.sha256(verilog.read_bytes()).hexdigest()  # simulation catches it
    (out / "export.json").write_text(json.dumps(manifest))
    assert main(["sim", str(out), "--vectors", "300"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("verilator") is None and shutil.which("iverilog") is None,
                    reason="needs Verilator or Icarus Verilog")
def test_full_mnist_test_set_through_the_verilog_of_a_trained_8k_model(tmp_path):
    """All 10,000 MNIST test images through the simulated Verilog of a trained mnist_fc_8k_dwn (Verilator if
    installed, else Icarus: about 20 minutes), against the PyTorch eval forward."""
    from difflut.hw.sim import run_sim

    x, y = load_mnist("train")
    test_x, _ = load_mnist("test")
    model = get_model("mnist_fc_8k_dwn", seed=0)
    train(model, x[:10000], y[:10000], x[-2000:], y[-2000:], epochs=1, batch_size=128, progress=False, seed=0)
    manifest = export(model.eval(), "verilog", tmp_path / "rtl", vector_codes=test_x.numpy(), pipeline="layers")
    assert manifest["test_vectors"] == 10000
    simulator = "verilator" if shutil.which("verilator") else "icarus"
    result = run_sim(tmp_path / "rtl", simulator=simulator)
    assert result.passed and result.mismatches == 0 and result.checked >= 10000, result.summary()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on the GPU machine)")
def test_on_a_gpu_machine_the_cuda_forward_is_checked_too(trained, tmp_path):
    model, _ = trained
    manifest = export(model, "ir", tmp_path / "ir", vectors=500)
    assert manifest["cuda_forward"].endswith("== CPU eval forward on 500 test vectors")


def test_without_cuda_the_manifest_says_so(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert export(trained[0], "ir", tmp_path / "ir", vectors=20)["cuda_forward"] is None
