"""The formula synthesiser on its own: the emitted C statement, evaluated with numpy, is the table."""

from __future__ import annotations

import numpy as np
import pytest

from difflut.hw.formula import FormulaSynth, TruthMasks, formula_c, three_input_formulas


def evaluate_statement(text: str, n: int) -> int:
    """Run the C statement ``y = ...;`` (or ``{ uint64_t t0 = ...; ...; y = ...; }``) over x0..x{n-1} =
    address bits of all 2**n addresses; returns the table it computes as an int (bit a = address a)."""
    addresses = np.arange(1 << n, dtype=np.uint64)
    scope = {f"x{j}": (addresses >> np.uint64(j)) & np.uint64(1) for j in range(n)}
    body = text.strip()
    if body.startswith("{"):
        assert body.endswith("}")
        body = body[1:-1]
    statements = [s.strip() for s in body.split(";") if s.strip()]
    for statement in statements:
        target, expr = (part.strip() for part in statement.removeprefix("uint64_t ").split("=", 1))
        assert target.isidentifier(), statement
        scope[target] = np.asarray(eval(expr, {"__builtins__": {}}, scope), dtype=np.uint64)  # noqa: S307
    bits = np.broadcast_to(scope["y"] & np.uint64(1), addresses.shape).astype(np.uint8)
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def check(tt: int, n: int, synth: FormulaSynth) -> str:
    text = formula_c(tt, n, [f"x{j}" for j in range(n)], "y", synth)
    assert evaluate_statement(text, n) == tt, (n, hex(tt), text)
    return text


def test_every_three_input_function():
    synth = FormulaSynth()
    for tt in range(1, 255):
        check(tt, 3, synth)
    cost, _ = three_input_formulas()
    assert cost[0xAA] == 0 and cost[0x55] == 1 and cost[0x88] == 1 and cost[0x96] == 2  # x0, ~x0, x0&x1, parity
    assert max(cost) < 1 << 20  # every function has a formula


@pytest.mark.parametrize("n", range(1, 7))
def test_random_tables_up_to_six_inputs(n):
    rng = np.random.default_rng(n)
    synth = FormulaSynth()
    full = (1 << (1 << n)) - 1
    tables = {int.from_bytes(rng.bytes(8), "little") & full for _ in range(300)}
    masks = TruthMasks(n)
    tables |= {masks.lit[0], masks.full ^ masks.lit[-1]}  # a wire, an inverter
    tables |= {_fold(masks, op) for op in ("&", "|", "^")}
    for tt in sorted(tables - {0, full}):
        check(tt, n, synth)


def _fold(masks: TruthMasks, op: str) -> int:
    value = masks.lit[0]
    for lit in masks.lit[1:]:
        value = value & lit if op == "&" else value | lit if op == "|" else value ^ lit
    return value


def test_flipped_bit_is_caught():
    """The check above is not vacuous: the formula of a table never evaluates to a table one bit off."""
    rng = np.random.default_rng(0)
    synth = FormulaSynth()
    for n in (3, 6):
        for _ in range(20):
            tt = int.from_bytes(rng.bytes(8), "little") & ((1 << (1 << n)) - 1) or 1
            text = check(tt, n, synth)
            bit = int(rng.integers(1 << n))
            assert evaluate_statement(text, n) != tt ^ (1 << bit)


def test_shared_subexpressions_and_constants():
    """A function reusing a sub-function names it once; constant tables have no formula."""
    masks = TruthMasks(4)
    a = masks.lit[0] ^ masks.lit[1]
    tt = (masks.lit[2] & a) | (masks.lit[3] & ~a & masks.full)
    text = check(tt, 4, FormulaSynth())
    assert text.startswith("{ uint64_t t0 = ") and text.count("t0") >= 3  # named once, read twice
    for constant in (0, masks.full):
        with pytest.raises(ValueError, match="constant"):
            formula_c(constant, 4, ["a", "b", "c", "d"], "y")
