"""LUT cost model of a fully connected LUT network and a width proposal for a LUT budget.

Cost model (k <= 6, one LUT6 per node; the numbers ``difflut synth --target xilinx`` is compared with):

* layers: one LUT per node;
* popcount: per class, :func:`popcount_luts` of its G bits: the measured LUTs of the compressor tree for
  G <= 64 (:data:`POPCOUNT_LUTS`), ``POPCOUNT_LUTS_PER_BIT`` (0.8) per bit beyond;
* argmax over C scores of ``w = ceil(log2(G + 1))`` bits: ``(C - 1) * (w + ceil(log2 C))``
  LUTs (per comparison a ``w``-bit compare-and-select of the score and the class index);
* the encoder is reported apart (the field's figures exclude it).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

POPCOUNT_LUTS_PER_BIT = 0.8

#: LUTs of one popcount of G = 0, 1, ..., 64 bits (``difflut.hw.rtl.popcount.Popcount(G)`` alone through
#: ``synth_xilinx``, yosys 0.70, family xcup: ``python benchmarks/bench_rtl_blocks.py --popcount $(seq 1 64)``,
#: docs/hardware.md); not monotone (as yosys maps each tree onto LUT6s and carry chains), hence a table
POPCOUNT_LUTS = (
    0, 0, 2, 2, 3, 3, 3, 3, 4, 4, 7, 9, 9, 9, 9, 9, 12,
    12, 15, 16, 15, 15, 15, 16, 16, 21, 21, 21, 21, 22, 24, 24, 27, 26,
    29, 29, 28, 28, 29, 36, 36, 32, 32, 32, 33, 35, 36, 36, 36, 36, 37,
    38, 42, 40, 40, 40, 40, 42, 43, 46, 47, 47, 49, 49, 49,
)


def popcount_luts(group: int) -> int:
    """Estimated LUTs of the popcount of ``group`` bits: :data:`POPCOUNT_LUTS` up to 64, else 0.8 per bit."""
    group = int(group)
    if group < 0:
        raise ValueError(f"group must be >= 0, got {group}")
    return POPCOUNT_LUTS[group] if group < len(POPCOUNT_LUTS) else math.ceil(POPCOUNT_LUTS_PER_BIT * group)


def lut_cost(widths: Sequence[int], num_classes: int = 10) -> dict:
    """Estimated LUTs of LUT layers of ``widths`` + popcount + argmax: {'layers', 'popcount', 'argmax', 'total'}."""
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1 or widths[-1] % num_classes:
        raise ValueError(f"widths must be positive with the last a multiple of {num_classes}, got {widths}")
    group = widths[-1] // num_classes
    w = math.ceil(math.log2(group + 1))
    layers = sum(widths)
    popcount = num_classes * popcount_luts(group)
    argmax = (num_classes - 1) * (w + math.ceil(math.log2(num_classes)))
    return {"layers": layers, "popcount": popcount, "argmax": argmax, "total": layers + popcount + argmax}


def propose_widths(budget: int, shape: Sequence[float], num_classes: int = 10) -> dict:
    """The largest widths ``ceil(s * shape)`` (largest scale ``s``) whose :func:`lut_cost` fits ``budget`` LUTs.

    ``shape``: relative widths of the LUT layers in order (e.g. ``(1, 0.5)``: a second layer half the
    first). Every width is rounded up to a multiple of ``num_classes`` (grouped reduction layers
    and GroupSum need it). Returns ``{'widths': tuple, 'cost': lut_cost(...)}``; ValueError if even
    the smallest network (``num_classes`` nodes per layer) exceeds the budget.
    """
    if not shape or min(shape) <= 0:
        raise ValueError(f"shape must be positive relative widths, got {list(shape)}")
    # exact arithmetic on the ratios as written (0.3 is 3/10): float scale * r can land a hair past a multiple
    shape = [Fraction(r).limit_denominator(10**6) for r in shape]

    def widths(scale: Fraction) -> tuple[int, ...]:
        return tuple(max(1, math.ceil(scale * r / num_classes)) * num_classes for r in shape)

    best = widths(Fraction(0))
    if lut_cost(best, num_classes)["total"] > budget:
        raise ValueError(f"a budget of {budget} LUTs cannot hold {len(shape)} layers of {num_classes} nodes")
    # the widths change only where scale * r crosses a multiple of num_classes; the popcount table is not
    # monotone, so every such point up to the budget is tried (not a bisection) and the largest that fits wins
    steps = sorted({num_classes * i / r for r in shape for i in range(1, budget // num_classes + 2)})
    for scale in steps:
        candidate = widths(scale)
        if sum(candidate) > budget:
            break
        if lut_cost(candidate, num_classes)["total"] <= budget:
            best = candidate
    return {"widths": best, "cost": lut_cost(best, num_classes)}


def luts_estimate(model) -> dict:
    """A model's LUT parts, estimated: layers = its optimised IR's LUTs, popcount and argmax from :func:`lut_cost`
    on the popcounts' input bits; encoder None (not estimated). The ``luts`` of a shipped model's metadata
    (:mod:`difflut.models.pretrained`), ``source`` ``"IR estimate"``."""
    from ..hw.lower import lower
    from ..hw.passes import optimize

    ir, _ = optimize(lower(model))
    cost = lut_cost((ir.class_wires.size,), ir.num_classes)  # the popcounts read class_wires (C, G)
    return {"layers": ir.num_luts, "popcount": cost["popcount"], "argmax": cost["argmax"], "encoder": None,
            "total": ir.num_luts + cost["popcount"] + cost["argmax"], "source": "IR estimate"}
