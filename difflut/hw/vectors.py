"""Test vectors of an export: raw input codes with the expected class scores and classes.

One :class:`TestVectors` is validated once against the IR (:meth:`TestVectors.for_ir`) and then read by
every backend: the C selftest embeds it, the Verilog folder holds it as ``vectors.json``
(:meth:`TestVectors.json_bytes`), and :func:`difflut.hw.sim.run_sim` compares a simulation with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .evaluate import check_codes, evaluate_ir
from .ir import NetlistIR

FORMAT = "difflut-vectors"


@dataclass(frozen=True)
class TestVectors:
    """``codes`` int64 (B, F) raw input codes (features row-major over ``input_shape``), ``scores`` int64
    (B, C) expected class popcounts, ``classes`` int64 (B,) expected predictions (first maximum)."""

    __test__ = False  # not a pytest test class

    codes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self):
        codes, scores, classes = (np.asarray(a) for a in (self.codes, self.scores, self.classes))
        for label, a in (("codes", codes), ("scores", scores), ("classes", classes)):
            if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
                raise TypeError(f"test vector {label} must be an integer array, got dtype {a.dtype}")
        batch = codes.shape[0] if codes.ndim == 2 else None
        if batch is None or scores.ndim != 2 or scores.shape[0] != batch or classes.shape != (batch,):
            raise InputError(f"test vectors must be codes (B, F), scores (B, C) and classes (B,), got "
                             f"{codes.shape}, {scores.shape} and {classes.shape}")
        for label, a in (("codes", codes), ("scores", scores), ("classes", classes)):
            object.__setattr__(self, label, np.ascontiguousarray(a, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def for_ir(cls, ir: NetlistIR, codes, scores=None, classes=None) -> "TestVectors":
        """Vectors checked against ``ir``: codes (B, *input_shape) or (B, F) in the input format's range,
        scores (B, num_classes), classes (B,). Missing expectations are computed by
        :func:`difflut.hw.evaluate.evaluate_ir`. Raises :class:`~difflut.errors.InputError` / TypeError."""
        flat = check_codes(ir, codes)
        if scores is None or classes is None:
            got_scores, got_classes = evaluate_ir(ir, flat)
            scores = got_scores if scores is None else scores
            classes = got_classes if classes is None else classes
        scores, classes = np.asarray(scores), np.asarray(classes)
        batch, num_classes = flat.shape[0], ir.num_classes
        if scores.shape != (batch, num_classes) or classes.shape != (batch,):
            raise InputError(f"expected scores ({batch}, {num_classes}) and classes ({batch},), "
                             f"got {scores.shape} and {classes.shape}")
        return cls(flat, scores, classes)

    @classmethod
    def of(cls, ir: NetlistIR, vectors) -> "TestVectors":
        """``vectors`` as given to the backends: a :class:`TestVectors` (checked against ``ir``), a tuple
        ``(codes, scores, classes)`` or a dict with ``codes`` and optionally ``scores`` and ``classes``."""
        if isinstance(vectors, TestVectors):
            return cls.for_ir(ir, vectors.codes, vectors.scores, vectors.classes)
        if isinstance(vectors, (tuple, list)):
            if len(vectors) != 3:
                raise InputError("vectors as a sequence must be (codes, scores, classes)")
            return cls.for_ir(ir, *vectors)
        if not isinstance(vectors, dict) or "codes" not in vectors:
            raise InputError("vectors must be a dict with 'codes' (and optionally 'scores', 'classes')")
        return cls.for_ir(ir, vectors["codes"], vectors.get("scores"), vectors.get("classes"))

    def json_bytes(self) -> bytes:
        """``vectors.json``: one vector per line, compact and diff-friendly."""
        rows = zip(self.codes.tolist(), self.scores.tolist(), self.classes.tolist())
        body = [json.dumps({"codes": c, "scores": s, "class": k}, separators=(",", ":")) for c, s, k in rows]
        return ("\n".join([f'{{"format": "{FORMAT}", "vectors": [', ",\n".join(body), "]}"]) + "\n").encode()
