"""Verilog backend: a :class:`~difflut.hw.ir.NetlistIR` -> Amaranth components -> Verilog.

``generate(ir, ...)`` builds the design (:mod:`difflut.hw.rtl`) and returns its Verilog text and its
parameters; ``export_verilog(ir, out_dir, ...)`` writes a self-standing folder (atomically: a
temporary folder renamed into place):

* ``<name>.v``: every module (encoder, each LUT layer, popcounts, argmax, the fixed-latency core and
  the valid/ready top ``<name>``);
* ``LUT6.v``: a behavioural model of the Xilinx ``LUT6`` primitive for simulation (``lut_style="xilinx"``
  only; leave it out of synthesis for Xilinx parts);
* ``params.json``: ports, input/score packing, latency, options;
* ``vectors.json``: test vectors (raw input codes and expected scores and classes), when given;
* ``tb_difflut.py`` (cocotb testbench) and ``run_sim.py`` (its runner), ``README.md``;
* ``export.json`` (``export_verilog`` only; :func:`difflut.hw.export.export` writes a fuller one): the
  SHA-256 of every other file.

The testbench files come from the repository's ``sim/`` (a source checkout) or, in an installed wheel,
from ``share/difflut/sim`` under ``sys.prefix`` (see :func:`testbench_dir`).

The backend reads only the IR: same IR and options in, byte-identical folder out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.lib.wiring import In

from ..files import OutputError, commit_folder, prepare_output_folder, with_manifest
from .backends.base import MANIFEST, ExportError
from .ir import NetlistIR
from .names import check_name
from .sim import PARAMS_FORMAT, PARAMS_VERSION, SIM_FILES, testbench_dir
from .vectors import TestVectors
from .rtl.core import Core
from .rtl.lut_layer import LUT_STYLES
from .rtl.pipeline import PipelinePlan, popcount_depth
from .rtl.stream import Stream



_LUT6_MODEL = """\
// Behavioural model of the Xilinx LUT6 primitive, for simulation only (do not synthesise it for
// Xilinx parts: the vendor library provides LUT6). O = INIT[{I5, I4, I3, I2, I1, I0}].
`timescale 1ns / 1ps
module LUT6 #(parameter [63:0] INIT = 64'h0000000000000000) (
    output O,
    input I0, input I1, input I2, input I3, input I4, input I5
);
    assign O = INIT[{I5, I4, I3, I2, I1, I0}];
endmodule
"""


@dataclass(frozen=True)
class VerilogDesign:
    """The generated Verilog text and its parameters (what ``params.json`` holds)."""

    verilog: str
    params: dict


def _plain_module_names(text: str) -> str:
    """Amaranth names submodules ``\\top.core.layer0``; rename them ``top__core__layer0``."""
    escaped = sorted(set(re.findall(r"^module \\(\S+) ", text, flags=re.M)), key=len, reverse=True)
    mapping = {e: e.replace(".", "__") for e in escaped}
    clash = set(mapping.values()) & set(re.findall(r"^module ([A-Za-z_][A-Za-z0-9_]*)\b", text, flags=re.M))
    if clash or len(set(mapping.values())) != len(mapping):
        raise RuntimeError(f"module names clash after renaming: {sorted(clash)}")
    return re.sub(r"\\(\S+) ", lambda mt: mapping[mt.group(1)] + " " if mt.group(1) in mapping else mt.group(0),
                  text)


def _wrap_long_lines(text: str, limit: int = 16384, per_line: int = 64) -> str:
    """Lines longer than ``limit`` characters (yosys writes a wide concatenation on one line; Verilator
    refuses lines of more than 40,000 tokens) broken after every ``per_line``-th ``", "``: a space
    becomes a newline, which Verilog reads the same outside strings and ``//`` comments (lines with
    either are left as they are)."""
    def wrap(line: str) -> str:
        if len(line) <= limit or '"' in line or "//" in line:
            return line
        items = line.split(", ")
        return ",\n    ".join(", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))

    return "\n".join(wrap(line) for line in text.split("\n"))


def generate(ir: NetlistIR, *, pipeline="none", lut_style: str = "behavioral", name: str = "difflut") -> VerilogDesign:
    """Build the design of ``ir`` and convert it to Verilog (top module ``name``)."""
    from amaranth.back import verilog as amaranth_verilog

    if not isinstance(ir, NetlistIR):
        raise TypeError(f"ir must be a NetlistIR, got {type(ir).__name__}")
    if lut_style not in LUT_STYLES:
        raise ValueError(f"lut_style must be one of {LUT_STYLES}, got {lut_style!r}")
    check_name(name)
    wide = next((layer for layer in ir.layers if layer.k > 6), None)
    if lut_style == "xilinx" and wide is not None:
        raise ValueError(f"lut_style='xilinx' maps one node to one LUT6 and needs k <= 6; layer {wide.name!r} has "
                         f"k={wide.k} (use lut_style='behavioral')")
    plan = PipelinePlan.parse(pipeline)
    core = Core(ir, plan, lut_style=lut_style)
    top = Stream(core)
    ports = [{"name": pname, "direction": "in" if member.flow == In else "out", "width": len(getattr(top, pname))}
             for pname, member in top.signature.members.items()]
    text = amaranth_verilog.convert(top, name=name, emit_src=False)
    text = _wrap_long_lines(_plain_module_names(text))
    if core.latency:
        ports = [{"name": "clk", "direction": "in", "width": 1},
                 {"name": "rst", "direction": "in", "width": 1}] + ports
    fmt = ir.encoder.input_format
    classes, group = ir.class_wires.shape
    params = {
        "format": PARAMS_FORMAT,
        "version": PARAMS_VERSION,
        "top": name,
        "core": f"{name}__core",
        "clocked": core.latency > 0,
        "latency": core.latency,
        "pipeline": plan.name,
        "lut_style": lut_style,
        "ports": ports,
        "input": {
            "input_shape": list(ir.input_shape),
            "num_features": ir.num_features,
            "bits": fmt.bits,
            "signed": bool(fmt.signed),
            "packing": f"feature f (row-major over input_shape) is in_codes[f*{fmt.bits} +: {fmt.bits}]"
                       + (", two's complement" if fmt.signed else ""),
        },
        "output": {
            "num_classes": classes,
            "group_size": group,
            "score_width": core.score_width,
            "class_width": len(core.index),
            "packing": f"class c's score is out_scores[c*{core.score_width} +: {core.score_width}]; out_class is "
                       "the first maximum (ties -> lowest class index)",
        },
        "stats": {
            "encoder_bits": ir.num_encoder_wires,
            "layers": [{"name": layer.name, "nodes": layer.num_nodes, "k": layer.k} for layer in ir.layers],
            "luts": ir.num_luts,
            "popcount_levels": popcount_depth(group),
        },
        "verilog": f"{name}.v",
        "sources": [f"{name}.v"] + (["LUT6.v"] if lut_style == "xilinx" else []),
    }
    return VerilogDesign(text, params)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=1) + "\n").encode()


def readme_text(params: dict) -> str:
    p, i, o = params, params["input"], params["output"]
    ports = "\n".join(f"| `{q['name']}` | {q['direction']} | {q['width']} |" for q in p["ports"])
    timing = (f"Pipelined, latency **{p['latency']}** clocks (`pipeline={p['pipeline']!r}`); one result per clock."
              if p["clocked"] else "Combinational (`pipeline='none'`, latency 0): no clock.")
    if p["clocked"]:
        handshake = ("a transfer happens on a rising clock edge with valid and ready high. "
                     "`in_ready = ~out_valid | out_ready` (combinational). Tie `out_ready` to 1 for a plain "
                     f"fixed-latency pipeline: then `out_valid` is `in_valid` delayed by {p['latency']} clocks. "
                     "`rst` is synchronous and active high.")
    else:
        handshake = "combinational: `out_valid = in_valid`, `in_ready = out_ready`; outputs follow `in_codes`."
    lut6_line = "- `LUT6.v`: behavioural LUT6 for simulation only.\n" if p["lut_style"] == "xilinx" else ""
    return f"""# {p['top']}: DiffLUT network in Verilog

Generated by `difflut.hw.verilog.export_verilog` from a netlist IR; do not edit. {timing}
LUT style: `{p['lut_style']}`. {p['stats']['luts']} LUTs in {len(p['stats']['layers'])} layers,
{o['num_classes']} classes x {o['group_size']} wires.

## Files

- `{p['verilog']}`: top `{p['top']}` (valid/ready stream), `{p['core']}` (fixed latency, clock enable `ce`),
  and one module per encoder, LUT layer, class popcount and the argmax.
{lut6_line}- `params.json`: ports, packing, latency. `vectors.json`: test vectors (when exported with vectors).
- `tb_difflut.py`, `run_sim.py`: cocotb testbench; `python run_sim.py [--simulator icarus|verilator]`.

## Ports of `{p['top']}`

| port | dir | width |
| --- | --- | --- |
{ports}

- Input: {i['num_features']} features, {i['bits']}-bit {'signed' if i['signed'] else 'unsigned'} codes;
  {i['packing']}.
- Output: {o['packing']}.
- Handshake: {handshake}
"""


def verilog_files(ir: NetlistIR, *, pipeline="none", lut_style: str = "behavioral", vectors=None,
                  name: str = "difflut") -> tuple[dict[str, bytes], dict]:
    """The files of the self-standing Verilog folder of ``ir`` (``{name: bytes}``) and its params."""
    design = generate(ir, pipeline=pipeline, lut_style=lut_style, name=name)
    params = dict(design.params)
    files = {params["verilog"]: design.verilog.encode()}
    if lut_style == "xilinx":
        files["LUT6.v"] = _LUT6_MODEL.encode()
    if vectors is not None:
        vec = TestVectors.of(ir, vectors)
        files["vectors.json"] = vec.json_bytes()
        params["vectors"] = {"file": "vectors.json", "count": len(vec)}
    else:
        params["vectors"] = None
    sim_dir = testbench_dir()
    for fname in SIM_FILES:
        files[fname] = (sim_dir / fname).read_bytes()
    files["params.json"] = _json_bytes(params)
    files["README.md"] = readme_text(params).encode()

    return files, params


def export_verilog(ir: NetlistIR, out_dir, *, pipeline="none", lut_style: str = "behavioral", vectors=None,
                   name: str = "difflut") -> dict:
    """Write the self-standing Verilog folder of ``ir`` to ``out_dir`` with a manifest ``export.json`` of
    its files (atomically, see :func:`difflut.files.commit_folder`: an existing folder is replaced only if
    it is an export whose manifest verifies; files it does not list are kept); returns the params.
    ``vectors``: see :meth:`difflut.hw.vectors.TestVectors.of`."""
    try:
        prepare_output_folder(out_dir, MANIFEST)
    except OutputError as e:
        raise ExportError(str(e)) from None
    files, params = verilog_files(ir, pipeline=pipeline, lut_style=lut_style, vectors=vectors, name=name)
    files = with_manifest(files, MANIFEST, {"target": "verilog", "name": params["top"]})
    try:
        commit_folder(files, out_dir, manifest=MANIFEST)
    except OutputError as e:
        raise ExportError(str(e)) from None
    return params
