"""Truth tables as integers: entry ``a`` of a bool row is bit ``a`` (the LSB-first order of LUT INITs)."""

from __future__ import annotations

import numpy as np


def table_to_int(row: np.ndarray) -> int:
    """bool (2**k,) -> int with bit ``a`` = ``row[a]``."""
    return int.from_bytes(np.packbits(np.asarray(row, dtype=np.bool_), bitorder="little").tobytes(), "little")


def lut6_init(row: np.ndarray) -> int:
    """The 64-bit ``LUT6`` INIT of a k <= 6 input table whose inputs sit on I0..I(k-1).

    The table is repeated over the unused inputs I(k)..I5, so the LUT does not depend on them.
    """
    row = np.asarray(row, dtype=np.bool_)
    k = int(row.size).bit_length() - 1
    if row.size != 1 << k or k > 6:
        raise ValueError(f"a LUT6 holds at most 64 entries, got a table of {row.size}")
    return table_to_int(np.tile(row, 64 >> k))
