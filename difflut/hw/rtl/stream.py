"""The core behind a valid/ready stream interface with backpressure."""

from __future__ import annotations

from amaranth.hdl import Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import Core


class Stream(wiring.Component):
    """Ports ``in_valid``/``in_ready``/``in_codes`` and ``out_valid``/``out_ready``/``out_scores``/``out_class``.

    A transfer happens on a clock edge where valid and ready are both high. The pipeline advances
    (``ce``) whenever its output slot is empty or being taken (``ce = ~out_valid | out_ready``), so with
    ``out_ready`` held high it accepts one input and returns one result per clock, ``latency`` clocks
    later; ``in_ready = ce & ~rst`` (combinational from ``out_ready``; low during reset, when an input
    would be lost). With latency 0 the core is
    combinational: ``out_valid = in_valid`` and ``in_ready = out_ready``.
    """

    def __init__(self, core: Core):
        self.core = core
        super().__init__({
            "in_valid": In(1), "in_ready": Out(1), "in_codes": In(len(core.codes)),
            "out_valid": Out(1), "out_ready": In(1),
            "out_scores": Out(len(core.scores)), "out_class": Out(len(core.index)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.d.comb += [core.codes.eq(self.in_codes), self.out_scores.eq(core.scores),
                     self.out_class.eq(core.index)]
        latency = core.latency
        if latency == 0:
            m.d.comb += [self.out_valid.eq(self.in_valid), self.in_ready.eq(self.out_ready), core.ce.eq(1)]
            return m
        valid = Signal(latency, name="valid_pipe")
        ce = Signal(name="advance")
        m.d.comb += [ce.eq(~self.out_valid | self.out_ready), core.ce.eq(ce), self.in_ready.eq(ce & ~ResetSignal()),
                     self.out_valid.eq(valid[-1])]
        with m.If(ce):
            m.d.sync += valid.eq((valid << 1) | self.in_valid)
        return m
