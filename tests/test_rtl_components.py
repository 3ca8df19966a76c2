"""RTL components simulated in-process (amaranth.sim), without export or an external simulator:
Argmax (first maximum, ties -> lowest index) and the Stream wrapper's valid/ready handshake around
a pipelined core. Each check is shown to fail on a deliberately broken component.
(Popcount has its own tests next to its compressor tree.)
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.hdl import ClockDomain, Module, Mux  # noqa: E402
from amaranth.lib import wiring  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402
from amaranth.sim import Simulator  # noqa: E402

from difflut.hw.evaluate import evaluate_ir  # noqa: E402
from difflut.hw.ir import LUTLayer, NetlistIR  # noqa: E402
from difflut.hw.rtl.argmax import Argmax, index_width  # noqa: E402
from difflut.hw.rtl.core import Core  # noqa: E402
from difflut.hw.rtl.pipeline import PipelinePlan  # noqa: E402
from difflut.hw.rtl.stream import Stream  # noqa: E402
from irtools import random_codes, rtl_ir  # noqa: E402


def first_maximum(scores: np.ndarray) -> np.ndarray:
    """(N, C) -> (N,): the lowest index among each row's maximal scores."""
    return scores.argmax(1)


def pack(rows: np.ndarray, width: int) -> list[int]:
    """(N, C) unsigned values -> N integers, column c at bits [c*width, (c+1)*width)."""
    return [sum(int(v) << (c * width) for c, v in enumerate(row)) for row in rows]


def simulated_indices(dut, scores: np.ndarray) -> np.ndarray:
    """Drive ``dut.scores`` with each row of ``scores`` (N, C) and read ``dut.index``."""
    words = pack(scores, dut.score_width)
    got = []

    async def bench(ctx):
        for word in words:
            ctx.set(dut.scores, word)
            got.append(ctx.get(dut.index))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got, dtype=np.int64)


class LastMaximum(wiring.Component):
    """A broken argmax for the negative test: the same tree with ``>=``, so ties go to the highest index."""

    def __init__(self, num_classes: int, score_width: int):
        self.num_classes, self.score_width = num_classes, score_width
        super().__init__({"scores": In(num_classes * score_width), "index": Out(index_width(num_classes))})

    def elaborate(self, platform):
        m = Module()
        w = self.score_width
        best, index = self.scores[:w], 0
        for c in range(1, self.num_classes):
            score = self.scores[c * w:(c + 1) * w]
            index = Mux(score >= best, c, index)
            best = Mux(score >= best, score, best)
        m.d.comb += self.index.eq(index)
        return m


# -- Argmax -----------------------------------------------------------------------------------------------
ARGMAX_SHAPES = [(c, w) for c in range(1, 6) for w in range(1, 4) if (1 << w) ** c <= 4096]


@pytest.mark.parametrize("num_classes,score_width", ARGMAX_SHAPES)
def test_argmax_exhaustive(num_classes, score_width):
    """Every score combination (all ties included) of up to 4,096 per shape: the first maximum."""
    scores = np.array(list(itertools.product(range(1 << score_width), repeat=num_classes)), dtype=np.int64)
    got = simulated_indices(Argmax(num_classes, score_width), scores)
    np.testing.assert_array_equal(got, first_maximum(scores))


@pytest.mark.parametrize("num_classes,score_width", [(10, 8), (7, 5), (16, 3), (3, 11)])
def test_argmax_random_with_ties(num_classes, score_width):
    rng = np.random.default_rng(num_classes * 100 + score_width)
    scores = rng.integers(0, 1 << score_width, size=(400, num_classes))
    top = scores.max(1, keepdims=True)
    ties = rng.random(scores.shape) < 0.3  # many rows with several maxima
    scores[:200] = np.where(ties[:200], top[:200], scores[:200])
    scores[200] = (1 << score_width) - 1  # all equal at the largest score
    scores[201] = 0
    got = simulated_indices(Argmax(num_classes, score_width), scores)
    np.testing.assert_array_equal(got, first_maximum(scores))


