"""Every registered backend == the IR evaluator (evaluate_ir), bit for bit; the backend interface.

The equivalence test is parametrised over the backend registry: a new backend fails here until it has a
runner below. Each runner executes a rendered folder against its test vectors (C: compile and run the
selftest; Verilog: cocotb + Icarus; IR: reload the JSON and evaluate it) and must also catch a flipped
truth-table bit.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from difflut.data import load_mnist
from difflut.files import commit_folder, with_manifest
from difflut.hw.backends import Backend, ExportError, Option, get_backend, list_backends, register_backend
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.export import build_ir
from difflut.hw.ir import LUTLayer, NetlistIR, load_ir
from difflut.hw.vectors import TestVectors
from difflut.models import get_model


def run_ir(backend, folder, ir, vectors):
    """Reload the JSON and evaluate it: True when it reproduces every expected score and class."""
    scores, classes = evaluate_ir(load_ir(folder / "net.ir.json"), vectors.codes)
    return np.array_equal(scores, vectors.scores) and np.array_equal(classes, vectors.classes)


def run_c(backend, folder, ir, vectors):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    try:
        return backend.check(folder, name="net", cc=cc).endswith("PASS")
    except ExportError as e:
        assert "the C selftest fails" in str(e)
        return False


def run_verilog(backend, folder, ir, vectors):
    pytest.importorskip("amaranth")
    pytest.importorskip("cocotb_tools.runner")
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog (iverilog) is not installed")
    from difflut.hw.sim import run_sim

    result = run_sim(folder, simulator="icarus")
    assert result.checked > 0
    return result.passed


RUNNERS = {"ir": run_ir, "c": run_c, "verilog": run_verilog}
OPTIONS = {"verilog": {"pipeline": "layers"}}


@pytest.fixture(scope="module")
def small():
    """A small lowered and optimised MNIST network (the passes drop unread encoder bits) and 64 test vectors."""
    train_x, _ = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(24, 10), mapping="random", encoder_bits=3)
    model.fit_encoder(train_x[:200]).eval()
    ir = build_ir(model)
    codes = load_mnist("test")[0][:64].numpy()
    return ir, TestVectors.for_ir(ir, codes)


def flipped(ir: NetlistIR, vectors: TestVectors) -> NetlistIR:
    """``ir`` with one truth-table bit of a class node flipped, so that its scores differ on ``vectors``."""
    layer, base = ir.layers[-1], ir.layer_bases[-1]
    for wire in ir.class_wires.ravel():
        for address in range(1 << layer.k):
            tables = layer.tables.copy()
            tables[int(wire) - base, address] ^= True
            bad = NetlistIR(ir.input_shape, ir.encoder, ir.layers[:-1] + (LUTLayer(layer.name, layer.inputs, tables),),
                            ir.class_wires, ir.metadata)
            if not np.array_equal(evaluate_ir(bad, vectors.codes)[0], vectors.scores):
                return bad
    raise AssertionError("no flipped bit changes the scores")


@pytest.mark.parametrize("target", list_backends())
def test_every_backend_equals_evaluate_ir(target, small, tmp_path):
    runner = RUNNERS.get(target)
    assert runner is not None, f"backend {target!r} has no equivalence runner in tests/test_backends.py: add one"
    ir, vectors = small
    backend = get_backend(target)
    options = backend.validate(OPTIONS.get(target, {}))
    for label, design, expect in (("good", ir, True), ("flipped", flipped(ir, vectors), False)):
        folder = tmp_path / label
        commit_folder(with_manifest(backend.render(design, vectors, name="net", **options), "export.json"), folder,
                      manifest="export.json")
        assert runner(backend, folder, ir, vectors) is expect, label


def test_a_backend_declares_and_validates_its_options():
    verilog = get_backend("verilog")
    assert verilog.validate({}) == {"pipeline": "none", "lut_style": "behavioral"}
    assert verilog.validate({"pipeline": 2})["pipeline"] == 2
    with pytest.raises(ExportError, match=r"option 'cc' \(--cc\) does not apply to target 'verilog'"):
        verilog.validate({"cc": "gcc"})
    with pytest.raises(ExportError, match="unknown export target 'vhdl'; choose one of c, ir, verilog"):
        get_backend("vhdl")


def test_the_verilog_backend_offers_the_lut_styles_of_rtl():
    pytest.importorskip("amaranth")
    from difflut.hw.rtl.lut_layer import LUT_STYLES

    (style,) = [o for o in get_backend("verilog").options if o.name == "lut_style"]
    assert style.choices == LUT_STYLES


def test_a_new_backend_registers_and_reaches_the_cli(monkeypatch, small):
    from difflut.cli import build_parser
    from difflut.hw.backends import BACKENDS

    monkeypatch.setattr(BACKENDS, "_classes", dict(BACKENDS._classes))

    @register_backend("scores")
    class ScoresBackend(Backend):
        description = "the expected scores as text"
        options = (Option("sep", ",", "separator", choices=(",", ";")),)

        def render(self, ir, vectors, *, name, sep=","):
            return {f"{name}.txt": "\n".join(sep.join(map(str, row)) for row in vectors.scores.tolist()).encode()}

    assert "scores" in list_backends()
    args = build_parser().parse_args(["export", "m.pt", "--target", "scores", "-o", "x", "--sep", ";"])
    assert (args.target, args.sep) == ("scores", ";")
    ir, vectors = small
    files = get_backend("scores").render(ir, vectors, name="n", **get_backend("scores").validate({"sep": ";"}))
    assert files["n.txt"].split(b"\n")[0] == ";".join(map(str, vectors.scores[0])).encode()


def test_test_vectors_are_checked_once_against_the_ir(small):
    ir, vectors = small
    with pytest.raises(ValueError, match=r"expected scores \(64, 10\)"):
        TestVectors.for_ir(ir, vectors.codes, vectors.scores[:, :3], vectors.classes)
    with pytest.raises(ValueError, match="out of range"):
        TestVectors.for_ir(ir, vectors.codes + 1000)
    with pytest.raises(TypeError):
        TestVectors(vectors.codes.astype(float), vectors.scores, vectors.classes)
    again = TestVectors.of(ir, {"codes": vectors.codes.reshape(-1, 28, 28)})
    assert np.array_equal(again.scores, vectors.scores) and len(again) == 64
