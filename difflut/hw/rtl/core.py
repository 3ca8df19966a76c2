"""The whole network with a fixed latency: encoder -> LUT layers -> popcounts -> argmax."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..ir import CONST0, CONST1, NetlistIR
from .argmax import Argmax, index_width
from .encoder import Encoder
from .lut_layer import LUTLayer
from .pipeline import PipelinePlan, popcount_depth
from .popcount import Popcount

MAX_SIGNAL_WIDTH = 1 << 16  # Amaranth's RTLIL backend refuses wider signals (and module ports)


def layer_parts(inputs: np.ndarray) -> list[slice]:
    """Contiguous node ranges of one IR layer (``inputs`` (N, k)) whose LUT units each have at most
    ``MAX_SIGNAL_WIDTH`` nodes and distinct input wires: one range for every layer that fits."""
    n = inputs.shape[0]
    parts = -(-n // MAX_SIGNAL_WIDTH)
    while True:
        bounds = np.linspace(0, n, parts + 1).round().astype(np.int64)
        ranges = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        if all(np.unique(inputs[r][inputs[r] >= 0]).size <= MAX_SIGNAL_WIDTH for r in ranges):
            return ranges
        parts += 1


def last_use(ir: NetlistIR) -> np.ndarray:
    """int64 (num_wires,): the last stage reading each wire (layer i is stage i + 1, the popcounts
    stage L + 1), -1 for wires nobody reads."""
    last = np.full(ir.num_wires, -1, dtype=np.int64)
    for i, layer in enumerate(ir.layers):
        reads = layer.inputs[layer.inputs >= 0]
        last[reads] = np.maximum(last[reads], i + 1)
    wires = ir.class_wires[ir.class_wires >= 0]
    last[wires] = len(ir.layers) + 1
    return last


class Core(wiring.Component):
    """``codes`` in (F codes of ``bits`` bits, feature f at ``[f*bits, (f+1)*bits)``); ``scores`` out
    (class c at ``[c*S, (c+1)*S)``, ``S = G.bit_length()``) and ``index`` out (predicted class).

    With a pipeline plan the results appear ``latency`` enabled clocks after their input; every
    register is enabled by ``ce`` (tie it to 1 for a plain fixed-latency pipeline). At a cut only the
    wires some later stage still reads are registered. With ``pipeline="none"`` the core is purely
    combinational and ``ce`` is unused.
    """

    def __init__(self, ir: NetlistIR, plan: PipelinePlan, *, lut_style: str = "behavioral"):
        self.ir = ir
        self.plan = plan
        self.lut_style = lut_style
        classes, group = ir.class_wires.shape
        self.score_width = group.bit_length()
        self.latency = plan.latency(len(ir.layers), group)
        super().__init__({
            "codes": In(ir.num_features * ir.encoder.input_format.bits),
            "ce": In(1),
            "scores": Out(classes * self.score_width),
            "index": Out(index_width(classes)),
        })

    def _cut(self, m: Module, values: list, live: np.ndarray, name: str) -> None:
        """Register the wires ``live`` (in place in ``values``)."""
        chunks = [live[a:a + MAX_SIGNAL_WIDTH] for a in range(0, live.size, MAX_SIGNAL_WIDTH)]
        for j, chunk in enumerate(chunks):
            reg = Signal(int(chunk.size), name=name if len(chunks) == 1 else f"{name}_part{j}", reset_less=True)
            with m.If(self.ce):
                m.d.sync += reg.eq(Cat(*[values[w] for w in chunk.tolist()]))
            for b, w in enumerate(chunk.tolist()):
                values[w] = reg[b]

    def elaborate(self, platform):
        m = Module()
        ir, plan = self.ir, self.plan
        last = last_use(ir)
        values = [None] * ir.num_wires

        m.submodules.encoder = encoder = Encoder(ir.encoder)
        m.d.comb += encoder.codes.eq(self.codes)
        end = ir.num_encoder_wires
        values[:end] = [encoder.bits_out[i] for i in range(end)]
        if plan.register_stages:
            self._cut(m, values, np.nonzero(last[:end] > 0)[0], "cut_encoder")

        for i, (layer, base) in enumerate(zip(ir.layers, ir.layer_bases)):
            parts = layer_parts(layer.inputs)
            for j, part in enumerate(parts):  # a layer too wide for one Amaranth signal: several units
                inputs = layer.inputs[part]
                reads = np.unique(inputs[inputs >= 0])
                local = np.where(inputs >= 0, np.searchsorted(reads, inputs), inputs)
                unit = LUTLayer(int(reads.size), local, layer.tables[part], lut_style=self.lut_style)
                m.submodules[f"layer{i}" if len(parts) == 1 else f"layer{i}_part{j}"] = unit
                if reads.size:
                    m.d.comb += unit.x.eq(Cat(*[values[w] for w in reads.tolist()]))
                values[base + part.start:base + part.stop] = [unit.y[b] for b in range(part.stop - part.start)]
            end = base + layer.num_nodes
            if plan.register_stages:
                self._cut(m, values, np.nonzero(last[:end] > i + 1)[0], f"cut_layer{i}")

        classes, group = ir.class_wires.shape
        cuts = plan.adder_cuts(popcount_depth(group))
        counts = []
        for c in range(classes):
            unit = Popcount(group, cuts)
            m.submodules[f"popcount{c}"] = unit
            bits = [C(0, 1) if w == CONST0 else C(1, 1) if w == CONST1 else values[w]
                    for w in ir.class_wires[c].tolist()]
            m.d.comb += unit.x.eq(Cat(*bits))
            if cuts:
                m.d.comb += unit.ce.eq(self.ce)
            counts.append(unit.count)
        m.d.comb += self.scores.eq(Cat(*counts))

        m.submodules.argmax = argmax = Argmax(classes, self.score_width)
        m.d.comb += [argmax.scores.eq(self.scores), self.index.eq(argmax.index)]
        return m
