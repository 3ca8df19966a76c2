"""The ``LUT6`` INIT of a truth table (integers as in :mod:`difflut.hw.truth_tables`)."""

from __future__ import annotations

import numpy as np

from ..truth_tables import row_to_int


def lut6_init(row: np.ndarray) -> int:
    """The 64-bit ``LUT6`` INIT of a k <= 6 input table whose inputs sit on I0..I(k-1).

    The table is repeated over the unused inputs I(k)..I5, so the LUT does not depend on them.
    """
    row = np.asarray(row, dtype=np.bool_)
    k = int(row.size).bit_length() - 1
    if row.size != 1 << k or k > 6:
        raise ValueError(f"a LUT6 holds at most 64 entries, got a table of {row.size}")
    return row_to_int(np.tile(row, 64 >> k))
