"""Popcount of one class's wires as a compressor tree (:mod:`.compressor`), optionally register-cut."""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .compressor import plan
from .pipeline import popcount_depth


def count_logic(bits: list) -> list:
    """The count of ``bits`` (1-bit values) as plain logic (half / full adders of ``^ & |``, no ``+``),
    LSB first, exactly as wide as ``len(bits)`` needs."""
    columns, out = [list(bits)], []
    while columns:
        column = columns.pop(0)
        carries = []
        while len(column) > 1:
            if len(column) >= 3:
                a, b, c = column.pop(), column.pop(), column.pop()
                column.insert(0, a ^ b ^ c)
                carries.append((a & b) | (a & c) | (b & c))
            else:
                a, b = column.pop(), column.pop()
                column.insert(0, a ^ b)
                carries.append(a & b)
        out.extend(column)
        if carries:
            if columns:
                columns[0].extend(carries)
            else:
                columns.append(carries)
    return out[:len(bits).bit_length()] if bits else []


class Popcount(wiring.Component):
    """``count`` = number of set bits of ``x`` (``width.bit_length()`` bits).

    Levels 1..L of carry-chain counters (:func:`.compressor.plan`) reduce the bit heap to two rows,
    a last level adds them with one carry-chain adder; ``popcount_depth(width)`` levels in all. A
    register (enabled by ``ce``) follows each level listed in ``cuts``; ``ce`` exists only when ``cuts``
    is not empty.
    """

    def __init__(self, width: int, cuts=()):
        self.width = width
        self.depth = popcount_depth(width)
        self.cuts = tuple(sorted(set(cuts)))
        if any(not 1 <= c <= self.depth for c in self.cuts):
            raise ValueError(f"cut levels must lie in 1..{self.depth}, got {self.cuts}")
        ports = {"x": In(width), "count": Out(width.bit_length())}
        if self.cuts:
            ports["ce"] = In(1)
        super().__init__(ports)

    def _register(self, m: Module, heap: list, level: int) -> list:
        out = []
        for c, column in enumerate(heap):
            if not column:
                out.append([])
                continue
            reg = Signal(len(column), name=f"l{level}_c{c}", reset_less=True)
            with m.If(self.ce):
                m.d.sync += reg.eq(Cat(*column))
            out.append([reg[i] for i in range(len(column))])
        return out

    def elaborate(self, platform):
        m = Module()
        heap = [[self.x[i] for i in range(self.width)]]
        level = 0
        for counters in plan(self.width):
            level += 1
            heap = heap + [[], [], [], []]
            new = [[] for _ in heap]
            done = 0
            for k, counter in enumerate(counters):
                j = counter.column
                while done < j:  # columns below this counter are finished: the rest passes through
                    new[done].extend(heap[done])
                    done += 1
                col = heap[j]
                x = [col.pop(0) for _ in range(counter.x)]
                di = col.pop(0) if counter.di else C(0, 1)
                cin = col.pop(0) if counter.cin else C(0, 1)
                up1 = heap[j + 1].pop(0) if counter.up1 else C(0, 1)
                width = counter.top.bit_length()
                # a named signal per counter keeps every expression one counter deep (reusing a
                # counter's sum inside the next one's expression would nest the trees level by level)
                total = Signal(width, name=f"l{level}_k{k}")
                m.d.comb += total.eq(Cat(di, up1) + Cat(*count_logic(x)) + cin)
                for i in range(width):
                    new[j + i].append(total[i])
            for c in range(done, len(heap)):
                new[c].extend(heap[c])
            while new and not new[-1]:
                new.pop()
            heap = new
            if level in self.cuts:
                heap = self._register(m, heap, level)
        if level < self.depth:  # the last level: two rows (and a carry-in) on one carry chain
            low = next(c for c, column in enumerate(heap) if len(column) >= 2)
            rows = [Cat(*[column[r] if r < len(column) else C(0, 1) for column in heap[low:]]) for r in range(2)]
            extra = heap[low][2] if len(heap[low]) > 2 else C(0, 1)
            level += 1
            total = Signal(len(rows[0]) + 1, name=f"l{level}_sum")
            m.d.comb += total.eq(rows[0] + rows[1] + extra)
            bits = [column[0] if column else C(0, 1) for column in heap[:low]]
            bits += [total[i] for i in range(len(total))]
            heap = [[b] for b in bits]
            if level in self.cuts:
                heap = self._register(m, [[b] for b in bits[:self.width.bit_length()]], level)
        bits = [column[0] if column else C(0, 1) for column in heap]
        bits = (bits + [C(0, 1)] * self.width.bit_length())[:self.width.bit_length()]
        m.d.comb += self.count.eq(Cat(*bits))
        return m
