"""C backend: a :class:`~difflut.hw.ir.NetlistIR` -> a header-only C99 library ``<name>.h``.

The header holds only ``static`` code and ``const`` tables (no malloc, no mutable globals):

* ``int <name>_predict(const T *x, uint16_t *scores)``: one sample (F codes, row-major),
  writes the C class scores (may be NULL), returns the class (first maximum).
* ``void <name>_predict64(const T *x, int n, uint16_t *scores, int32_t *classes)``: up to 64
  samples per call (``n`` in 0..64, sample-major ``x``), bit-sliced: the codes are transposed
  into uint64 bit-planes (bit s = sample s) inside the call and every LUT is word-wide logic.
* ``void <name>_predict_batch(const T *x, size_t n, uint16_t *scores, int32_t *classes)``:
  any number of samples, 64 at a time.

``T`` follows the IR's input format (uint8_t / int8_t for <= 8 bits, uint16_t / int16_t for
<= 16). Before emitting, the netlist is simplified without changing the function: constant
inputs are folded, repeated inputs merged, inputs a table ignores dropped, LUTs equal to one
of their inputs become aliases, and logic that reaches no class is removed. Each remaining
LUT becomes a small expression over its live inputs: Shannon / Davio expansion on the upper
inputs and exact minimum formulas (AND, OR, XOR, NOT) for every 3-input remainder.

:func:`generate_selftest` writes ``<name>_selftest.c`` with embedded raw inputs and the
expected scores / classes given by the caller; it exits non-zero on any mismatch.
Same IR in, byte-identical text out.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ..errors import InputError
from .evaluate import check_codes
from .ir import CONST0, CONST1, NetlistIR

#: LUTs per generated C function (keeps every function small enough to compile fast)
LUTS_PER_FUNCTION = 128
#: encoder wires per generated C function
ENCODER_WIRES_PER_FUNCTION = 1024
#: up to this many live inputs the split variable is chosen freely (best of all), above it the top one
_FREE_ORDER_MAX_INPUTS = 5
#: Davio (XOR) splits are tried for functions of at most this many inputs
_DAVIO_MAX_INPUTS = 8
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class CBackendError(ValueError):
    """The IR cannot be emitted as C (bad name, too many classes for uint16 scores, ...)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise CBackendError(f"name must be a C identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 chars), got {name!r}")
    return name


def input_c_type(ir: NetlistIR) -> str:
    fmt = ir.encoder.input_format
    width = 8 if fmt.bits <= 8 else 16
    return f"{'int' if fmt.signed else 'uint'}{width}_t"


# -- truth tables as Python ints -----------------------------------------------------------------------
class _Masks:
    """Bit masks over the 2**n addresses of an n-input function (bit a = the value at address a)."""

    _cache: dict = {}

    def __new__(cls, n: int):
        if n not in cls._cache:
            self = super().__new__(cls)
            size = 1 << n
            self.n = n
            self.full = (1 << size) - 1
            addresses = np.arange(size, dtype=np.int64)
            self.lit = [_bits_to_int((addresses >> j) & 1) for j in range(n)]  # x_j
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


