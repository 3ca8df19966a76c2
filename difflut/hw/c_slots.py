"""The C backend's storage plan for an optimised netlist: which wires get a ``uint64_t`` slot, in
which order the LUTs are computed, and which LUTs share one loop.

The netlist must be a fixed point of :func:`difflut.hw.passes.optimize` (``generate_header`` runs
it): no LUT or class wire reads a constant encoder bit, every LUT input is a wire its table
depends on or :data:`CONST0`, and every LUT reaches a class. The plan then only allocates:

* a slot for every encoder bit some LUT or class reads (the others are never computed), in wire
  order, then one per LUT in the order of computation;
* per layer, the LUTs whose table is shared by at least :data:`LOOP_MIN_LUTS` LUTs of that layer
  (a convolution applies one table at every position) form a :class:`LutLoop`: one formula in a
  loop over an index table, with consecutive output slots. The other LUTs ("single") are computed
  first, each by its own statement, in wire order.

Without loops the LUT slots follow the wire order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .truth_tables import row_to_int, rows_to_ints
from .ir import CONST0, CONST1, NetlistIR

#: a table shared by at least this many LUTs of one layer is computed by a loop
LOOP_MIN_LUTS = 8


@dataclass(frozen=True)
class LutLoop:
    """LUTs of one layer with one table ``tt`` over ``k`` inputs, computed by one loop.

    ``wires``: int64 (N,) their wire ids (ascending); ``inputs``: int64 (N, S) slots of the S inputs
    the table reads, in input order; ``columns``: the S input positions (0..k-1) they feed;
    ``first_slot``: the slot of wires[0] (the others follow).
    """

    k: int
    tt: int
    wires: np.ndarray
    inputs: np.ndarray
    columns: tuple[int, ...]
    first_slot: int


class SlotPlan:
    """Slots and computation order of an optimised IR (see the module docstring).

    Attributes: ``live_enc`` (encoder wires with a slot, ascending), ``steps`` (per layer: a list of
    single LUT wires, then the layer's :class:`LutLoop` s; single lists of consecutive layers are
    merged), ``slot`` (int64 (num_wires,), -1 for wires without a slot), ``num_slots``,
    ``class_refs`` (per class, the wires it counts) and ``class_const1`` (per class, its CONST1 wires).
    """

    def __init__(self, ir: NetlistIR):
        self.ir = ir
        n_enc = ir.num_encoder_wires
        read = np.concatenate([layer.inputs.ravel() for layer in ir.layers] + [ir.class_wires.ravel()])
        read = read[(read >= 0) & (read < n_enc)]
        enc_live = np.zeros(n_enc, dtype=bool)
        enc_live[read] = True
        self.live_enc = np.flatnonzero(enc_live).tolist()
        self.slot = np.full(ir.num_wires, -1, dtype=np.int64)
        self.slot[self.live_enc] = np.arange(len(self.live_enc))
        self._tables: dict[int, int] = {}  # single LUT wire -> table
        self._layer_of: dict[int, int] = {}
        self.steps: list = []
        next_slot = len(self.live_enc)
        for index, (layer, base) in enumerate(zip(ir.layers, ir.layer_bases)):
            loops, singles = self._split_layer(layer)
            wires = (base + singles).tolist()
            self.slot[wires] = np.arange(next_slot, next_slot + len(wires))
            next_slot += len(wires)
            rows = rows_to_ints(layer.tables[singles])
            self._tables.update(zip(wires, rows))
            self._layer_of.update(dict.fromkeys(wires, index))
            if wires:
                if self.steps and isinstance(self.steps[-1], list):
                    self.steps[-1].extend(wires)
                else:
                    self.steps.append(wires)
            for tt, members in loops:
                self.slot[base + members] = np.arange(next_slot, next_slot + len(members))
                inputs = layer.inputs[members]
                columns = tuple(int(j) for j in np.flatnonzero(inputs[0] != CONST0))
                self.steps.append(LutLoop(layer.k, tt, base + members, self.slot[inputs[:, columns]], columns,
                                          next_slot))
                next_slot += len(members)
        self.num_slots = next_slot
        self.class_refs: list[list[int]] = []
        self.class_const1: list[int] = []
        for wires in ir.class_wires:
            self.class_refs.append([int(w) for w in wires if w >= 0])
            self.class_const1.append(int((wires == CONST1).sum()))
        if (self.slot[ir.class_wires[ir.class_wires >= 0]] < 0).any():
            raise AssertionError("a class reads a wire without a slot: the IR is not optimised")

    @staticmethod
    def _split_layer(layer) -> tuple[list[tuple[int, np.ndarray]], np.ndarray]:
        """([(table, member node indices)] of the loops in order of first member, single node indices)."""
        packed = np.packbits(layer.tables, axis=1, bitorder="little")
        _, first, inverse, counts = np.unique(packed, axis=0, return_index=True, return_inverse=True,
                                              return_counts=True)
        inverse = inverse.ravel()
        in_loop = counts[inverse] >= LOOP_MIN_LUTS
        loops = []
        for group in np.flatnonzero(counts >= LOOP_MIN_LUTS)[np.argsort(first[counts >= LOOP_MIN_LUTS])]:
            members = np.flatnonzero(inverse == group)
            loops.append((row_to_int(layer.tables[members[0]]), members))
        return loops, np.flatnonzero(~in_loop)

    def single(self, wire: int) -> tuple[int, int, list[int | None]]:
        """(k, table, input wire per input or None where CONST0) of a single LUT."""
        layer = self.ir.layers[self._layer_of[wire]]
        row = layer.inputs[wire - self.ir.layer_bases[self._layer_of[wire]]]
        return layer.k, self._tables[wire], [int(s) if s != CONST0 else None for s in row]
