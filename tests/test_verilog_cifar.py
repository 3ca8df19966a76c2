"""CIFAR-size Verilog: layers wider than one Amaranth signal are split into parts (bit-exact in Icarus),
Verilator catches a flipped table bit, and the default cifar10_conv simulates in Verilator bit for bit
against PyTorch (slow; times in docs/verilog.md)."""

from __future__ import annotations

import functools
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("amaranth")
pytest.importorskip("cocotb_tools.runner")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from irtools import rtl_ir, vectors_of  # noqa: E402

from difflut.hw.export import export  # noqa: E402
from difflut.hw.ir import LUTLayer, NetlistIR  # noqa: E402
from difflut.hw.rtl import core  # noqa: E402
from difflut.hw.sim import run_sim  # noqa: E402
from difflut.hw import verilog  # noqa: E402
from difflut.hw.verilog import export_verilog  # noqa: E402
from difflut.models import get_model  # noqa: E402

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="Verilator is not on PATH (bash scripts/install_verilator.sh)")
needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")


def test_layer_parts_cover_the_layer_within_the_width_limit(monkeypatch):
    monkeypatch.setattr(core, "MAX_SIGNAL_WIDTH", 10)
    rng = np.random.default_rng(0)
    inputs = rng.integers(-2, 200, (37, 3))  # -2, -1: the IR constants
    parts = core.layer_parts(inputs)
    assert [p.start for p in parts] == [0] + [p.stop for p in parts[:-1]] and parts[-1].stop == 37
    assert all(0 < p.stop - p.start <= 10 for p in parts)
    assert all(np.unique(inputs[p][inputs[p] >= 0]).size <= 10 for p in parts)
    distinct = np.arange(12).reshape(4, 3)  # 4 nodes (fit) reading 12 wires (do not)
    assert core.layer_parts(distinct) == [slice(0, 2), slice(2, 4)]
    assert core.layer_parts(distinct % 10) == [slice(0, 4)]


@needs_icarus
@pytest.mark.parametrize("pipeline", ["none", "layers"])
def test_layers_and_cuts_wider_than_a_signal_are_split_and_bit_exact(tmp_path, monkeypatch, pipeline):
    monkeypatch.setattr(core, "MAX_SIGNAL_WIDTH", 8)  # 12-node layers and wider cuts become several parts
    ir = rtl_ir(21, nodes=12)
    export_verilog(ir, tmp_path / "rtl", pipeline=pipeline, vectors=vectors_of(ir, 300))
    text = (tmp_path / "rtl" / "difflut.v").read_text()
    assert "module difflut__core__layer0_part1" in text and "module difflut__core__layer0 " not in text
    assert ("cut_layer0_part1" in text) == (pipeline == "layers")
    result = run_sim(tmp_path / "rtl")
    assert result.passed and result.mismatches == 0, result.summary()


def test_long_lines_are_wrapped():
    line = "  assign x = { " + " , ".join(f"\\$n{i}" for i in range(300)) + " };"
    wrapped = verilog._wrap_long_lines("module m;\n" + line + "\nendmodule", limit=100, per_line=64)
    assert wrapped.split() == ("module m;\n" + line + "\nendmodule").split()  # only whitespace differs
    assert len(wrapped.splitlines()) == 2 + 5 and max(map(len, wrapped.splitlines())) < 64 * 10
    for kept in ('  (* src = "a, b" *) ' + line, line + " // a, b"):
        assert verilog._wrap_long_lines(kept, limit=100) == kept  # strings and comments: as they are


@needs_icarus
def test_wrapped_design_is_bit_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(verilog, "_wrap_long_lines", functools.partial(verilog._wrap_long_lines, limit=40,
                                                                       per_line=2))
    ir = rtl_ir(22)
    export_verilog(ir, tmp_path / "rtl", pipeline=1, vectors=vectors_of(ir, 300))
    lines = (tmp_path / "rtl" / "difflut.v").read_text().splitlines()
    assert sum(line.startswith("    ") and line.rstrip().endswith(",") for line in lines) > 10
    result = run_sim(tmp_path / "rtl")
    assert result.passed and result.mismatches == 0, result.summary()


def flipped_table(ir: NetlistIR, node: int) -> NetlistIR:
    """``ir`` with every entry of the last layer's node ``node`` inverted."""
    last = ir.layers[-1]
    tables = last.tables.copy()
    tables[node] = ~tables[node]
    return NetlistIR(ir.input_shape, ir.encoder, ir.layers[:-1] + (LUTLayer(last.name, last.inputs, tables),),
                     ir.class_wires)


@needs_verilator
def test_verilator_catches_a_flipped_table(tmp_path):
    """The Verilator simulation of a design whose LUT table differs from the expectations' fails."""
    ir = rtl_ir(12)
    vectors = vectors_of(ir, 200)
    node = int(np.flatnonzero(np.isin(np.arange(ir.layer_bases[-1], ir.num_wires), ir.class_wires))[0])
    export_verilog(flipped_table(ir, node), tmp_path / "rtl", pipeline=1, vectors=vectors)
    result = run_sim(tmp_path / "rtl", simulator="verilator")
    assert not result.passed and result.mismatches == 400, result.summary()  # every vector, both tests


def cifar_model(seed: int = 0, **overrides):
    """An untrained cifar10_conv, encoder fitted on synthetic uint8 images; (eval model, 100 test images)."""
    torch.manual_seed(seed)
    model = get_model("cifar10_conv", seed=seed, **overrides)
    images = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8)
    return model.fit_encoder(images).eval(), images[:100].numpy()


@pytest.mark.slow
@needs_verilator
def test_default_cifar10_conv_verilog_simulates_in_verilator(tmp_path):
    """The default cifar10_conv (356k LUTs): `difflut export --target verilog` with 100 images, then the
    Verilator simulation reproduces PyTorch's class scores and predicted classes bit for bit."""
    model, images = cifar_model()
    start = time.perf_counter()
    manifest = export(model, "verilog", tmp_path / "rtl", vector_codes=images)
    exported = time.perf_counter() - start
    assert manifest["num_luts"] > 300_000 and manifest["test_vectors"] == 100
    result = run_sim(tmp_path / "rtl", simulator="verilator")
    print(f"export {exported:.0f} s; {result.summary()}")
    assert result.passed and result.mismatches == 0, result.summary()
    assert result.checked == 100 and set(result.per_test) == {"combinational"}