def _bits_to_int(bits) -> int:
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def _rows_to_ints(tables: np.ndarray) -> list[int]:
    packed = np.packbits(tables, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


# -- exact minimum formulas of every 3-input function ---------------------------------------------------
def _three_input_formulas():
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


_F3_COST, _F3_RECIPE = _three_input_formulas()


# -- expression DAG per LUT ------------------------------------------------------------------------------
class _Dag:
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


class _Synth:
    """Chooses a small formula for an n-input truth table (Python int of 2**n bits)."""

    def __init__(self):
        self.plan_memo: dict[tuple[int, int], tuple] = {}

    def _three(self, m: _Masks, tt: int, sup: list[int]) -> tuple[int, list[int]]:
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

    def cost(self, m: _Masks, tt: int) -> int:
        return self._best(m, tt)[0]

    def _best(self, m: _Masks, tt: int):
        """(cost, plan) of a non-constant function, computed once per (variables, truth table)."""
        key = (m.n, tt)
        found = self.plan_memo.get(key)
        if found is None:
            found = self.plan_memo[key] = self._plan(m, tt)
        return found

    def _plan(self, m: _Masks, tt: int):
        """(cost, plan) of a non-constant function."""
        sup = m.support(tt)
        if len(sup) <= 3:
            t8, vars3 = self._three(m, tt, sup)
            return _F3_COST[t8], ("f3", t8, vars3)
        candidates = sup if len(sup) <= _FREE_ORDER_MAX_INPUTS else [sup[-1]]
        best = None
        for j in candidates:
            f0, f1 = m.cof0(tt, j), m.cof1(tt, j)
            for c, plan in self._splits(m, j, f0, f1):
                if best is None or c < best[0]:
                    best = (c, plan)
        return best

    def _splits(self, m: _Masks, j: int, f0: int, f1: int):
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
        if m.n <= _DAVIO_MAX_INPUTS:  # wide tables (encoder tables over 9..16 code bits): Shannon only
            yield 2 + c0 + self.cost(m, f0 ^ f1), ("davio", j, f0, f0 ^ f1)

    def build(self, m: _Masks, tt: int, dag: _Dag, memo: dict) -> int:
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

    def _build3(self, t8: int, vars3: list[int], dag: _Dag) -> int:
        r = _F3_RECIPE[t8]
        if r[0] == "v":
            return dag.var(vars3[r[1]])
        if r[0] == "~":
            return dag.neg(self._build3(r[1], vars3, dag))
        return dag.op(r[0], self._build3(r[1], vars3, dag), self._build3(r[2], vars3, dag))


def _emit_dag(dag: _Dag, root: int, leaf: list[str], target: str) -> str:
    """C statement(s) assigning node ``root`` to ``target``; leaf[j] is the C expression of var j.
    Returns (text, number of operators)."""
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


# -- netlist simplification --------------------------------------------------------------------------
class _Plan:
    """The simplified netlist: signals, live logic and storage slots."""

    def __init__(self, ir: NetlistIR):
        self.ir = ir
        enc = ir.encoder
        fmt = enc.input_format
        n_enc = ir.num_encoder_wires
        # signal of each wire: ('c', 0|1) or ('w', wire id) (the wire that carries the value)
        signal: list[tuple] = [None] * ir.num_wires
        self.enc_kind: dict[int, tuple] = {}  # live-candidate encoder wire -> ('t', u) | ('tab', tt)
        for f in range(enc.num_features):
            for b in range(enc.num_bits):
                w = f * enc.num_bits + b
                if enc.is_threshold[f, b]:
                    t = int(enc.thresholds[f, b])
                    if t <= fmt.min_code:
                        signal[w] = ("c", 1)
                    elif t > fmt.max_code:
                        signal[w] = ("c", 0)
                    else:
                        signal[w] = ("w", w)
                        self.enc_kind[w] = ("t", t - fmt.min_code)
                else:
                    tt = _bits_to_int(enc.tables[f, b])
                    m = _Masks(fmt.bits)
                    if tt == 0 or tt == m.full:
                        signal[w] = ("c", int(tt != 0))
                    else:
                        signal[w] = ("w", w)
                        self.enc_kind[w] = ("tab", tt)
        # LUTs: fold constants, merge repeated inputs, drop ignored inputs, alias identities
        self.luts: dict[int, tuple] = {}  # wire -> (k, tt, input wires per var (None if unused))
        for layer, base in zip(ir.layers, ir.layer_bases):
            k = layer.k
            m = _Masks(k)
            rows = _rows_to_ints(layer.tables)
            for node in range(layer.num_nodes):
                tt = rows[node]
                ins = []
                for j in range(k):
                    src = int(layer.inputs[node, j])
                    ins.append(("c", 0) if src == CONST0 else ("c", 1) if src == CONST1 else signal[src])
                for j in range(k):
                    s = ins[j]
                    if s[0] == "c":
                        tt = m.cof1(tt, j) if s[1] else m.cof0(tt, j)
                        continue
                    for i in range(j):
                        if ins[i] == s:  # x_j == x_i
                            tt = (m.cof0(tt, j) & m.zero[i]) | (m.cof1(tt, j) & m.lit[i])
                            break
                sup = m.support(tt)
                w = base + node
                if not sup:
                    signal[w] = ("c", int(tt != 0))
                elif len(sup) == 1 and tt == m.lit[sup[0]]:
                    signal[w] = ins[sup[0]]
                else:
                    signal[w] = ("w", w)
                    self.luts[w] = (k, tt, [ins[j][1] if j in sup else None for j in range(k)])
        self.signal = signal
        # liveness from the class wires
        live = set()
        stack = []
        self.class_refs: list[list[int]] = []
        self.class_const1: list[int] = []
        for c in range(ir.num_classes):
            refs, ones = [], 0
            for w in ir.class_wires[c].tolist():
                s = ("c", 0) if w == CONST0 else ("c", 1) if w == CONST1 else signal[w]
                if s[0] == "c":
                    ones += s[1]
                else:
                    refs.append(s[1])
                    stack.append(s[1])
            self.class_refs.append(refs)
            self.class_const1.append(ones)
        while stack:
            w = stack.pop()
            if w in live:
                continue
            live.add(w)
            if w in self.luts:
                stack.extend(src for src in self.luts[w][2] if src is not None)
        self.live_enc = [w for w in range(n_enc) if w in live]
        self.live_luts = [w for w in sorted(self.luts) if w in live]
        self.slot = {w: i for i, w in enumerate(self.live_enc + self.live_luts)}
        self.num_slots = len(self.slot)


def _transpose_body() -> str:
    """Straight-line 64x64 bit-matrix transpose of ``a`` (rows a[0..63]) as C statements."""
    lines = []
    j, m = 32, 0x00000000FFFFFFFF
    while j:
        k = 0
        while k < 64:
            lines.append(f"    t = ((a[{k}] >> {j}) ^ a[{k | j}]) & 0x{m:016X}ull; a[{k}] ^= t << {j}; a[{k | j}] ^= t;")
            k = ((k | j) + 1) & ~j
        j >>= 1
        m ^= (m << j) & 0xFFFFFFFFFFFFFFFF
    return "\n".join(lines)


def _emit_counter(words: list[str], counter: list[int], emit) -> list:
    """Emit a carry-save adder tree summing 1-bit words per lane; returns the count's bit-plane
    expressions (index i = weight 2**i; None for a plane that is always 0)."""
    levels: list[list[str]] = [list(words)]
    i = 0

    def fresh():
        counter[0] += 1
        return f"u{counter[0]}"

    while i < len(levels):
        level = levels[i]
        while len(level) >= 3:
            a, b, c = level.pop(0), level.pop(0), level.pop(0)
            x, sm, cy = fresh(), fresh(), fresh()
            emit(f"    uint64_t {x} = {a} ^ {b}, {sm} = {x} ^ {c}, {cy} = ({a} & {b}) | ({x} & {c});")
            level.append(sm)
            if len(levels) == i + 1:
                levels.append([])
            levels[i + 1].append(cy)
        if len(level) == 2:
            a, b = level.pop(0), level.pop(0)
            sm, cy = fresh(), fresh()
            emit(f"    uint64_t {sm} = {a} ^ {b}, {cy} = {a} & {b};")
            level.append(sm)
            if len(levels) == i + 1:
                levels.append([])
            levels[i + 1].append(cy)
        i += 1
    return [level[0] if level else None for level in levels]


# -- C text ------------------------------------------------------------------------------------------------
def _c_int_rows(values, per_line: int = 24, indent: str = "    ") -> str:
    values = [str(int(v)) for v in values]
    if not values:
        values = ["0"]
    return ",\n".join(indent + ", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line))


def ir_digest(ir: NetlistIR) -> str:
    return hashlib.sha256(ir.to_json().encode()).hexdigest()


def generate_header(ir: NetlistIR, name: str) -> str:
    """The text of ``<name>.h`` for ``ir`` (deterministic)."""
    name = check_name(name)
    if not isinstance(ir, NetlistIR):
        raise TypeError(f"ir must be a NetlistIR, got {type(ir).__name__}")
    groups = ir.class_wires.shape[1]
    if groups > 0xFFFF:
        raise CBackendError(f"class groups of {groups} wires do not fit uint16_t scores")
    fmt = ir.encoder.input_format
    enc = ir.encoder
    plan = _Plan(ir)
    synth = _Synth()
    ctype = input_c_type(ir)
    up = name.upper()
    features, bits, n = enc.num_features, fmt.bits, enc.num_bits
    utype = f"uint{8 if bits <= 8 else 16}_t"  # the raw bit pattern of a code
    per_row = 64 // bits  # features per 64-bit row before the transpose
    num_classes = ir.num_classes
    count_bits = max(1, int(groups).bit_length())
    out: list[str] = []
    emit = out.append

    emit(f"/* {name}.h: DiffLUT netlist compiled to C99 (header-only, generated; do not edit).")
    emit(f" * IR sha256 {ir_digest(ir)}")
    emit(f" * {features} features x {bits}-bit {'signed' if fmt.signed else 'unsigned'} codes ({ctype}), "
         f"{ir.num_encoder_wires} encoder bits, {ir.num_luts} LUTs in {len(ir.layers)} layers, "
         f"{num_classes} classes x {groups} wires")
    emit(f" * after simplification: {len(plan.live_enc)} encoder bits and {len(plan.live_luts)} LUTs live")
    emit(" *")
    emit(f" *   int  {name}_predict(const {ctype} *x, uint16_t *scores);           one sample, returns the class")
    emit(f" *   void {name}_predict64(const {ctype} *x, int n, uint16_t *scores, int32_t *classes);  n <= 64")
    emit(f" *   void {name}_predict_batch(const {ctype} *x, size_t n, uint16_t *scores, int32_t *classes);")
    emit(f" * x: samples of {features} codes each (row-major); scores: {num_classes} per sample (may be NULL);")
    emit(" * classes: one per sample (may be NULL). The class is the first maximum of the scores.")
    emit(f" * Stack: about {(8 * (plan.num_slots + 64) + 2 * 64 * num_classes) // 1024 + 1} KiB per call. "
         f"See docs/c_backend.md. */")
    emit(f"#ifndef {up}_H")
    emit(f"#define {up}_H")
    emit("#include <stddef.h>")
    emit("#include <stdint.h>")
    emit("#include <string.h>")
    emit("")
    emit(f"#define {up}_NUM_FEATURES {features}")
    emit(f"#define {up}_NUM_CLASSES {num_classes}")
    emit(f"#define {up}_GROUP_SIZE {groups}")
    emit(f"#define {up}_INPUT_BITS {bits}")
    emit(f"#define {up}_INPUT_SIGNED {int(fmt.signed)}")
    emit(f"#define {up}_NUM_SLOTS {max(1, plan.num_slots)}")
    emit(f"typedef {ctype} {name}_input_t;")
    emit("")
    emit("#if defined(__GNUC__)")
    emit(f"#define {up}_NOINLINE __attribute__((noinline))")
    emit("#else")
    emit(f"#define {up}_NOINLINE")
    emit("#endif")
    emit("")
    # per class, the count of constant-1 wires (the other wires are summed by the adder trees below)
    emit(f"static const uint16_t {name}__class_const1[{num_classes}] = {{")
    emit(_c_int_rows(plan.class_const1))
    emit("};")
    emit("")
    # 64x64 bit transpose, unrolled: a[r] bit s <- a[s] bit r
    emit(f"static void {name}__transpose64(uint64_t a[64])")
    emit("{")
    emit("    uint64_t t;")
    emit(_transpose_body())
    emit("}")
    emit("")
    if plan.live_enc:  # (an unused static function would warn)
        # rows: sample s -> a[s] = codes f0 .. f0+nf-1, `bits` bits each; then transposed to bit-planes
        emit(f"/* bit-planes of features f0 .. f0+nf-1 of n samples: a[j*{bits}+i] bit s = bit i of sample s's "
             f"feature f0+j */")
        mask = (1 << bits) - 1
        masked = "" if bits in (8, 16) else f" & 0x{mask:X}u"
        emit(f"static void {name}__planes(const {ctype} *x, int n, size_t f0, int nf, uint64_t a[64])")
        emit("{")
        emit("    int s, j;")
        emit("    for (s = 0; s < n; s++) {")
        emit(f"        const {ctype} *p = x + (size_t)s * {up}_NUM_FEATURES + f0;")
        emit(f"        if (nf == {per_row}) {{")
        if bits in (8, 16):
            emit("#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__")
            emit("            memcpy(&a[s], p, 8);")
            emit("#else")
        terms = " | ".join(f"(uint64_t)(({utype})p[{j}]{masked}) << {j * bits}" if j else
                           f"(uint64_t)(({utype})p[0]{masked})" for j in range(per_row))
        emit(f"            a[s] = {terms};")
        if bits in (8, 16):
            emit("#endif")
        emit("        } else {")
        emit("            uint64_t r = 0;")
        emit("            for (j = 0; j < nf; j++)")
        emit(f"                r |= (uint64_t)(({utype})p[j]{masked}) << (j * {bits});")
        emit("            a[s] = r;")
        emit("        }")
        emit("    }")
        emit("    for (; s < 64; s++) a[s] = 0;")
        emit(f"    {name}__transpose64(a);")
        emit("}")
        emit("")

    emit("#if defined(__GNUC__) && !defined(__clang__)")
    emit("/* straight-line LUT logic: SLP vectorisation only costs compile time here */")
    emit("#pragma GCC push_options")
    emit('#pragma GCC optimize ("no-tree-slp-vectorize")')
    emit("#endif")
    emit("")
    functions: list[tuple[str, str]] = []  # (name, kind) in call order
    # encoder
    live_by_block: dict[int, list[int]] = {}
    for w in plan.live_enc:
        live_by_block.setdefault((w // n) // per_row, []).append(w)
    part: list[str] = []
    part_size = 0

    def flush(kind):
        nonlocal part, part_size
        if part:
            fname = f"{name}__{kind}{len(functions)}"
            functions.append((fname, kind))
            sig = (f"static {up}_NOINLINE void {fname}(const {ctype} *x, int n, uint64_t *w)" if kind == "enc"
                   else f"static {up}_NOINLINE void {fname}(uint64_t *w)")
            body = "\n".join("    " + line for line in part)
            decl = "    uint64_t a[64];\n" if kind == "enc" else ""
            emit(f"{sig}\n{{\n{decl}{body}\n}}\n")
        part, part_size = [], 0

    synth_enc_masks = _Masks(bits)
    for block in sorted(live_by_block):
        f0 = block * per_row
        nf = min(per_row, features - f0)
        part.append(f"{name}__planes(x, n, {f0}, {nf}, a);")
        for w in live_by_block[block]:
            f, b = divmod(w, n)
            j = f - f0
            kind = plan.enc_kind[w]

            def plane(i, signed_view, j=j):
                ref = f"a[{j * bits + i}]"
                return f"~{ref}" if signed_view and fmt.signed and i == bits - 1 else ref

            target = f"w[{plan.slot[w]}]"
            if kind[0] == "t":  # code >= t  <=>  biased(code) >= u (biased: MSB inverted if signed)
                u = kind[1]
                i0 = (u & -u).bit_length() - 1
                expr = plane(i0, True)
                for i in range(i0 + 1, bits):
                    expr = f"({plane(i, True)} {'&' if (u >> i) & 1 else '|'} {expr})"
                if expr.startswith("("):
                    expr = expr[1:-1]
                part.append(f"{target} = {expr};")
            else:
                dag = _Dag()
                root = synth.build(synth_enc_masks, kind[1], dag, {})
                text = _emit_dag(dag, root, [plane(i, False) for i in range(bits)], target)
                part.append(text)
            part_size += 1
        if part_size >= ENCODER_WIRES_PER_FUNCTION:
            flush("enc")
    flush("enc")
    # LUT layers
    for w in plan.live_luts:
        k, tt, srcs = plan.luts[w]
        m = _Masks(k)
        dag = _Dag()
        root = synth.build(m, tt, dag, {})
        leaf = [f"w[{plan.slot[s]}]" if s is not None else "0" for s in srcs]
        text = _emit_dag(dag, root, leaf, f"w[{plan.slot[w]}]")
        part.append(text)
        part_size += 1
        if part_size >= LUTS_PER_FUNCTION:
            flush("lut")
    flush("lut")

    # scores: a carry-save adder tree per class gives the count's bit-planes, a transpose gives
    # each sample's counts as bit fields (class c at bits off_c .. off_c + field - 1 of a row)
    field = 8 if count_bits <= 8 else 16
    per_block = 64 // field
    blocks = -(-num_classes // per_block)
    emit(f"static {up}_NOINLINE void {name}__scores(const uint64_t *w, int n, uint16_t *scores, int32_t *classes)")
    emit("{")
    emit(f"    uint64_t a[{blocks}][64];")
    emit(f"    uint16_t sc[{num_classes}];")
    emit("    int b, c, s;")
    emit("    (void)w;")
    emit(f"    for (b = 0; b < {blocks}; b++) for (s = 0; s < 64; s++) a[b][s] = 0;")
    counter = [0]
    for c in range(num_classes):
        planes = _emit_counter([f"w[{plan.slot[wire]}]" for wire in plan.class_refs[c]], counter, emit)
        blk, off = divmod(c, per_block)
        for i, word in enumerate(planes):
            if word is not None:
                emit(f"    a[{blk}][{off * field + i}] = {word};")
    emit(f"    for (b = 0; b < {blocks}; b++) {name}__transpose64(a[b]);")
    emit("    for (s = 0; s < n; s++) {")
    emit("        int best = 0;")
    emit(f"        for (c = 0; c < {num_classes}; c++) {{")
    emit(f"            sc[c] = (uint16_t)({name}__class_const1[c] + ((a[c / {per_block}][s] >> ((c % {per_block}) * {field})) "
         f"& 0x{(1 << field) - 1:X}u));")
    emit("            if (sc[c] > sc[best]) best = c;")
    emit("        }")
    emit("        if (classes) classes[s] = best;")
    emit(f"        if (scores) for (c = 0; c < {num_classes}; c++) scores[s * {num_classes} + c] = sc[c];")
    emit("    }")
    emit("}")
    emit("")
    emit("#if defined(__GNUC__) && !defined(__clang__)")
    emit("#pragma GCC pop_options")
    emit("#endif")
    emit("")
    emit(f"/* Up to 64 samples (n in 0..64): x holds n * {features} codes, sample-major. */")
    emit(f"static inline void {name}_predict64(const {ctype} *x, int n, uint16_t *scores, int32_t *classes)")
    emit("{")
    emit(f"    uint64_t w[{up}_NUM_SLOTS];")
    emit("    if (n <= 0) return;")
    emit("    if (n > 64) n = 64;")
    for fname, kind in functions:
        emit(f"    {fname}(x, n, w);" if kind == "enc" else f"    {fname}(w);")
    if not functions:
        emit("    (void)x;")
        emit("    w[0] = 0;")
    emit(f"    {name}__scores(w, n, scores, classes);")
    emit("}")
    emit("")
    emit(f"/* One sample: x holds {features} codes; scores ({num_classes} entries) may be NULL. */")
    emit(f"static inline int {name}_predict(const {ctype} *x, uint16_t *scores)")
    emit("{")
    emit("    int32_t cls = 0;")
    emit(f"    {name}_predict64(x, 1, scores, &cls);")
    emit("    return (int)cls;")
    emit("}")
    emit("")
    emit(f"/* Any number of samples, 64 per {name}_predict64 call. */")
    emit(f"static inline void {name}_predict_batch(const {ctype} *x, size_t n, uint16_t *scores, int32_t *classes)")
    emit("{")
    emit("    size_t i;")
    emit("    for (i = 0; i < n; i += 64) {")
    emit("        int m = (int)(n - i < 64 ? n - i : 64);")
    emit(f"        {name}_predict64(x + i * {up}_NUM_FEATURES, m, scores ? scores + i * {up}_NUM_CLASSES : NULL,")
    emit("                         classes ? classes + i : NULL);")
    emit("    }")
    emit("}")
    emit("")
    emit(f"#endif /* {up}_H */")
    return "\n".join(out) + "\n"


def generate_selftest(ir: NetlistIR, name: str, codes, scores, classes) -> str:
    """The text of ``<name>_selftest.c``: runs the embedded raw inputs through the batch and the
    single-sample APIs, compares with the expected scores and classes, prints the counts and
    exits 1 on any mismatch."""
    name = check_name(name)
    try:
        codes = check_codes(ir, codes)
    except InputError as e:
        raise CBackendError(f"test vectors: {e}") from None
    num = len(codes)
    if num < 1:
        raise CBackendError("the selftest needs at least one test vector")
    scores, classes = np.asarray(scores), np.asarray(classes)
    if scores.shape != (num, ir.num_classes) or classes.shape != (num,):
        raise CBackendError(f"the scores and classes of {num} test vectors must be ({num}, {ir.num_classes}) and "
                            f"({num},), got {scores.shape} and {classes.shape}")
    ctype = input_c_type(ir)
    up = name.upper()
    c = ir.num_classes
    x_text = _c_int_rows(codes.astype(np.int64).ravel(), per_line=32)  # -128 / -32768 are valid int literals
    lines = [
        f"/* {name}_selftest.c: {num} embedded test vectors for {name}.h (generated; do not edit).",
        f" * Build: cc -std=c99 -O2 -Wall -Wextra -Werror {name}_selftest.c -o {name}_selftest",
        " * Exit status 0 only when the 64-sample, the whole-batch and the single-sample API reproduce",
        " * every expected score and class. */",
        "#include <stdio.h>",
        f'#include "{name}.h"',
        "",
        f"#define N_VECTORS {num}",
        f"static const {ctype} vec_x[{num} * {up}_NUM_FEATURES] = {{",
        x_text,
        "};",
        f"static const uint16_t vec_scores[{num} * {up}_NUM_CLASSES] = {{",
        _c_int_rows(scores.astype(np.int64).ravel()),
        "};",
        f"static const int32_t vec_classes[{num}] = {{",
        _c_int_rows(classes.astype(np.int64)),
        "};",
        "",
        "int main(void)",
        "{",
        f"    static uint16_t sc[64 * {up}_NUM_CLASSES];",
        "    int32_t cls[64];",
        f"    static uint16_t all_sc[N_VECTORS * {up}_NUM_CLASSES];",
        "    static int32_t all_cls[N_VECTORS];",
        "    long batch_scores = 0, batch_classes = 0, single_scores = 0, single_classes = 0;",
        "    long whole_scores = 0, whole_classes = 0;",
        "    int i, j, off;",
        "    for (off = 0; off < N_VECTORS; off += 64) {",
        "        int n = N_VECTORS - off < 64 ? N_VECTORS - off : 64;",
        f"        {name}_predict64(vec_x + (size_t)off * {up}_NUM_FEATURES, n, sc, cls);",
        "        for (i = 0; i < n; i++) {",
        "            int bad = 0;",
        f"            for (j = 0; j < {c}; j++) bad |= sc[i * {c} + j] != vec_scores[(off + i) * {c} + j];",
        "            batch_scores += bad;",
        "            batch_classes += cls[i] != vec_classes[off + i];",
        "        }",
        "    }",
        "    for (i = 0; i < N_VECTORS; i++) {",
        "        int bad = 0;",
        f"        int k = {name}_predict(vec_x + (size_t)i * {up}_NUM_FEATURES, sc);",
        f"        for (j = 0; j < {c}; j++) bad |= sc[j] != vec_scores[i * {c} + j];",
        "        single_scores += bad;",
        "        single_classes += k != vec_classes[i];",
        "    }",
        f"    {name}_predict_batch(vec_x, N_VECTORS, all_sc, all_cls);",
        "    for (i = 0; i < N_VECTORS; i++) {",
        "        int bad = 0;",
        f"        for (j = 0; j < {c}; j++) bad |= all_sc[i * {c} + j] != vec_scores[i * {c} + j];",
        "        whole_scores += bad;",
        "        whole_classes += all_cls[i] != vec_classes[i];",
        "    }",
        f'    printf("{name} selftest: %d vectors; batch API: %ld score / %ld class mismatches; "',
        '           "single-sample API: %ld score / %ld class mismatches; "',
        '           "predict_batch: %ld score / %ld class mismatches\\n",',
        "           N_VECTORS, batch_scores, batch_classes, single_scores, single_classes, whole_scores,",
        "           whole_classes);",
        "    if (batch_scores || batch_classes || single_scores || single_classes || whole_scores || whole_classes) {",
        '        printf("FAIL\\n");',
        "        return 1;",
        "    }",
        '    printf("PASS\\n");',
        "    return 0;",
        "}",
    ]
    return "\n".join(lines) + "\n"
