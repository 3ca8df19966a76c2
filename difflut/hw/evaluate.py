"""The reference evaluator of a :class:`~difflut.hw.ir.NetlistIR`: numpy only, bit-packed.

``evaluate_ir(ir, codes)`` reads nothing but the IR. Samples are packed 64 to a ``uint64``
word (sample ``s`` of a chunk is bit ``s % 64`` of word ``s // 64``), so every wire is a row
of words and every operation works on 64 samples at once:

* encoder bits: ``code >= threshold`` comparisons where the encoder stage stores a threshold,
  table lookups on the code's raw bit pattern elsewhere;
* LUT layers: all nodes of a layer at once (in node chunks, to bound memory), by Shannon
  expansion: the table rows become constant words, then each input halves the table with a
  word-wide multiplexer ``t0 ^ (x & (t0 ^ t1))`` until one word per node is left;
* GroupSum: per-sample popcount of each class's wires (constants count 0 / 1);
* decision: first maximum (ties -> lowest class index).

Memory is bounded by evaluating at most ``chunk`` samples at a time.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .ir import NetlistIR

#: samples per chunk (a multiple of 64)
DEFAULT_CHUNK = 1 << 14
#: uint64 words per intermediate Shannon-expansion block (bounds the node chunk)
_BLOCK_WORDS = 1 << 20
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def check_codes(ir: NetlistIR, codes) -> np.ndarray:
    """Integer codes (B, *input_shape) or (B, F) -> int64 (B, F); raises InputError / TypeError."""
    codes = np.asarray(codes)
    if codes.dtype == np.bool_ or not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"codes must be an integer array (raw input codes), got dtype {codes.dtype}")
    features = ir.num_features
    shape = tuple(ir.input_shape)
    if codes.ndim >= 1 and codes.shape[1:] == shape:
        flat = codes.reshape(codes.shape[0], features)
    elif codes.ndim == 2 and codes.shape[1] == features:
        flat = codes
    else:
        raise InputError(f"codes must have shape (batch, {', '.join(map(str, shape))}) or (batch, {features}), "
                         f"got {codes.shape}")
    fmt = ir.encoder.input_format
    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < fmt.min_code or hi > fmt.max_code:
            raise InputError(f"codes out of range for the {fmt.bits}-bit {'signed' if fmt.signed else 'unsigned'} "
                             f"input format: allowed {fmt.min_code}..{fmt.max_code}, got {lo}..{hi}")
    return flat.astype(np.int64, copy=False)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bool (B, M) -> uint64 (M, ceil(B / 64)); sample s is bit s % 64 of word s // 64."""
    b, m = bits.shape
    words = -(-b // 64)
    padded = np.zeros((m, words * 64), dtype=np.bool_)
    padded[:, :b] = bits.T
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64, copy=False)


def unpack_counts(words: np.ndarray, batch: int) -> np.ndarray:
    """uint64 (..., G, W) -> int64 (batch, ...): per sample, the number of set bits over G."""
    as_bytes = np.ascontiguousarray(words.astype("<u8", copy=False)).view(np.uint8)
    bits = np.unpackbits(as_bytes, axis=-1, bitorder="little")[..., :batch]  # (..., G, batch)
    counts = bits.sum(axis=-2, dtype=np.int64)  # (..., batch)
    return np.moveaxis(counts, -1, 0)


def encode_packed(ir: NetlistIR, codes: np.ndarray) -> np.ndarray:
    """Checked int64 codes (B, F) -> packed encoder wires uint64 (F * n, W), from the encoder's bit tables
    (:meth:`~difflut.hw.encoder_form.EncoderHardwareForm.evaluate`; a threshold bit's table is
    ``code >= threshold``, checked when the form is built)."""
    return pack_bits(ir.encoder.evaluate(codes))


def lut_layer_packed(inputs: np.ndarray, tables: np.ndarray, wires: np.ndarray) -> np.ndarray:
    """One LUT layer on packed wires: ``wires`` (num_rows, W) indexable by the wire ids in
    ``inputs`` (N, k) (constants as negative rows), ``tables`` bool (N, 2**k) -> uint64 (N, W)."""
    n, k = inputs.shape
    words = wires.shape[1]
    out = np.empty((n, words), dtype=np.uint64)
    step = max(1, _BLOCK_WORDS // (max(1, words) << max(0, k - 1)))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        x = wires[inputs[lo:hi]]  # (m, k, W)
        t = tables[lo:hi]
        # first halving on input 0 straight from the table bits: f = t0 & ~x0 | t1 & x0
        t0 = np.where(t[:, 0::2, None], _ONES, np.uint64(0))
        t1 = np.where(t[:, 1::2, None], _ONES, np.uint64(0))
        x0 = x[:, 0, None, :]
        cur = t0 ^ (x0 & (t0 ^ t1))  # (m, 2**(k-1), W)
        for j in range(1, k):
            lo_half, hi_half = cur[:, 0::2], cur[:, 1::2]
            cur = lo_half ^ (x[:, j, None, :] & (lo_half ^ hi_half))
        out[lo:hi] = cur[:, 0]
    return out


def evaluate_ir(ir: NetlistIR, codes, chunk: int = DEFAULT_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Scores int64 (B, C) and predicted classes int64 (B,) of integer codes (B, *input_shape) or (B, F).

    Raises TypeError for non-integer codes, :class:`~difflut.errors.InputError` for a wrong
    shape or codes outside the IR's input format.
    """
    if not isinstance(ir, NetlistIR):
        raise TypeError(f"ir must be a NetlistIR, got {type(ir).__name__}")
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 64 or chunk % 64:
        raise ValueError(f"chunk must be a positive multiple of 64, got {chunk!r}")
    flat = check_codes(ir, codes)
    batch = flat.shape[0]
    scores = np.zeros((batch, ir.num_classes), dtype=np.int64)
    for lo in range(0, batch, chunk):
        scores[lo:lo + chunk] = _scores_chunk(ir, flat[lo:lo + chunk])
    predicted = scores.argmax(axis=1).astype(np.int64) if batch else np.zeros(0, dtype=np.int64)
    return scores, predicted


def _scores_chunk(ir: NetlistIR, codes: np.ndarray) -> np.ndarray:
    batch = codes.shape[0]
    enc_words = encode_packed(ir, codes)
    words = enc_words.shape[1]
    # rows 0..num_wires-1: wires; row num_wires: CONST1 (index -2); row num_wires + 1: CONST0 (index -1)
    wires = np.empty((ir.num_wires + 2, words), dtype=np.uint64)
    wires[: ir.num_encoder_wires] = enc_words
    wires[-2] = _ONES
    wires[-1] = 0
    for layer, base in zip(ir.layers, ir.layer_bases):
        wires[base: base + layer.num_nodes] = lut_layer_packed(layer.inputs, layer.tables, wires)
    class_words = wires[ir.class_wires]  # (C, G, W)
    return unpack_counts(class_words, batch)
