"""Simulation of exported Verilog with cocotb + Icarus: bit-exact against the IR evaluator (evaluate_ir).

Every design is a random IR with layers of every k in 1..6, constant inputs and class wires,
threshold and table encoder bits and (mostly) signed inputs; every run checks >= 1,000 vectors with
back-to-back and randomly stalled valid/ready traffic (or vector by vector when combinational).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("amaranth")
pytest.importorskip("cocotb_tools.runner")
if shutil.which("iverilog") is None:
    pytest.skip("Icarus Verilog (iverilog) is not installed", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from irtools import rtl_ir as random_ir  # noqa: E402
from irtools import vectors_of  # noqa: E402

from difflut.hw.evaluate import evaluate_ir  # noqa: E402
from difflut.hw.ir import LUTLayer, NetlistIR  # noqa: E402
from difflut.hw.sim import SimError, run_sim  # noqa: E402
from difflut.hw.verilog import export_verilog  # noqa: E402

N_VECTORS = 1000


def _assert_pass(result, n=N_VECTORS):
    assert result.passed, result.summary() + "\n" + json.dumps(result.per_test, indent=1)[:3000]
    assert result.mismatches == 0
    for name, r in result.per_test.items():
        assert r["checked"] == r["vectors"] == n, name


@pytest.mark.parametrize("pipeline,lut_style,signed", [
    ("none", "behavioral", True),
    ("none", "xilinx", False),
    ("layers", "behavioral", True),
    ("layers", "xilinx", True),
    (1, "behavioral", False),
    (2, "xilinx", True),
])
def test_bit_exact(tmp_path, pipeline, lut_style, signed):
    ir = random_ir(10 + len(str(pipeline)), signed=signed)
    export_verilog(ir, tmp_path / "rtl", pipeline=pipeline, lut_style=lut_style, vectors=vectors_of(ir, N_VECTORS))
    result = run_sim(tmp_path / "rtl")
    _assert_pass(result)
    params = json.loads((tmp_path / "rtl" / "params.json").read_text())
    expected_tests = {"combinational"} if pipeline == "none" else {"back_to_back", "random_stalls"}
    assert set(result.per_test) == expected_tests
    assert result.latency == params["latency"]
    if pipeline != "none":  # a result per clock once the pipe is full
        assert result.per_test["back_to_back"]["cycles"] == N_VECTORS + params["latency"]


def test_edge_shapes(tmp_path):
    """No LUT layers, a single wire per class, two classes, 1-bit unsigned input, many ties; one class;
    a deep net with a wide popcount cut every 3 levels; then the first folder again in the same process."""
    path_before = list(sys.path)
    base = random_ir(5, features=3, bits=1, signed=False, num_bits=1, ks=(), classes=2, group=1)
    export_verilog(base, tmp_path / "a", pipeline=1, vectors=vectors_of(base, 64))
    _assert_pass(run_sim(tmp_path / "a"), 64)
    single = random_ir(4, features=2, ks=(3,), classes=1, group=2)
    export_verilog(single, tmp_path / "c", pipeline="none", vectors=vectors_of(single, 32))
    _assert_pass(run_sim(tmp_path / "c"), 32)
    deep = random_ir(6, bits=3, ks=(6, 6, 2, 6), nodes=20, classes=3, group=40, signed=True)
    export_verilog(deep, tmp_path / "b", pipeline=3, lut_style="xilinx", vectors=vectors_of(deep, 300))
    _assert_pass(run_sim(tmp_path / "b"), 300)
    _assert_pass(run_sim(tmp_path / "a"), 64)  # again: the installed testbench on this folder's design
    assert sys.path == path_before


def _rehash(folder: Path, name: str) -> None:
    """Make the manifest agree with a changed file (an exporter that wrote it so): only the simulation
    can catch it then (run_sim refuses a file whose hash differs, see tests/test_hostile_input.py)."""
    manifest = json.loads((folder / "export.json").read_text())
    manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "export.json").write_text(json.dumps(manifest))


def _class_node(ir: NetlistIR) -> int:
    """A node of the last layer that appears exactly once in the class wires."""
    base = ir.layer_bases[-1]
    values, counts = np.unique(ir.class_wires, return_counts=True)
    return int(next(v for v, c in zip(values, counts) if c == 1 and v >= base)) - base


def test_corrupted_verilog_table_is_caught(tmp_path):
    ir = random_ir(7)
    out = tmp_path / "rtl"
    export_verilog(ir, out, pipeline="layers", lut_style="xilinx", vectors=vectors_of(ir, 200))
    node, last = _class_node(ir), len(ir.layers) - 1
    path = out / "difflut.v"
    text = path.read_text()
    head, rest = text.split(f"module difflut__core__layer{last} (")
    pattern = re.compile(r"\.INIT\(64'h([0-9a-f]{16})\)\n  \) lut%d \(" % node)
    init = pattern.search(rest).group(1)
    flipped = f"{int(init, 16) ^ (2**64 - 1):016x}"  # the node now outputs the complement
    rest = pattern.sub(f".INIT(64'h{flipped})\n  ) lut{node} (", rest, count=1)
    path.write_text(head + f"module difflut__core__layer{last} (" + rest)
    _rehash(out, "difflut.v")
    result = run_sim(out)
    assert not result.passed
    assert result.mismatches > 0


def test_corrupted_ir_table_is_caught(tmp_path):
    ir = random_ir(8)
    vectors = vectors_of(ir, 200)
    node = _class_node(ir)
    last = ir.layers[-1]
    tables = last.tables.copy()
    tables[node] = ~tables[node]
    bad = NetlistIR(ir.input_shape, ir.encoder, ir.layers[:-1] + (LUTLayer(last.name, last.inputs, tables),),
                    ir.class_wires)
    export_verilog(bad, tmp_path / "rtl", pipeline="none", vectors=vectors)
    result = run_sim(tmp_path / "rtl")
    assert not result.passed and result.mismatches == 200


def test_wrong_latency_in_params_is_caught(tmp_path):
    ir = random_ir(9)
    out = tmp_path / "rtl"
    export_verilog(ir, out, pipeline=2, vectors=vectors_of(ir, 30))
    params = json.loads((out / "params.json").read_text())
    params["latency"] += 1
    (out / "params.json").write_text(json.dumps(params))
    _rehash(out, "params.json")
    result = run_sim(out, limit=30)
    assert not result.passed
    assert any("latency" in " ".join(r["errors"]) or "clocks" in " ".join(r["errors"])
               for r in result.per_test.values())


def test_run_sim_with_vectors_given(tmp_path):
    ir = random_ir(11)
    out = tmp_path / "rtl"
    export_verilog(ir, out, pipeline="layers")  # no vectors in the folder
    codes = np.random.default_rng(3).integers(-8, 8, size=(40, ir.num_features))
    scores, classes = evaluate_ir(ir, codes)
    result = run_sim(out, vectors=(codes, scores, classes))
    _assert_pass(result, 40)
    wrong = classes.copy()
    wrong[5] = (wrong[5] + 1) % ir.num_classes
    with pytest.raises(SimError, match=r"vectors\[5\].class: expected"):  # not the first maximum of its scores
        run_sim(out, vectors=(codes, scores, wrong))
    i, c = next((i, c) for i in range(len(codes)) for c in range(ir.num_classes)
                if c != classes[i] and scores[i, c] > 0)
    lower = scores.copy()
    lower[i, c] -= 1  # a wrong but consistent expectation: only the simulation can catch it
    assert run_sim(out, vectors=(codes, lower, classes)).mismatches == 2  # seen by both tests


@pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator is not installed")
def test_verilator(tmp_path):
    ir = random_ir(12)
    export_verilog(ir, tmp_path / "rtl", pipeline=1, lut_style="xilinx", vectors=vectors_of(ir, N_VECTORS))
    _assert_pass(run_sim(tmp_path / "rtl", simulator="verilator"))
