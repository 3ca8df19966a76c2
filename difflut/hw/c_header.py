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
<= 16). The netlist is first brought to the fixed point of :func:`difflut.hw.passes.optimize`
(an optimised IR is left as it is), then :class:`~difflut.hw.c_slots.SlotPlan` gives every live
wire a slot. Each LUT becomes a small formula over its inputs (:mod:`difflut.hw.formula`); a table
that many LUTs of a layer share (convolutions) is one formula in a loop over an index table.

:func:`generate_selftest` (:mod:`difflut.hw.c_selftest`) writes ``<name>_selftest.c``.
Same IR in, byte-identical text out.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .c_common import CBackendError, c_int_rows, check_name, input_c_type
from .c_selftest import generate_selftest
from .c_slots import LutLoop, SlotPlan
from .formula import FormulaSynth, formula_c
from .truth_tables import row_to_int
from .ir import NetlistIR
from .passes import optimize

__all__ = ["CBackendError", "check_name", "generate_header", "generate_selftest", "input_c_type", "ir_digest"]

#: LUTs per generated C function (keeps every function small enough to compile fast)
LUTS_PER_FUNCTION = 128
#: encoder wires per generated C function
ENCODER_WIRES_PER_FUNCTION = 1024


def ir_digest(ir: NetlistIR) -> str:
    return hashlib.sha256(ir.to_json().encode()).hexdigest()


def generate_header(ir: NetlistIR, name: str) -> str:
    """The text of ``<name>.h`` for ``ir`` (deterministic; the header names ``ir``'s digest)."""
    name = check_name(name)
    if not isinstance(ir, NetlistIR):
        raise TypeError(f"ir must be a NetlistIR, got {type(ir).__name__}")
    groups = ir.class_wires.shape[1]
    if groups > 0xFFFF:
        raise CBackendError(f"class groups of {groups} wires do not fit uint16_t scores")
    h = _Header(ir, optimize(ir)[0], name)
    sections = [h.preamble(), h.transpose(), h.planes(), _GCC_NO_SLP_PUSH, *h.encoder_functions(),
                *h.lut_functions(), h.scores(), _GCC_NO_SLP_POP, h.api()]
    return "\n".join(line for section in sections for line in section) + "\n"


_GCC_NO_SLP_PUSH = [
    "#if defined(__GNUC__) && !defined(__clang__)",
    "/* straight-line LUT logic: SLP vectorisation only costs compile time here */",
    "#pragma GCC push_options",
    '#pragma GCC optimize ("no-tree-slp-vectorize")',
    "#endif",
    "",
]
_GCC_NO_SLP_POP = ["#if defined(__GNUC__) && !defined(__clang__)", "#pragma GCC pop_options", "#endif", ""]


