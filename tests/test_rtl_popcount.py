"""The compressor-tree Popcount in Amaranth's simulator: exhaustive for small widths, random for 100 and
600 bits, pipelined (one result per clock after its cuts), and a broken counter is caught."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")
from amaranth.sim import Simulator  # noqa: E402

from difflut.hw.rtl import popcount as popcount_module  # noqa: E402
from difflut.hw.rtl.compressor import plan  # noqa: E402
from difflut.hw.rtl.pipeline import popcount_depth  # noqa: E402
from difflut.hw.rtl.popcount import Popcount  # noqa: E402

# a Popcount refused in __init__ is reported as unused when collected
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def _vectors(width: int, n: int, seed: int) -> list[int]:
    """``n`` random ``width``-bit integers with set-bit densities spread over [0, 1] (so counts near 0 and
    ``width`` occur), plus all zeros and all ones."""
    rng = np.random.default_rng(seed)
    bits = rng.random((n, width)) < rng.random((n, 1))
    packed = np.packbits(bits, axis=1, bitorder="little")  # bit i of row r -> bit i of the integer
    return [0, (1 << width) - 1] + [int.from_bytes(row.tobytes(), "little") for row in packed]


def _counts(dut: Popcount, values: list[int]) -> list[int]:
    """``dut.count`` for each value, read ``len(dut.cuts)`` clocks after it went in, one value per clock."""
    latency, got = len(dut.cuts), []
    sim = Simulator(dut)

    async def bench(ctx):
        if latency:
            ctx.set(dut.ce, 1)
        for step in range(len(values) + latency):
            if step < len(values):
                ctx.set(dut.x, values[step])
            if step >= latency:
                got.append(ctx.get(dut.count))
            if latency:
                await ctx.tick()

    if latency:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def _expected(values: list[int]) -> list[int]:
    return [bin(v).count("1") for v in values]


@pytest.mark.parametrize("width", range(1, 13))
def test_exhaustive_small_widths(width):
    values = list(range(1 << width))
    assert _counts(Popcount(width), values) == _expected(values)


@pytest.mark.parametrize("width", [100, 600])
def test_random_wide(width):
    values = _vectors(width, 500, seed=width)
    assert _counts(Popcount(width), values) == _expected(values)


@pytest.mark.parametrize("width,every", [(9, 1), (100, 1), (100, 2), (600, 3)])
def test_pipelined_one_result_per_clock(width, every):
    depth = popcount_depth(width)
    cuts = [level for level in range(1, depth + 1) if level % every == 0 or level == depth]
    values = _vectors(width, 60, seed=width + every)
    assert _counts(Popcount(width, cuts), values) == _expected(values)


def test_depth_is_plan_levels():
    for width in [1, 2, 3, 7, 8, 10, 11, 100, 600, 800]:
        levels = len(plan(width))
        assert popcount_depth(width) in (levels, levels + 1)
    assert popcount_depth(1) == 0 and popcount_depth(100) <= 7 and popcount_depth(600) <= 9


def test_bad_cut_level_is_refused():
    with pytest.raises(ValueError, match="cut levels"):
        Popcount(100, [popcount_depth(100) + 1])


def test_broken_counter_is_caught(monkeypatch):
    """A counter whose logic drops its top carry gives wrong counts that the check reports."""
    count_logic = popcount_module.count_logic
    monkeypatch.setattr(popcount_module, "count_logic", lambda bits: count_logic(bits)[:-1] if len(bits) > 3 else count_logic(bits))
    values = list(range(1 << 8))
    assert _counts(Popcount(8), values) != _expected(values)
    values = _vectors(100, 30, seed=1)
    assert _counts(Popcount(100), values) != _expected(values)


def test_counter_y_is_narrower_than_x():
    """yosys puts the narrower operand on the carry chain's DI inputs: a counter with a bit of the next
    column in Y (2 bits) counts at least 4 bits in X (3 bits), so X never goes there."""
    for width in [*range(1, 40), 100, 600, 800]:
        for counters in plan(width):
            for counter in counters:
                assert not counter.up1 or counter.x >= 4
                assert counter.top < 1 << 4  # at most 4 output bits: one CARRY4
