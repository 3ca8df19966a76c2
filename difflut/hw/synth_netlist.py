"""Statistics of a mapped netlist (yosys ``write_json``): cells by kind, LUTs by input count, LUT levels.

Cell kinds across the targets (anything else is listed under ``other``):

* LUT: ``$lut`` (generic), ``LUT1``..``LUT6`` and ``INV`` (a LUT1) (Xilinx), ``LUT4`` (ECP5), ``SB_LUT4`` (iCE40); a LUT's
  input count is the number of distinct non-constant nets on its inputs;
* flip-flop: ``FD*`` (Xilinx), ``TRELLIS_FF`` (ECP5), ``SB_DFF*`` (iCE40), yosys' ``$_*DFF*_`` / ``$*dff*``;
* carry: ``CARRY4`` / ``CARRY8`` (Xilinx), ``CCU2C`` (ECP5), ``SB_CARRY`` (iCE40);
* mux: ``MUXF7``/``MUXF8``/``MUXF9`` (Xilinx), ``PFUMX`` / ``L6MUX21`` (ECP5), ``$_MUX_``.

``levels`` is the largest number of LUT cells on one combinational path (from a module input, a
flip-flop output or a black-box output to a module output, a flip-flop input or a black-box input);
``path_cells`` the largest number of combinational cells of any kind on one path (yosys ``ltp -noff``).
"""

from __future__ import annotations

import re
from collections import Counter

_LUT = re.compile(r"^(\$lut|LUT[1-6]|INV|LUT4|SB_LUT4)$")
_FF = re.compile(r"^(FD[RSCP]E?(_1)?|TRELLIS_FF|SB_DFF\w*|\$_+(S|ALD|AL|A)?DFF\w*|\$(a|s|al|ald|adl)?dffe?|\$sdffce)$")
_CARRY = re.compile(r"^(CARRY4|CARRY8|CCU2C|CCU2D|SB_CARRY)$")
_MUX = re.compile(r"^(MUXF[789]|PFUMX|L6MUX21|\$_MUX_)$")
_IGNORED = {"$scopeinfo"}
_CONSTANT_BITS = {"0", "1", "x", "z"}


def cell_kind(cell_type: str) -> str:
    """"lut" | "ff" | "carry" | "mux" | "other"."""
    for kind, pattern in (("lut", _LUT), ("ff", _FF), ("carry", _CARRY), ("mux", _MUX)):
        if pattern.match(cell_type):
            return kind
    return "other"


def _directions(cell: dict) -> dict:
    return cell.get("port_directions") or {}


def _lut_inputs(cell: dict) -> int:
    directions = _directions(cell)
    bits = {b for port, conn in cell["connections"].items() if directions.get(port) == "input"
            for b in conn if b not in _CONSTANT_BITS}
    return len(bits)


def top_module(netlist: dict, name: str) -> dict:
    """The module ``name`` of a yosys JSON netlist (KeyError if absent)."""
    return netlist["modules"][name]


def longest_paths(module: dict, boxes: set[str]) -> tuple[int, int]:
    """(LUT levels, combinational cells) of the longest combinational path of ``module``.

    Flip-flops and cells of types in ``boxes`` (black boxes) cut paths; a cell without port directions
    is treated as a black box too."""
    driver = {}  # net bit -> index of the combinational cell driving it
    comb = []  # (weight, input bits)
    for cell in module["cells"].values():
        ctype = cell["type"]
        directions = _directions(cell)
        if ctype in _IGNORED or ctype in boxes or not directions or cell_kind(ctype) == "ff":
            continue
        inputs, outputs = [], []
        for port, conn in cell["connections"].items():
            (inputs if directions.get(port) == "input" else outputs).extend(
                b for b in conn if b not in _CONSTANT_BITS)
        index = len(comb)
        comb.append((1 if cell_kind(ctype) == "lut" else 0, inputs))
        for b in outputs:
            driver[b] = index
    depth = [(0, 0)] * len(comb)  # (luts, cells) of the longest path ending at the cell's outputs
    state = bytearray(len(comb))  # 0 unvisited, 1 in progress, 2 done
    for start in range(len(comb)):
        if state[start]:
            continue
        stack = [(start, False)]
        while stack:
            index, expanded = stack.pop()
            preds = [driver[b] for b in comb[index][1] if b in driver]
            if not expanded:
                if state[index]:
                    continue
                state[index] = 1
                stack.append((index, True))
                stack.extend((p, False) for p in preds if not state[p])
                continue
            luts = cells = 0
            for p in preds:
                if state[p] == 2:  # a predecessor still in progress closes a combinational loop: cut it
                    luts, cells = max(luts, depth[p][0]), max(cells, depth[p][1])
            depth[index] = (luts + comb[index][0], cells + 1)
            state[index] = 2
    if not depth:
        return 0, 0
    return max(d[0] for d in depth), max(d[1] for d in depth)


def module_stats(module: dict, boxes: set[str] = frozenset()) -> dict:
    """Counts of ``module`` (one module of a mapped, flattened netlist); cells of types in ``boxes``
    (black-box submodules) are listed under ``boxes`` and not counted."""
    cells = Counter(c["type"] for c in module["cells"].values() if c["type"] not in _IGNORED)
    kinds = Counter()
    boxed = Counter()
    for ctype, count in cells.items():
        if ctype in boxes:
            boxed[ctype] += count
        else:
            kinds[cell_kind(ctype)] += count
    by_inputs = Counter(_lut_inputs(c) for c in module["cells"].values() if cell_kind(c["type"]) == "lut")
    levels, path_cells = longest_paths(module, set(boxes))
    return {
        "luts": kinds["lut"],
        "ffs": kinds["ff"],
        "carry": kinds["carry"],
        "muxes": kinds["mux"],
        "other": kinds["other"],
        "levels": levels,
        "path_cells": path_cells,
        "luts_by_inputs": {str(k): by_inputs[k] for k in sorted(by_inputs)},
        "cells": {t: cells[t] for t in sorted(cells) if t not in boxes},
        "boxes": {t: boxed[t] for t in sorted(boxed)},
    }