def test_argmax_check_catches_ties_to_the_highest_index():
    scores = np.array(list(itertools.product(range(4), repeat=3)), dtype=np.int64)
    got = simulated_indices(LastMaximum(3, 2), scores)
    without_ties = (scores == scores.max(1, keepdims=True)).sum(1) == 1
    np.testing.assert_array_equal(got[without_ties], first_maximum(scores)[without_ties])  # right elsewhere
    assert (got != first_maximum(scores)).sum() > 0


# -- Stream -------------------------------------------------------------------------------------------------
class Traffic:
    """What the stream testbench saw: the codes accepted (in order), the results returned (in order), and
    whether ``in_ready`` was ever high during reset or an output changed while stalled."""

    def __init__(self):
        self.accepted, self.scores, self.classes = [], [], []
        self.ready_in_reset = False
        self.changed_while_stalled = False


def run_stream(stream: Stream, codes: np.ndarray, *, seed: int, p_valid: float, p_ready: float,
               reset_clocks: int = 3, drain: int = 40) -> Traffic:
    """Simulate ``stream`` with a clock and reset: ``reset_clocks`` clocks of reset with ``in_valid`` high,
    then offer ``codes`` (a new one with probability ``p_valid`` per clock, each held until accepted) while ``out_ready`` is high with probability ``p_ready``; then ``drain`` clocks of ``out_ready``."""
    ir = stream.core.ir
    bits = ir.encoder.input_format.bits
    words = pack(codes.reshape(len(codes), -1) & ((1 << bits) - 1), bits)
    score_width, classes = stream.core.score_width, ir.num_classes
    top = Module()
    top.domains.sync = domain = ClockDomain("sync")
    top.submodules.stream = stream
    rng = np.random.default_rng(seed)
    seen = Traffic()

    async def bench(ctx):
        ctx.set(domain.rst, 1)
        for _ in range(reset_clocks):
            ctx.set(stream.in_valid, 1)
            ctx.set(stream.in_codes, words[0])
            ctx.set(stream.out_ready, 1)
            seen.ready_in_reset |= bool(ctx.get(stream.in_ready))
            await ctx.tick()
        ctx.set(domain.rst, 0)
        sent, stalled = 0, None  # stalled: the output held since the last clock (valid, not ready)
        offer = False
        for _ in range(100 * len(words) + drain):
            if sent == len(words) and len(seen.scores) >= len(words):
                break
            offer = sent < len(words) and (offer or rng.random() < p_valid)  # held until accepted
            ready = sent == len(words) or rng.random() < p_ready
            ctx.set(stream.in_valid, int(offer))
            ctx.set(stream.in_codes, words[sent] if offer else 0)
            ctx.set(stream.out_ready, int(ready))
            valid, out = ctx.get(stream.out_valid), (ctx.get(stream.out_scores), ctx.get(stream.out_class))
            if stalled is not None and (not valid or out != stalled):
                seen.changed_while_stalled = True
            if valid and ready:
                seen.scores.append([(out[0] >> (c * score_width)) & ((1 << score_width) - 1)
                                    for c in range(classes)])
                seen.classes.append(out[1])
            stalled = out if valid and not ready else None
            if offer and ctx.get(stream.in_ready):
                seen.accepted.append(sent)
                sent, offer = sent + 1, False
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def assert_stream_correct(seen: Traffic, ir: NetlistIR, codes: np.ndarray, latency: int) -> None:
    """Every code accepted exactly once, in order; one result per accepted code, in the same order,
    equal to evaluate_ir; in_ready low during reset (where there are registers: latency > 0); outputs
    stable while stalled."""
    assert not (latency and seen.ready_in_reset), "in_ready high during reset"
    assert seen.accepted == list(range(len(codes)))
    assert len(seen.scores) == len(codes), f"{len(seen.scores)} results for {len(codes)} accepted inputs"
    scores, classes = evaluate_ir(ir, codes)
    np.testing.assert_array_equal(np.array(seen.scores), scores)
    np.testing.assert_array_equal(np.array(seen.classes), classes)
    assert not seen.changed_while_stalled, "an output changed while out_valid was high and out_ready low"


