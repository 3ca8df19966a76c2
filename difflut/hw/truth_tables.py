"""Truth tables as integers, the one conversion every backend and the IR file use: entry ``a`` of a
bool row is bit ``a`` of the integer (LSB first, the order of LUT INITs and of the IR's hex tables)."""

from __future__ import annotations

import numpy as np


def rows_to_ints(tables: np.ndarray) -> list[int]:
    """bool (..., E) -> the ints of its rows (row-major order), bit ``a`` = entry ``a``."""
    tables = np.asarray(tables, dtype=np.bool_)
    packed = np.packbits(tables.reshape(-1, tables.shape[-1]), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def row_to_int(row: np.ndarray) -> int:
    """bool (E,) -> int with bit ``a`` = ``row[a]``."""
    return rows_to_ints(np.asarray(row, dtype=np.bool_).reshape(1, -1))[0]
