"""Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed).

Layout: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, one
big-endian uint32 per dimension, then the data in row-major order.
"""

from __future__ import annotations

import gzip
import os

import numpy as np


class DatasetFileError(ValueError):
    """A dataset file is missing, truncated, corrupt or not of the expected kind."""


_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a numpy array of its declared shape."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except (OSError, EOFError) as e:
        raise DatasetFileError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DatasetFileError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetFileError(f"{path}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetFileError(
            f"{path}: IDX data has {len(raw) - header} bytes, its header {shape} needs {expected}; "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
