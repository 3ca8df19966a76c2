"""Test helpers for the netlist IR: the reference evaluator, the random-IR generator, random codes
and test vectors. Every test of the hardware toolchain takes these from here (not from another test
file); the name does not start with ``test_``, so pytest does not collect it.

The reference (:func:`reference_wires`, :func:`reference_eval`) is the IR's definition
(docs/ir.md) written out one wire at a time, numpy only across the batch; it shares nothing with
``difflut.hw.evaluate`` (no bit packing, no chunks, no vectorisation over nodes).
"""

from __future__ import annotations

import numpy as np

from difflut.hw.encoder_form import EncoderHardwareForm
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.ir import CONST0, CONST1, LUTLayer, NetlistIR
from difflut.input_format import InputFormat


# -- the reference evaluator ---------------------------------------------------------------------------
def reference_wires(ir: NetlistIR, codes) -> np.ndarray:
    """Every wire's value on integer codes (B, *input_shape) (numpy or torch) -> bool (B, num_wires + 2).

    Column w holds wire w; the two extra columns at the end hold the constants, so that negative
    wire numbers read them: column ``CONST0`` (-1) is False, column ``CONST1`` (-2) True.
    Encoder wire ``f * num_bits + b`` is ``code_f >= threshold`` for a threshold bit, else the bit's
    table at the code's raw bit pattern (two's complement for signed codes); LUT node m of a layer
    reads its table at the address whose bit j is the value of its input j.
    """
    codes = np.asarray(codes).astype(np.int64).reshape(len(codes), -1)
    enc = ir.encoder
    values = np.zeros((len(codes), ir.num_wires + 2), dtype=bool)
    values[:, CONST1] = True
    wire = 0
    for f in range(enc.num_features):
        code = codes[:, f]
        for b in range(enc.num_bits):
            if enc.is_threshold[f, b]:
                values[:, wire] = code >= enc.thresholds[f, b]
            else:
                values[:, wire] = enc.tables[f, b, code % enc.input_format.num_codes]
            wire += 1
    for layer in ir.layers:
        for node in range(layer.num_nodes):
            address = np.zeros(len(codes), dtype=np.int64)
            for j, source in enumerate(layer.inputs[node]):
                address += values[:, source].astype(np.int64) << j
            values[:, wire] = layer.tables[node, address]
            wire += 1
    return values


