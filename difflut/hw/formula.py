"""Boolean formula synthesis for LUT truth tables: a table -> a small ``& | ^ ~`` formula as C text.

A truth table over n inputs is a Python int of 2**n bits (bit ``a`` = the output at address ``a``,
input j = address bit j). :class:`FormulaSynth` picks a formula by recursive expansion on one input x
with cofactors f0, f1 (Shannon: f0 and f1 synthesised, ``f0 ^ (x & (f0 ^ f1))``; Davio: f0 and
``f0 ^ f1`` synthesised, ``f0 ^ (x & d)``; AND / OR / XOR shortcuts where a cofactor is constant or complementary) and an exact minimum formula
(fewest operators, :func:`three_input_formulas`) for every remainder of at most 3 inputs. The
formula is a hash-consed DAG (:class:`Dag`); :func:`emit_dag` writes it as one C statement over
word-wide operands, naming shared sub-expressions. :func:`formula_c` does all three steps.
Deterministic: same table, same text.
"""

from __future__ import annotations

import numpy as np

from .truth_tables import row_to_int

#: up to this many live inputs the split variable is chosen freely (best of all), above it the top one
FREE_ORDER_MAX_INPUTS = 5
#: Davio (XOR) splits are tried for functions of at most this many inputs
DAVIO_MAX_INPUTS = 8


# -- truth tables as Python ints -----------------------------------------------------------------------
class TruthMasks:
    """Bit masks over the 2**n addresses of an n-input function (bit a = the value at address a)."""

    _cache: dict = {}

    def __new__(cls, n: int):
        if n not in cls._cache:
            self = super().__new__(cls)
            size = 1 << n
            self.n = n
            self.full = (1 << size) - 1
            addresses = np.arange(size, dtype=np.int64)
            self.lit = [row_to_int((addresses >> j) & 1) for j in range(n)]  # x_j
            self.zero = [self.full ^ m for m in self.lit]  # addresses with bit j == 0
            cls._cache[n] = self
        return cls._cache[n]

    def depends(self, tt: int, j: int) -> bool:
        return bool(((tt >> (1 << j)) ^ tt) & self.zero[j])

    def cof0(self, tt: int, j: int) -> int:
        lo = tt & self.zero[j]
        return lo | (lo << (1 << j))

    def cof1(self, tt: int, j: int) -> int:
        hi = tt & self.lit[j]
        return hi | (hi >> (1 << j))

    def support(self, tt: int) -> list[int]:
        return [j for j in range(self.n) if self.depends(tt, j)]


