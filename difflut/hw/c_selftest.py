"""The C selftest: ``<name>_selftest.c`` embeds raw test inputs with the expected class scores and
classes, runs them through the ``<name>.h`` APIs (64-sample, whole-batch, single-sample) and exits
1 on any mismatch. Same arguments in, byte-identical text out.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .c_common import CBackendError, c_int_rows, check_name, input_c_type
from .evaluate import check_codes
from .ir import NetlistIR


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
    x_text = c_int_rows(codes.astype(np.int64).ravel(), per_line=32)  # -128 / -32768 are valid int literals
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
        c_int_rows(scores.astype(np.int64).ravel()),
        "};",
        f"static const int32_t vec_classes[{num}] = {{",
        c_int_rows(classes.astype(np.int64)),
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