def reference_eval(ir: NetlistIR, codes) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (B, *input_shape) -> (scores int64 (B, C), classes int64 (B,)).

    Score c is the number of class c's wires that are 1; the class is the first maximum (ties to the
    lowest index)."""
    values = reference_wires(ir, codes)
    scores = np.zeros((len(values), ir.num_classes), dtype=np.int64)
    for c in range(ir.num_classes):
        for source in ir.class_wires[c]:
            scores[:, c] += values[:, source]
    classes = np.zeros(len(values), dtype=np.int64)
    for c in range(1, ir.num_classes):
        classes = np.where(scores[np.arange(len(values)), classes] < scores[:, c], c, classes)
    return scores, classes


# -- random IRs ----------------------------------------------------------------------------------------
def random_encoder(rng, fmt: InputFormat, features: int, num_bits: int, table_fraction: float = 0.4):
    """Random encoder stage: each bit a table bit (random over all codes) with probability
    ``table_fraction``, else a threshold bit, thresholds from ``min_code - 1`` to ``max_code + 2``
    (so some bits are always 1 and some always 0)."""
    numeric = np.arange(fmt.min_code, fmt.max_code + 1)
    address = numeric & (fmt.num_codes - 1)
    tables = np.zeros((features, num_bits, fmt.num_codes), dtype=bool)
    for f in range(features):
        for b in range(num_bits):
            if rng.random() < 1 - table_fraction:
                tables[f, b, address] = numeric >= int(rng.integers(fmt.min_code - 1, fmt.max_code + 3))
            else:
                tables[f, b] = rng.random(fmt.num_codes) < 0.5
    return EncoderHardwareForm.from_tables(fmt, "random", tables)


def _with_constants(rng, wires: np.ndarray, p: float) -> np.ndarray:
    """``wires`` with each entry replaced by CONST0 or CONST1 (even odds) with probability ``p``."""
    consts = rng.random(wires.shape) < p
    wires[consts] = rng.choice([CONST0, CONST1], size=int(consts.sum()))
    return wires


def random_ir(seed: int, *, fmt: InputFormat | None = None, input_shape=(2, 3), num_bits: int = 3,
              ks=(1, 2, 3, 4, 5, 6), widths=12, num_classes: int = 4, group: int | None = None,
              const_p: float = 0.08, table_fraction: float = 0.4, class_source: str = "any",
              class_consts=(0.08, 0.05)) -> NetlistIR:
    """A random IR, the same for the same arguments.

    * ``fmt``: the input format; None: a random one (1..10 bits, signed or not).
    * encoder: ``num_bits`` per feature of ``input_shape``, see :func:`random_encoder`.
    * layers: one per entry of ``ks`` (its k; None in ``ks``, or ``ks=None`` with ``widths`` a
      sequence: a random k in 1..8), ``widths`` nodes (an int: every layer); every input any earlier
      wire (skips over layers), a CONST0/CONST1 with probability ``const_p``; tables of density 1/2.
    * class wires: ``num_classes`` x ``group`` (None: last width // num_classes, at least 1), drawn
      from every wire (``class_source="any"``) or from the last layer (``"last"``; the encoder wires
      when there is no layer); then about a tenth replaced by one random wire (a wire several classes
      read), then CONST1 and CONST0 with the probabilities ``class_consts``.
    """
    rng = np.random.default_rng(seed)
    if fmt is None:
        fmt = InputFormat(int(rng.integers(1, 11)), signed=bool(rng.integers(2)))
    if ks is None:
        ks = [None] * len(widths)
    widths = [widths] * len(ks) if isinstance(widths, int) else list(widths)
    if len(widths) != len(ks):
        raise ValueError(f"{len(ks)} ks but {len(widths)} widths")
    features = int(np.prod(input_shape))
    encoder = random_encoder(rng, fmt, features, num_bits, table_fraction)
    layers, base, last = [], features * num_bits, 0
    for i, (k, width) in enumerate(zip(ks, widths)):
        k = int(rng.integers(1, 9)) if k is None else int(k)
        inputs = _with_constants(rng, rng.integers(0, base, size=(width, k)), const_p)
        layers.append(LUTLayer(f"layers.{i}", inputs, rng.random((width, 1 << k)) < 0.5))
        last, base = base, base + width
    if class_source not in ("last", "any"):
        raise ValueError(f"class_source must be 'last' or 'any', not {class_source!r}")
    if group is None:
        group = max(1, (widths[-1] if widths else features * num_bits) // num_classes)
    low = last if class_source == "last" else 0
    class_wires = rng.integers(low, base, size=(num_classes, group))
    class_wires[rng.random(class_wires.shape) < 0.1] = rng.integers(0, base)
    for const, p in zip((CONST1, CONST0), class_consts):
        class_wires[rng.random(class_wires.shape) < p] = const
    return NetlistIR(tuple(input_shape), encoder, tuple(layers), class_wires, {"seed": seed})


def rtl_ir(seed: int, *, features=6, bits=4, signed=True, num_bits=3, ks=(1, 2, 3, 4, 5, 6), nodes=12,
           classes=4, group=7) -> NetlistIR:
    """:func:`random_ir` in the terms the RTL tests use: ``features`` codes of ``bits`` bits, one layer
    of ``nodes`` nodes per k in ``ks``, ``classes`` x ``group`` class wires mostly from the last layer."""
    return random_ir(seed, fmt=InputFormat(bits, signed=signed), input_shape=(features,), num_bits=num_bits,
                     ks=ks, widths=nodes, num_classes=classes, group=group, class_source="last")


# -- codes and test vectors ----------------------------------------------------------------------------
def random_codes(ir: NetlistIR, n: int, seed: int = 0) -> np.ndarray:
    """int64 (n, *input_shape) uniform over the input format's codes; row 0 all ``min_code`` and row 1
    all ``max_code`` (when n allows)."""
    fmt = ir.encoder.input_format
    codes = np.random.default_rng(seed).integers(fmt.min_code, fmt.max_code + 1, size=(n, *ir.input_shape))
    codes[:2] = np.array([fmt.min_code, fmt.max_code])[: min(n, 2)].reshape(-1, *[1] * len(ir.input_shape))
    return codes


def vectors_of(ir: NetlistIR, n: int, seed: int = 0) -> dict:
    """Test vectors {"codes", "scores", "classes"} of :func:`random_codes`, expectations from
    ``evaluate_ir`` (the simulations check the Verilog against the IR evaluator)."""
    codes = random_codes(ir, n, seed)
    scores, classes = evaluate_ir(ir, codes)
    return {"codes": codes, "scores": scores, "classes": classes}


def corrupted(data: bytes, how: str, where: float, byte: int, count: int) -> bytes:
    """``data`` truncated at fraction ``where`` (``how="truncate"``), or with ``count`` bytes from there XORed
    with ``byte`` (hypothesis corruptions of files read from untrusted places)."""
    data = bytearray(data)
    at = min(int(where * len(data)), len(data) - 1)
    if how == "truncate":
        return bytes(data[:at])
    for i in range(at, min(at + count, len(data))):
        data[i] ^= byte
    return bytes(data)
