"""The input encoder: per feature bit either ``code >= threshold`` or a table over the raw code."""

from __future__ import annotations

from amaranth.hdl import C, Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..encoder_form import EncoderHardwareForm
from ..truth_tables import row_to_int


class Encoder(wiring.Component):
    """``codes``: F codes of ``bits`` bits, feature f at ``[f*bits, (f+1)*bits)`` (two's complement when
    signed); ``bits_out``: the F * n encoder wires, wire ``f*n + j`` at bit ``f*n + j``.

    Threshold bits are integer comparators (signed when the input format is signed), one per distinct
    (feature, threshold): equal thresholds of a feature share one comparator; thresholds outside the
    code range become constants. Other bits are a ``2**bits``-entry table indexed by the raw code.
    """

    def __init__(self, form: EncoderHardwareForm):
        fmt = form.input_format
        self._fmt = fmt
        self._is_threshold = form.is_threshold
        self._thresholds = form.thresholds
        self._tables = form.tables
        super().__init__({"codes": In(form.num_features * fmt.bits), "bits_out": Out(form.output_size)})

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        width = fmt.bits
        features, n = self._is_threshold.shape
        out = []
        for f in range(features):
            raw = self.codes[f * width:(f + 1) * width]
            code = raw.as_signed() if fmt.signed else raw
            compare = {}  # threshold -> its comparator, shared by equal thresholds
            for j in range(n):
                if self._is_threshold[f, j]:
                    t = int(self._thresholds[f, j])
                    if t <= fmt.min_code:
                        out.append(C(1, 1))
                    elif t > fmt.max_code:
                        out.append(C(0, 1))
                    else:
                        if t not in compare:
                            compare[t] = Signal(name=f"ge_f{f}_t{t}".replace("-", "m"))
                            m.d.comb += compare[t].eq(code >= t)
                        out.append(compare[t])
                else:
                    out.append(Const(row_to_int(self._tables[f, j]), fmt.num_codes).bit_select(raw, 1))
        m.d.comb += self.bits_out.eq(Cat(*out))
        return m
