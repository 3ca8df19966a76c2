"""The plan of a popcount compressor tree: carry-chain counters over a bit heap, then one adder.

A bit heap holds, per column c, bits of weight ``2**c``. One *counter* at base column j adds
``Y + X + cin`` on a carry chain (Xilinx CARRY4 / any FPGA carry chain): ``X`` is the count of up to 5
column-j bits, written as plain logic so that each of its bits merges with the chain's XOR into one
6-input LUT; ``Y`` has one bit in column j and, beside an ``X`` of 3 bits (4 or 5 counted bits), one in
column j+1 (the chain's DI inputs, no LUT); ``cin`` is one more column-j bit. So 3 LUTs take up to 8
bits (7 of column j) and give at most 4 (a 7-bit counter gives 3): 4 bits removed per 3 LUTs, where a
6:3 counter of LUTs removes 3.

``Y`` is kept narrower than ``X`` on purpose: yosys' ``alumacc`` puts the narrower operand of an
addition on the chain's DI inputs (a 1-bit ``Y`` goes there too); at equal widths its choice follows
the order of the wires, and with ``X`` there its bits exist twice (alone for DI and XORed with ``Y``):
about one LUT more per counter (measured: a 3-bit ``Y`` from columns j..j+2, 9 bits in, cost 517 LUTs
for 600 bits instead of 462; docs/hardware.md).

Each *level* places counters greedily from the lowest column up, on every column with at least 4 bits
(3 once no column is taller than 3), until the heap has at most 2 bits per column (3 in its lowest
column with 2 or more); a last level adds its two rows (and the extra bit as carry-in) with one
carry-chain adder. :func:`plan` depends only on the width, so the register cuts of a pipelined
popcount (and its latency) follow from the width alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

COUNTER_X = 5  # LUT inputs left for X beside the chain's DI bit


@dataclass(frozen=True)
class Counter:
    """One carry-chain counter at base column ``column``: ``x`` bits counted by logic, ``di`` (0/1) and
    ``cin`` (0/1) more bits of the column, ``up1`` (0/1) a bit of the column above (only when ``x`` >= 4,
    so that ``Y = (di, up1)`` stays narrower than ``X``)."""

    column: int
    x: int
    di: int
    cin: int
    up1: int

    @property
    def top(self) -> int:
        """The largest sum."""
        return self.x + self.di + self.cin + 2 * self.up1


def _done(heights: list[int]) -> bool:
    low = next((c for c, h in enumerate(heights) if h >= 2), None)
    return all(h <= 2 for c, h in enumerate(heights) if c != low) and (low is None or heights[low] <= 3)


def _level(heights: list[int]) -> tuple[list[int], tuple[Counter, ...]]:
    least = 4 if max(heights) > 3 else 3
    rest = list(heights) + [0, 0, 0, 0]
    new = [0] * len(rest)
    counters = []
    for j in range(len(rest)):
        while rest[j] >= least:
            x = min(COUNTER_X, rest[j])
            di = int(rest[j] > x)
            cin = int(rest[j] > x + di)
            rest[j] -= x + di + cin
            up1 = int(rest[j + 1] > 0 and x >= 4)
            rest[j + 1] -= up1
            counter = Counter(j, x, di, cin, up1)
            for i in range(counter.top.bit_length()):
                new[j + i] += 1
            counters.append(counter)
        new[j] += rest[j]
        rest[j] = 0
    while new and new[-1] == 0:
        new.pop()
    return new, tuple(counters)


@lru_cache(maxsize=None)
def plan(width: int) -> tuple[tuple[Counter, ...], ...]:
    """The counter levels of a ``width``-bit popcount (the final adder is one more level when
    :func:`needs_adder`)."""
    heights, levels = [width], []
    while not _done(heights):
        heights, counters = _level(heights)
        levels.append(counters)
    return tuple(levels)


def needs_adder(width: int) -> bool:
    """Whether the heap left by :func:`plan` still has a column with 2 or more bits."""
    heights = [width]
    for counters in plan(width):
        heights, _ = _level(heights)
    return any(h >= 2 for h in heights)