@pytest.fixture(scope="module")
def small_ir():
    return rtl_ir(21, ks=(3, 6, 2), nodes=10, classes=3, group=6)


@pytest.mark.parametrize("pipeline", ["none", "layers", 1, 2])
@pytest.mark.parametrize("seed,p_valid,p_ready", [(0, 1.0, 1.0), (1, 0.7, 0.5), (2, 1.0, 0.2), (3, 0.3, 1.0)])
def test_stream_handshake(small_ir, pipeline, seed, p_valid, p_ready):
    """Back-pressure and gaps: one result per accepted input, in order, equal to evaluate_ir."""
    codes = random_codes(small_ir, 60, seed=seed)
    stream = Stream(Core(small_ir, PipelinePlan.parse(pipeline)))
    seen = run_stream(stream, codes, seed=seed, p_valid=p_valid, p_ready=p_ready)
    assert_stream_correct(seen, small_ir, codes, stream.core.latency)


def test_stream_back_to_back_one_result_per_clock_after_latency(small_ir):
    """out_ready always high: every input accepted on consecutive clocks; result i on clock i + latency."""
    codes = random_codes(small_ir, 20, seed=2)
    stream = Stream(Core(small_ir, PipelinePlan.parse("layers")))
    latency = stream.core.latency
    assert latency == len(small_ir.layers) + 1
    words = pack(codes & ((1 << small_ir.encoder.input_format.bits) - 1), small_ir.encoder.input_format.bits)
    top = Module()
    top.domains.sync = ClockDomain("sync")
    top.submodules.stream = stream
    valid_at = []

    async def bench(ctx):
        ctx.set(stream.out_ready, 1)
        for clock in range(len(words) + latency + 3):
            ctx.set(stream.in_valid, int(clock < len(words)))
            ctx.set(stream.in_codes, words[clock] if clock < len(words) else 0)
            assert ctx.get(stream.in_ready)
            if ctx.get(stream.out_valid):
                valid_at.append(clock)
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert valid_at == list(range(latency, latency + len(words)))


class CoreIgnoresStall(Stream):
    """Broken: the core's registers advance every clock, also while the output is stalled."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.core.ce.eq(1)
        return m


class ReadyDuringReset(Stream):
    """Broken: in_ready ignores reset, so an input offered during reset is taken and lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.in_ready.eq(~self.out_valid | self.out_ready)
        return m


def test_stream_check_catches_a_core_that_ignores_back_pressure(small_ir):
    codes = random_codes(small_ir, 40, seed=3)
    seen = run_stream(CoreIgnoresStall(Core(small_ir, PipelinePlan.parse("layers"))), codes, seed=4,
                      p_valid=1.0, p_ready=0.4)
    with pytest.raises(AssertionError):
        assert_stream_correct(seen, small_ir, codes, 4)


def test_stream_check_catches_ready_during_reset(small_ir):
    codes = random_codes(small_ir, 10, seed=5)
    seen = run_stream(ReadyDuringReset(Core(small_ir, PipelinePlan.parse(2))), codes, seed=6,
                      p_valid=1.0, p_ready=1.0)
    assert seen.ready_in_reset
    with pytest.raises(AssertionError, match="reset"):
        assert_stream_correct(seen, small_ir, codes, 2)


def test_stream_check_catches_a_wrong_table(small_ir):
    """The results are compared with evaluate_ir: a core built from a flipped table disagrees."""
    last = small_ir.layers[-1]
    tables = last.tables.copy()
    tables[:] = ~tables  # every node of the last layer inverted
    bad = NetlistIR(small_ir.input_shape, small_ir.encoder, small_ir.layers[:-1] + (LUTLayer(last.name, last.inputs,
                    tables),), small_ir.class_wires)
    codes = random_codes(small_ir, 20, seed=7)
    seen = run_stream(Stream(Core(bad, PipelinePlan.parse("layers"))), codes, seed=8, p_valid=1.0, p_ready=1.0)
    with pytest.raises(AssertionError):
        assert_stream_correct(seen, small_ir, codes, 4)