class _Header:
    """The sections of one header: each method returns a list of lines (the function makers a list of
    sections); ``calls`` collects the calls of the encoder and LUT functions in order."""

    def __init__(self, ir: NetlistIR, optimised: NetlistIR, name: str):
        self.ir, self.name, self.up = ir, name, name.upper()
        self.plan = SlotPlan(optimised)
        self.synth = FormulaSynth()
        self.fmt = ir.encoder.input_format
        self.ctype = input_c_type(ir)
        self.features, self.bits, self.n = ir.encoder.num_features, self.fmt.bits, ir.encoder.num_bits
        self.utype = f"uint{8 if self.bits <= 8 else 16}_t"  # the raw bit pattern of a code
        self.per_row = 64 // self.bits  # features per 64-bit row before the transpose
        self.num_classes = ir.num_classes
        self.groups = ir.class_wires.shape[1]
        self.calls: list[str] = []

    def preamble(self) -> list[str]:
        """Comment, guards, includes, macros, NOINLINE and the per-class constant-1 counts."""
        name, up, ir, plan, fmt = self.name, self.up, self.ir, self.plan, self.fmt
        ctype, features, num_classes = self.ctype, self.features, self.num_classes
        num_luts = plan.num_slots - len(plan.live_enc)
        stack_kib = (8 * (plan.num_slots + 64) + 2 * 64 * num_classes) // 1024 + 1
        return [
            f"/* {name}.h: DiffLUT netlist compiled to C99 (header-only, generated; do not edit).",
            f" * IR sha256 {ir_digest(ir)}",
            f" * {features} features x {self.bits}-bit {'signed' if fmt.signed else 'unsigned'} codes ({ctype}), "
            f"{ir.num_encoder_wires} encoder bits, {ir.num_luts} LUTs in {len(ir.layers)} layers, "
            f"{num_classes} classes x {self.groups} wires",
            f" * after simplification: {len(plan.live_enc)} encoder bits and {num_luts} LUTs live",
            " *",
            f" *   int  {name}_predict(const {ctype} *x, uint16_t *scores);           one sample, returns the class",
            f" *   void {name}_predict64(const {ctype} *x, int n, uint16_t *scores, int32_t *classes);  n <= 64",
            f" *   void {name}_predict_batch(const {ctype} *x, size_t n, uint16_t *scores, int32_t *classes);",
            f" * x: samples of {features} codes each (row-major); scores: {num_classes} per sample (may be NULL);",
            " * classes: one per sample (may be NULL). The class is the first maximum of the scores.",
            f" * Stack: about {stack_kib} KiB per call. See docs/c_backend.md. */",
            f"#ifndef {up}_H",
            f"#define {up}_H",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "#include <string.h>",
            "",
            f"#define {up}_NUM_FEATURES {features}",
            f"#define {up}_NUM_CLASSES {num_classes}",
            f"#define {up}_GROUP_SIZE {self.groups}",
            f"#define {up}_INPUT_BITS {self.bits}",
            f"#define {up}_INPUT_SIGNED {int(fmt.signed)}",
            f"#define {up}_NUM_SLOTS {max(1, plan.num_slots)}",
            f"typedef {ctype} {name}_input_t;",
            "",
            "#if defined(__GNUC__)",
            f"#define {up}_NOINLINE __attribute__((noinline))",
            "#else",
            f"#define {up}_NOINLINE",
            "#endif",
            "",
            # per class, the count of constant-1 wires (the other wires are summed by the adder trees)
            f"static const uint16_t {name}__class_const1[{num_classes}] = {{",
            c_int_rows(plan.class_const1),
            "};",
            "",
        ]

    def transpose(self) -> list[str]:
        """The 64x64 bit transpose, unrolled: a[r] bit s <- a[s] bit r."""
        return [f"static void {self.name}__transpose64(uint64_t a[64])", "{", "    uint64_t t;", _transpose_body(),
                "}", ""]

    def planes(self) -> list[str]:
        """``<name>__planes``: n samples' codes of features f0 .. f0+nf-1 -> bit-planes (absent without
        live encoder bits: an unused static function would warn)."""
        if not self.plan.live_enc:
            return []
        name, up, ctype, utype, bits, per_row = self.name, self.up, self.ctype, self.utype, self.bits, self.per_row
        masked = "" if bits in (8, 16) else f" & 0x{(1 << bits) - 1:X}u"
        terms = " | ".join(f"(uint64_t)(({utype})p[{j}]{masked}) << {j * bits}" if j else
                           f"(uint64_t)(({utype})p[0]{masked})" for j in range(per_row))
        little_endian = "#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && " \
                        "__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__"
        whole_row = ([little_endian, "            memcpy(&a[s], p, 8);", "#else", f"            a[s] = {terms};",
                      "#endif"] if bits in (8, 16) else [f"            a[s] = {terms};"])
        return [
            f"/* bit-planes of features f0 .. f0+nf-1 of n samples: a[j*{bits}+i] bit s = bit i of sample s's "
            f"feature f0+j */",
            f"static void {name}__planes(const {ctype} *x, int n, size_t f0, int nf, uint64_t a[64])",
            "{",
            "    int s, j;",
            "    for (s = 0; s < n; s++) {",
            f"        const {ctype} *p = x + (size_t)s * {up}_NUM_FEATURES + f0;",
            f"        if (nf == {per_row}) {{",
            *whole_row,
            "        } else {",
            "            uint64_t r = 0;",
            "            for (j = 0; j < nf; j++)",
            f"                r |= (uint64_t)(({utype})p[j]{masked}) << (j * {bits});",
            "            a[s] = r;",
            "        }",
            "    }",
            "    for (; s < 64; s++) a[s] = 0;",
            f"    {name}__transpose64(a);",
            "}",
            "",
        ]

    # -- the encoder and LUT functions -----------------------------------------------------------------
    def _function(self, kind: str, body: list[str]) -> list[list[str]]:
        """One ``noinline`` function of the statements ``body`` (none when empty); its call goes to ``calls``."""
        if not body:
            return []
        fname = f"{self.name}__{kind}{len(self.calls)}"
        if kind == "enc":
            sig = f"static {self.up}_NOINLINE void {fname}(const {self.ctype} *x, int n, uint64_t *w)"
            self.calls.append(f"    {fname}(x, n, w);")
        else:
            sig = f"static {self.up}_NOINLINE void {fname}(uint64_t *w)"
            self.calls.append(f"    {fname}(w);")
        decl = "    uint64_t a[64];\n" if kind == "enc" else ""
        text = "\n".join("    " + line for line in body)
        return [[f"{sig}\n{{\n{decl}{text}\n}}\n"]]

    def encoder_functions(self) -> list[list[str]]:
        """Functions computing the live encoder bits into their slots, a block of ``per_row`` features'
        bit-planes at a time, about :data:`ENCODER_WIRES_PER_FUNCTION` bits per function."""
        by_block: dict[int, list[int]] = {}
        for w in self.plan.live_enc:
            by_block.setdefault((w // self.n) // self.per_row, []).append(w)
        functions, body, bits = [], [], 0
        for block in sorted(by_block):
            f0 = block * self.per_row
            body.append(f"{self.name}__planes(x, n, {f0}, {min(self.per_row, self.features - f0)}, a);")
            body += [self._encoder_bit(w, f0) for w in by_block[block]]
            bits += len(by_block[block])
            if bits >= ENCODER_WIRES_PER_FUNCTION:
                functions += self._function("enc", body)
                body, bits = [], 0
        return functions + self._function("enc", body)

    def _encoder_bit(self, w: int, f0: int) -> str:
        """The statement of encoder wire w from the planes ``a`` of features f0.. ."""
        enc, fmt, bits = self.ir.encoder, self.fmt, self.bits
        f, b = divmod(w, self.n)
        j = f - f0

        def plane(i, signed_view):
            ref = f"a[{j * bits + i}]"
            return f"~{ref}" if signed_view and fmt.signed and i == bits - 1 else ref

        target = f"w[{int(self.plan.slot[w])}]"
        if not enc.is_threshold[f, b]:
            tt = row_to_int(enc.tables[f, b])
            return formula_c(tt, bits, [plane(i, False) for i in range(bits)], target, self.synth)
        # code >= t  <=>  biased(code) >= u (biased: MSB inverted if signed)
        u = int(enc.thresholds[f, b]) - fmt.min_code
        if not 0 < u < fmt.num_codes:
            raise AssertionError("constant encoder bits are folded before allocation")
        i0 = (u & -u).bit_length() - 1
        expr = plane(i0, True)
        for i in range(i0 + 1, bits):
            expr = f"({plane(i, True)} {'&' if (u >> i) & 1 else '|'} {expr})"
        if expr.startswith("("):
            expr = expr[1:-1]
        return f"{target} = {expr};"

    def lut_functions(self) -> list[list[str]]:
        """Functions computing the LUTs in plan order: single LUTs in chunks of :data:`LUTS_PER_FUNCTION`,
        each loop a function of its own after its ``const`` index table."""
        slot, functions = self.plan.slot, []
        for step in self.plan.steps:
            if isinstance(step, LutLoop):
                functions += self._loop_function(step)
                continue
            body: list[str] = []
            for w in step:
                k, tt, srcs = self.plan.single(w)
                leaf = [f"w[{int(slot[s])}]" if s is not None else "0" for s in srcs]
                body.append(formula_c(tt, k, leaf, f"w[{int(slot[w])}]", self.synth))
                if len(body) >= LUTS_PER_FUNCTION:
                    functions += self._function("lut", body)
                    body = []
            functions += self._function("lut", body)
        return functions

    def _loop_function(self, loop: LutLoop) -> list[list[str]]:
        """The index table and the function of one loop. When the input slots of every LUT are those of
        the lowest-addressed one plus one offset (a convolution over positions) the table holds the
        offsets, else all input slots."""
        count, width = loop.inputs.shape
        low = int(np.argmin(loop.inputs[:, 0]))
        offsets = loop.inputs[:, :1] - loop.inputs[low, 0]
        shifted = bool((loop.inputs - loop.inputs[low] == offsets).all())
        table = f"{self.name}__loop{len(self.calls)}"
        leaf = ["0"] * loop.k
        if shifted:
            values, per = offsets.ravel(), 1
            for c, column in enumerate(loop.columns):
                leaf[column] = f"w[q + {int(loop.inputs[low, c])}]"
            fetch = f"const size_t q = {table}[i];"
        else:
            values, per = loop.inputs.ravel(), width
            for c, column in enumerate(loop.columns):
                leaf[column] = f"w[p[{c}]]"
            fetch = f"const uint32_t *p = {table} + i * {per};"
        index_table = [f"static const uint32_t {table}[{count * per}] = {{", c_int_rows(values, per_line=32), "};"]
        body = [
            f"uint64_t *o = w + {loop.first_slot};",
            "size_t i;",
            f"for (i = 0; i < {count}; i++) {{",
            f"    {fetch}",
            f"    {formula_c(loop.tt, loop.k, leaf, 'o[i]', self.synth)}",
            "}",
        ]
        return [index_table, *self._function("lut", body)]

    # -- class scores and the API ----------------------------------------------------------------------
    def scores(self) -> list[str]:
        """``<name>__scores``: a carry-save adder tree per class gives the count's bit-planes, a transpose
        gives each sample's counts as bit fields (class c at bits off_c .. off_c + field - 1 of a row)."""
        name, num_classes, slot = self.name, self.num_classes, self.plan.slot
        count_bits = max(1, int(self.groups).bit_length())
        field = 8 if count_bits <= 8 else 16
        per_block = 64 // field
        blocks = -(-num_classes // per_block)
        out = [
            f"static {self.up}_NOINLINE void {name}__scores(const uint64_t *w, int n, uint16_t *scores, "
            f"int32_t *classes)",
            "{",
            f"    uint64_t a[{blocks}][64];",
            f"    uint16_t sc[{num_classes}];",
            "    int b, c, s;",
            "    (void)w;",
            f"    for (b = 0; b < {blocks}; b++) for (s = 0; s < 64; s++) a[b][s] = 0;",
        ]
        counter = [0]
        for c in range(num_classes):
            words = [f"w[{int(slot[wire])}]" for wire in self.plan.class_refs[c]]
            planes = _emit_counter(words, counter, out.append)
            blk, off = divmod(c, per_block)
            for i, word in enumerate(planes):
                if word is not None:
                    out.append(f"    a[{blk}][{off * field + i}] = {word};")
        out += [
            f"    for (b = 0; b < {blocks}; b++) {name}__transpose64(a[b]);",
            "    for (s = 0; s < n; s++) {",
            "        int best = 0;",
            f"        for (c = 0; c < {num_classes}; c++) {{",
            f"            sc[c] = (uint16_t)({name}__class_const1[c] + ((a[c / {per_block}][s] >> "
            f"((c % {per_block}) * {field})) & 0x{(1 << field) - 1:X}u));",
            "            if (sc[c] > sc[best]) best = c;",
            "        }",
            "        if (classes) classes[s] = best;",
            f"        if (scores) for (c = 0; c < {num_classes}; c++) scores[s * {num_classes} + c] = sc[c];",
            "    }",
            "}",
            "",
        ]
        return out

    def api(self) -> list[str]:
        """``predict64`` (the calls in order, then the scores), ``predict`` and ``predict_batch``; the guard's end."""
        name, up, ctype, features = self.name, self.up, self.ctype, self.features
        return [
            f"/* Up to 64 samples (n in 0..64): x holds n * {features} codes, sample-major. */",
            f"static inline void {name}_predict64(const {ctype} *x, int n, uint16_t *scores, int32_t *classes)",
            "{",
            f"    uint64_t w[{up}_NUM_SLOTS];",
            "    if (n <= 0) return;",
            "    if (n > 64) n = 64;",
            *self.calls,
            *(["    (void)x;", "    w[0] = 0;"] if not self.calls else []),
            f"    {name}__scores(w, n, scores, classes);",
            "}",
            "",
            f"/* One sample: x holds {features} codes; scores ({self.num_classes} entries) may be NULL. */",
            f"static inline int {name}_predict(const {ctype} *x, uint16_t *scores)",
            "{",
            "    int32_t cls = 0;",
            f"    {name}_predict64(x, 1, scores, &cls);",
            "    return (int)cls;",
            "}",
            "",
            f"/* Any number of samples, 64 per {name}_predict64 call. */",
            f"static inline void {name}_predict_batch(const {ctype} *x, size_t n, uint16_t *scores, "
            f"int32_t *classes)",
            "{",
            "    size_t i;",
            "    for (i = 0; i < n; i += 64) {",
            "        int m = (int)(n - i < 64 ? n - i : 64);",
            f"        {name}_predict64(x + i * {up}_NUM_FEATURES, m, scores ? scores + i * {up}_NUM_CLASSES : NULL,",
            "                         classes ? classes + i : NULL);",
            "    }",
            "}",
            "",
            f"#endif /* {up}_H */",
        ]


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
