"""Popcount of one class's wires as an adder tree, with optional register cuts between levels."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .pipeline import popcount_depth


class Popcount(wiring.Component):
    """``count`` = number of set bits of ``x`` (``width.bit_length()`` bits).

    Level 1 adds the bits in groups of three (full adders), every further level adds the partial sums
    in pairs; partial sums are kept exactly as wide as their largest value. A register (enabled by
    ``ce``) follows each level listed in ``cuts``; ``ce`` exists only when ``cuts`` is not empty.
    """

    def __init__(self, width: int, cuts=()):
        self.width = width
        self.depth = popcount_depth(width)
        self.cuts = tuple(sorted(set(cuts)))
        if any(not 1 <= c <= self.depth for c in self.cuts):
            raise ValueError(f"cut levels must lie in 1..{self.depth}, got {self.cuts}")
        ports = {"x": In(width), "count": Out(width.bit_length())}
        if self.cuts:
            ports["ce"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        terms = [(self.x[i], 1) for i in range(self.width)]  # (value, largest value)
        level = 0
        while len(terms) > 1:
            size = 3 if level == 0 else 2
            level += 1
            summed = []
            for start in range(0, len(terms), size):
                group = terms[start:start + size]
                value, top = group[0]
                for v, t in group[1:]:
                    value, top = value + v, top + t
                summed.append((value[:top.bit_length()], top))
            terms = summed
            if level in self.cuts:
                registered = []
                for i, (value, top) in enumerate(terms):
                    reg = Signal(top.bit_length(), name=f"l{level}_s{i}", reset_less=True)
                    with m.If(self.ce):
                        m.d.sync += reg.eq(value)
                    registered.append((reg, top))
                terms = registered
        m.d.comb += self.count.eq(terms[0][0])
        return m
