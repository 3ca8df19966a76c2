"""The Verilog generator (difflut.hw.verilog, difflut.hw.rtl): structure, options, determinism.

Bit-exactness against the IR evaluator is checked by simulation in tests/test_sim.py; the random
IRs and the reference come from tests/irtools.py.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("amaranth")

from difflut.hw.encoder_form import EncoderHardwareForm  # noqa: E402
from difflut.hw.evaluate import evaluate_ir  # noqa: E402
from difflut.hw.export import ExportError  # noqa: E402
from difflut.hw.ir import LUTLayer, NetlistIR  # noqa: E402
from difflut.hw.rtl.pipeline import PipelinePlan, popcount_depth  # noqa: E402
from difflut.hw.rtl.tables import lut6_init  # noqa: E402
from difflut.hw.truth_tables import row_to_int as table_to_int  # noqa: E402
from difflut.hw.verilog import export_verilog, generate  # noqa: E402
from difflut.input_format import InputFormat  # noqa: E402
from irtools import random_codes, vectors_of  # noqa: E402
from irtools import reference_eval as reference  # noqa: E402
from irtools import rtl_ir as random_ir  # noqa: E402


@pytest.mark.parametrize("seed", range(4))
def test_reference_agrees_with_evaluate_ir(seed):
    ir = random_ir(seed)
    codes = random_codes(ir, 500)
    scores, classes = reference(ir, codes)
    got_scores, got_classes = evaluate_ir(ir, codes)
    assert np.array_equal(scores, got_scores) and np.array_equal(classes, got_classes)


def test_tables_and_lut6_init():
    row = np.array([0, 1, 1, 0], dtype=bool)  # XOR of I0, I1
    assert table_to_int(row) == 0b0110
    init = lut6_init(row)
    for a in range(64):
        assert (init >> a) & 1 == row[a & 3]  # independent of I2..I5
    with pytest.raises(ValueError):
        lut6_init(np.zeros(128, dtype=bool))


@pytest.mark.parametrize("width", [1, 2, 3, 4, 6, 7, 200, 800])
def test_popcount_depth_is_logarithmic(width):
    depth = popcount_depth(width)  # compressor levels: at most one more than an adder tree's
    assert depth <= (0 if width == 1 else 2 + int(np.ceil(np.log2(np.ceil(width / 3)))))
    assert (depth == 0) == (width == 1)


def test_pipeline_plan_and_latency():
    assert PipelinePlan.parse("none").latency(3, 200) == 0
    assert PipelinePlan.parse("layers").latency(3, 200) == 4
    depth = popcount_depth(200)  # 1 + ceil(log2(67)) = 8
    assert depth == 8
    assert PipelinePlan.parse(1).latency(3, 200) == 4 + 8
    assert PipelinePlan.parse("3").adder_cuts(depth) == [3, 6, 8]
    assert PipelinePlan.parse(8).latency(2, 200) == 3 + 1
    for bad in ("fast", 0, -1, True, 1.5):
        with pytest.raises(ValueError):
            PipelinePlan.parse(bad)


def test_generate_structure_and_params():
    ir = random_ir(0)
    design = generate(ir, pipeline="layers")
    text, params = design.verilog, design.params
    modules = re.findall(r"^module (\S+) ?\(", text, flags=re.M)
    assert "difflut" in modules and "difflut__core" in modules
    assert "difflut__core__encoder" in modules and "difflut__core__argmax" in modules
    for i in range(len(ir.layers)):
        assert f"difflut__core__layer{i}" in modules
    for c in range(ir.num_classes):
        assert f"difflut__core__popcount{c}" in modules
    assert "\\" not in "".join(modules)
    assert params["latency"] == 1 + len(ir.layers) and params["clocked"]
    widths = {p["name"]: p["width"] for p in params["ports"]}
    fmt = ir.encoder.input_format
    assert widths["in_codes"] == ir.num_features * fmt.bits
    score_width = ir.class_wires.shape[1].bit_length()
    assert widths["out_scores"] == ir.num_classes * score_width
    assert widths["out_class"] == 2 and {"clk", "rst", "in_valid", "in_ready", "out_valid", "out_ready"} <= set(widths)
    comb = generate(ir, pipeline="none")
    assert comb.params["latency"] == 0 and not comb.params["clocked"]
    assert "posedge" not in comb.verilog


def test_xilinx_style_instantiates_one_lut6_per_node():
    ir = random_ir(1)
    design = generate(ir, lut_style="xilinx")
    assert design.verilog.count("LUT6 #(") == ir.num_luts
    assert design.params["sources"] == ["difflut.v", "LUT6.v"]
    # the INIT of node 0 of the k=2 layer repeats its 4-entry table
    layer = ir.layers[1]
    init = lut6_init(layer.tables[0])
    block = design.verilog.split("module difflut__core__layer1 (")[1].split("endmodule")[0]
    assert f"64'h{init:016x}" in block
    wide = NetlistIR(ir.input_shape, ir.encoder,
                     [LUTLayer("wide", np.zeros((2, 7), dtype=np.int64), np.zeros((2, 128), dtype=bool))],
                     np.array([[ir.num_encoder_wires]]))
    with pytest.raises(ValueError, match="k <= 6"):
        generate(wide, lut_style="xilinx")
    generate(wide)  # behavioural handles any k


def test_options_are_checked():
    ir = random_ir(0)
    with pytest.raises(ValueError, match="lut_style"):
        generate(ir, lut_style="altera")
    with pytest.raises(ValueError, match="pipeline"):
        generate(ir, pipeline="everything")
    with pytest.raises(ValueError, match="identifier"):
        generate(ir, name="bad name")
    with pytest.raises(TypeError):
        generate(ir.to_dict())


def _folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_export_is_byte_identical_and_atomic(tmp_path):
    ir = random_ir(2)
    vectors = vectors_of(ir, 50)
    a = tmp_path / "a"
    export_verilog(ir, a, pipeline=2, lut_style="xilinx", vectors=vectors)
    first = _folder_bytes(a)
    assert set(first) == {"README.md", "params.json", "difflut.v", "LUT6.v", "vectors.json", "tb_difflut.py",
                          "run_sim.py", "export.json"}
    export_verilog(ir, a, pipeline=2, lut_style="xilinx", vectors=vectors)  # replaces in place
    assert _folder_bytes(a) == first
    export_verilog(ir, tmp_path / "b", pipeline=2, lut_style="xilinx", vectors=vectors)
    assert _folder_bytes(tmp_path / "b") == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folders left
    params = json.loads(first["params.json"])
    assert params["vectors"] == {"count": 50, "file": "vectors.json"}
    assert f"latency **{params['latency']}**" in first["README.md"].decode()


def test_failed_export_leaves_the_old_folder(tmp_path):
    ir = random_ir(2)
    out = tmp_path / "out"
    export_verilog(ir, out)
    before = _folder_bytes(out)
    bad = vectors_of(ir, 5)
    bad["scores"] = bad["scores"][:, :1]
    with pytest.raises(ValueError):
        export_verilog(ir, out, pipeline="layers", vectors=bad)
    assert _folder_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    mine = tmp_path / "mine"  # a folder that is not an export is never replaced
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    with pytest.raises(ExportError, match="not empty"):
        export_verilog(ir, mine)
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]


def test_vectors_are_validated_and_completed(tmp_path):
    ir = random_ir(4)
    fmt = ir.encoder.input_format
    with pytest.raises(ValueError, match="out of range"):
        export_verilog(ir, tmp_path / "x", vectors={"codes": np.full((2, ir.num_features), fmt.max_code + 1)})
    with pytest.raises(TypeError):
        export_verilog(ir, tmp_path / "x", vectors={"codes": np.zeros((2, ir.num_features))})
    codes = random_codes(ir, 20)
    export_verilog(ir, tmp_path / "y", vectors={"codes": codes})  # expectations from evaluate_ir
    rows = json.loads((tmp_path / "y" / "vectors.json").read_text())["vectors"]
    scores, classes = reference(ir, codes)
    assert [r["scores"] for r in rows] == scores.tolist() and [r["class"] for r in rows] == classes.tolist()


@pytest.mark.slow
def test_mnist_size_export(tmp_path):
    """A mnist_fc_8k-size IR exports (its time is measured by benchmarks/bench_verilog.py, not here)."""
    rng = np.random.default_rng(0)
    thresholds = np.sort(rng.integers(1, 256, size=(784, 4)), axis=1)
    encoder = EncoderHardwareForm.from_tables(InputFormat(8), "thermometer",
                                              np.arange(256)[None, None, :] >= thresholds[:, :, None])
    l0 = LUTLayer("l0", rng.integers(0, 3136, size=(6000, 6)), rng.random((6000, 64)) < 0.5)
    l1 = LUTLayer("l1", 3136 + rng.integers(0, 6000, size=(2000, 6)), rng.random((2000, 64)) < 0.5)
    ir = NetlistIR((28, 28), encoder, [l0, l1], (9136 + np.arange(2000)).reshape(10, 200))
    params = export_verilog(ir, tmp_path / "big", pipeline="layers", vectors=vectors_of(ir, 10))
    assert params["vectors"]["count"] == 10 and (tmp_path / "big" / params["verilog"]).stat().st_size > 1_000_000