# -- exact minimum formulas of every 3-input function ---------------------------------------------------
def three_input_formulas():
    """For each 8-bit truth table over (v0, v1, v2): (cost, recipe); recipe: ('v', j) | ('~', f) |
    (op, f, g) with op in '&|^' and f, g truth tables. Cost = number of operators (tree formula)."""
    big = 1 << 20
    cost = np.full(256, big, dtype=np.int64)
    for j, t in enumerate((0xAA, 0xCC, 0xF0)):
        cost[t] = 0
    recipe: dict[int, tuple] = {0xAA: ("v", 0), 0xCC: ("v", 1), 0xF0: ("v", 2)}
    a = np.arange(256)
    results = {"&": a[:, None] & a[None, :], "|": a[:, None] | a[None, :], "^": a[:, None] ^ a[None, :]}
    while True:
        changed = False
        for f in range(256):  # NOT
            if cost[f] + 1 < cost[255 ^ f]:
                cost[255 ^ f] = cost[f] + 1
                recipe[255 ^ f] = ("~", f)
                changed = True
        pair = cost[:, None] + cost[None, :] + 1
        for op, res in results.items():
            flat_res, flat_cost = res.ravel(), pair.ravel()
            order = np.argsort(flat_cost, kind="stable")
            targets, first = np.unique(flat_res[order], return_index=True)
            for t, i in zip(targets.tolist(), first.tolist()):
                idx = int(order[i])
                c = int(flat_cost[idx])
                if c < cost[t]:
                    cost[t] = c
                    recipe[t] = (op, idx // 256, idx % 256)
                    changed = True
        if not changed:
            break
    return [int(c) for c in cost], recipe


_F3_COST, _F3_RECIPE = three_input_formulas()


# -- expression DAG per LUT ------------------------------------------------------------------------------
class Dag:
    """Hash-consed expression nodes: ('v', j) | ('~', a) | (op, a, b); a, b node indices."""

    def __init__(self):
        self.nodes: list[tuple] = []
        self.index: dict[tuple, int] = {}

    def add(self, node: tuple) -> int:
        if node[0] in "&|^" and node[1] > node[2]:
            node = (node[0], node[2], node[1])
        i = self.index.get(node)
        if i is None:
            i = self.index[node] = len(self.nodes)
            self.nodes.append(node)
        return i

    def var(self, j):
        return self.add(("v", j))

    def neg(self, a):
        n = self.nodes[a]
        return n[1] if n[0] == "~" else self.add(("~", a))

    def op(self, o, a, b):
        return self.add((o, a, b))


class FormulaSynth:
    """Chooses a small formula for an n-input truth table (Python int of 2**n bits)."""

    def __init__(self):
        self.plan_memo: dict[tuple[int, int], tuple] = {}

    def _three(self, m: TruthMasks, tt: int, sup: list[int]) -> tuple[int, list[int]]:
        vars3 = (sup + [v for v in range(m.n) if v not in sup] + [-1, -1, -1])[:3]  # -1: never read
        t8 = 0
        for a in range(8):
            addr = 0
            for i in range(3):
                if (a >> i) & 1 and vars3[i] >= 0:
                    addr |= 1 << vars3[i]
            if (tt >> addr) & 1:
                t8 |= 1 << a
        return t8, vars3

    def cost(self, m: TruthMasks, tt: int) -> int:
        return self._best(m, tt)[0]

    def _best(self, m: TruthMasks, tt: int):
        """(cost, plan) of a non-constant function, computed once per (variables, truth table)."""
        key = (m.n, tt)
        found = self.plan_memo.get(key)
        if found is None:
            found = self.plan_memo[key] = self._plan(m, tt)
        return found

    def _plan(self, m: TruthMasks, tt: int):
        """(cost, plan) of a non-constant function."""
        sup = m.support(tt)
        if len(sup) <= 3:
            t8, vars3 = self._three(m, tt, sup)
            return _F3_COST[t8], ("f3", t8, vars3)
        candidates = sup if len(sup) <= FREE_ORDER_MAX_INPUTS else [sup[-1]]
        best = None
        for j in candidates:
            f0, f1 = m.cof0(tt, j), m.cof1(tt, j)
            for c, plan in self._splits(m, j, f0, f1):
                if best is None or c < best[0]:
                    best = (c, plan)
        return best

    def _splits(self, m: TruthMasks, j: int, f0: int, f1: int):
        full = m.full
        if f0 == 0:
            yield 1 + self.cost(m, f1), ("and", j, f1)
            return
        if f1 == 0:
            yield 2 + self.cost(m, f0), ("andn", j, f0)
            return
        if f1 == full:
            yield 1 + self.cost(m, f0), ("or", j, f0)
            return
        if f0 == full:
            yield 2 + self.cost(m, f1), ("orn", j, f1)
            return
        if f1 == full ^ f0:
            yield 1 + self.cost(m, f0), ("xor", j, f0)
            return
        c0, c1 = self.cost(m, f0), self.cost(m, f1)
        yield 3 + c0 + c1, ("mux", j, f0, f1)
        if m.n <= DAVIO_MAX_INPUTS:  # wide tables (encoder tables over 9..16 code bits): Shannon only
            yield 2 + c0 + self.cost(m, f0 ^ f1), ("davio", j, f0, f0 ^ f1)

    def build(self, m: TruthMasks, tt: int, dag: Dag, memo: dict) -> int:
        """DAG node of non-constant ``tt`` (variables j -> dag.var(j))."""
        node = memo.get(tt)
        if node is not None:
            return node
        if tt == 0 or tt == m.full:
            raise AssertionError("constants are folded before synthesis")
        if (m.full ^ tt) in memo:
            node = dag.neg(memo[m.full ^ tt])
            memo[tt] = node
            return node
        _, plan = self._best(m, tt)
        kind = plan[0]
        if kind == "f3":
            node = self._build3(plan[1], plan[2], dag)
        else:
            j = plan[1]
            x = dag.var(j)
            if kind == "and":
                node = dag.op("&", x, self.build(m, plan[2], dag, memo))
            elif kind == "andn":
                node = dag.op("&", dag.neg(x), self.build(m, plan[2], dag, memo))
            elif kind == "or":
                node = dag.op("|", x, self.build(m, plan[2], dag, memo))
            elif kind == "orn":
                node = dag.op("|", dag.neg(x), self.build(m, plan[2], dag, memo))
            elif kind == "xor":
                node = dag.op("^", x, self.build(m, plan[2], dag, memo))
            elif kind == "mux":
                a = self.build(m, plan[2], dag, memo)
                b = self.build(m, plan[3], dag, memo)
                node = dag.op("^", a, dag.op("&", x, dag.op("^", a, b)))
            else:  # davio
                a = self.build(m, plan[2], dag, memo)
                node = dag.op("^", a, dag.op("&", x, self.build(m, plan[3], dag, memo)))
        memo[tt] = node
        return node

    def _build3(self, t8: int, vars3: list[int], dag: Dag) -> int:
        r = _F3_RECIPE[t8]
        if r[0] == "v":
            return dag.var(vars3[r[1]])
        if r[0] == "~":
            return dag.neg(self._build3(r[1], vars3, dag))
        return dag.op(r[0], self._build3(r[1], vars3, dag), self._build3(r[2], vars3, dag))


def emit_dag(dag: Dag, root: int, leaf: list[str], target: str) -> str:
    """One C statement assigning node ``root`` to ``target`` (``uint64_t`` operands); leaf[j] is the C
    expression of variable j. Nodes used more than once become ``uint64_t t<i>`` in a ``{ }`` block."""
    refs = [0] * len(dag.nodes)
    seen = set()
    order = []

    def visit(i):
        if i in seen:
            return
        seen.add(i)
        n = dag.nodes[i]
        for c in n[1:] if n[0] != "v" else ():
            refs[c] += 1
            visit(c)
        order.append(i)

    visit(root)
    names: dict[int, str] = {}
    lines = []

    def expr(i, top=False):
        if i in names:
            return names[i]
        n = dag.nodes[i]
        if n[0] == "v":
            return leaf[n[1]]
        if n[0] == "~":
            return "~" + expr(n[1])
        text = f"{expr(n[1])} {n[0]} {expr(n[2])}"
        return text if top else f"({text})"

    for i in order:
        n = dag.nodes[i]
        if i != root and refs[i] > 1 and n[0] != "v":
            name = f"t{len(names)}"
            lines.append(f"uint64_t {name} = {expr(i, top=True)};")
            names[i] = name
    lines.append(f"{target} = {expr(root, top=True)};")
    return lines[0] if len(lines) == 1 else "{ " + " ".join(lines) + " }"




def formula_c(tt: int, n: int, leaf: list[str], target: str, synth: FormulaSynth | None = None) -> str:
    """The C statement ``target = f(leaf[0], ..., leaf[n - 1]);`` of the non-constant n-input table ``tt``.

    ``synth``: a :class:`FormulaSynth` whose memo is reused across calls (a fresh one when None).
    """
    masks = TruthMasks(n)
    if not 0 < tt < masks.full:
        raise ValueError(f"a constant or out-of-range {n}-input table has no formula: {tt:#x}")
    dag = Dag()
    root = (synth or FormulaSynth()).build(masks, tt, dag, {})
    return emit_dag(dag, root, leaf, target)
