"""One layer of k-input LUTs, built as a single assignment (fast elaboration)."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import C, Cat, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..ir import CONST0, CONST1
from ..truth_tables import row_to_int
from .tables import lut6_init

LUT_STYLES = ("behavioral", "xilinx")


class LUTLayer(wiring.Component):
    """``x``: the layer's distinct input wires (in the order given by ``reads``); ``y``: node m at bit m.

    ``inputs`` (N, k) holds, per node and address bit j, an index into ``x`` or the IR constants
    ``CONST0`` / ``CONST1``; ``tables`` bool (N, 2**k) with entry ``a = sum_j bit_j * 2**j``.

    ``lut_style="behavioral"`` writes each node as ``TABLE >> {address}``; ``"xilinx"`` instantiates one
    ``LUT6`` primitive per node (input j on ``I{j}``, the table repeated over unused inputs, tied to 0).
    """

    def __init__(self, num_inputs: int, inputs: np.ndarray, tables: np.ndarray, *, lut_style: str = "behavioral"):
        if lut_style not in LUT_STYLES:
            raise ValueError(f"lut_style must be one of {LUT_STYLES}, got {lut_style!r}")
        inputs = np.asarray(inputs, dtype=np.int64)
        if lut_style == "xilinx" and inputs.shape[1] > 6:
            raise ValueError(f"lut_style='xilinx' maps one node to one LUT6 and needs k <= 6, got k={inputs.shape[1]}")
        self._inputs = inputs
        self._tables = np.asarray(tables, dtype=np.bool_)
        self._lut_style = lut_style
        super().__init__({"x": In(max(1, num_inputs)), "y": Out(inputs.shape[0])})

    def _address_bits(self, row) -> list:
        bits = []
        for i in row.tolist():
            if i == CONST0:
                bits.append(C(0, 1))
            elif i == CONST1:
                bits.append(C(1, 1))
            else:
                bits.append(self.x[i])
        return bits

    def elaborate(self, platform):
        m = Module()
        n, k = self._inputs.shape
        if self._lut_style == "behavioral":
            out = [Const(row_to_int(table), 1 << k).bit_select(Cat(*self._address_bits(row)), 1)
                   for row, table in zip(self._inputs, self._tables)]
            m.d.comb += self.y.eq(Cat(*out))
        else:
            y = Signal(n)
            zero = C(0, 1)
            for node, (row, table) in enumerate(zip(self._inputs, self._tables)):
                address = self._address_bits(row) + [zero] * (6 - k)
                ports = {f"i_I{j}": bit for j, bit in enumerate(address)}
                m.submodules[f"lut{node}"] = Instance("LUT6", p_INIT=Const(lut6_init(table), 64), o_O=y[node],
                                                      **ports)
            m.d.comb += self.y.eq(y)
        return m
