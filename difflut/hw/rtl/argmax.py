"""First maximum of the class scores: a comparator tree, ties -> lowest class index."""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def index_width(num_classes: int) -> int:
    return max(1, (num_classes - 1).bit_length())


class Argmax(wiring.Component):
    """``scores``: class c at ``[c*score_width, (c+1)*score_width)`` (unsigned); ``index``: the lowest
    class index among the maximal scores.

    Each comparator sees a lower-index candidate ``a`` and a higher-index one ``b`` and keeps ``b`` only
    when ``b > a``, so every subtree yields the first maximum of its range.
    """

    def __init__(self, num_classes: int, score_width: int):
        self.num_classes = num_classes
        self.score_width = score_width
        super().__init__({"scores": In(num_classes * score_width), "index": Out(index_width(num_classes))})

    def elaborate(self, platform):
        m = Module()
        w, iw = self.score_width, index_width(self.num_classes)
        candidates = [(self.scores[c * w:(c + 1) * w], C(c, iw)) for c in range(self.num_classes)]
        while len(candidates) > 1:
            merged = []
            for i in range(0, len(candidates) - 1, 2):
                (sa, ia), (sb, ib) = candidates[i], candidates[i + 1]
                take_b = sb > sa
                merged.append((Mux(take_b, sb, sa), Mux(take_b, ib, ia)))
            if len(candidates) % 2:
                merged.append(candidates[-1])
            candidates = merged
        m.d.comb += self.index.eq(candidates[0][1])
        return m
