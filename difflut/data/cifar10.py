"""CIFAR-10 loader for the "python version" batches (``cifar-10-batches-py/``).

Each batch file is a pickled dict with ``b'data'`` (10000, 3072) uint8 (row =
1024 red, 1024 green, 1024 blue values, row-major 32x32) and ``b'labels'``.
Unpickling is restricted to numpy arrays and plain containers, so a foreign
pickle cannot run code.
"""

from __future__ import annotations

import pickle

import numpy as np
import torch

from .idx import DatasetFileError
from .location import find_files

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden object {module}.{name} in a CIFAR-10 batch")


def _read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = _SafeUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DatasetFileError(f"{path}: not a readable CIFAR-10 batch ({e})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetFileError(f"{path}: a CIFAR-10 batch must be a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetFileError(f"{path}: expected uint8 data (N, 3072) and N labels, got {data.dtype} {data.shape}, {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetFileError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(split: str = "train", data_dir=None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 ``split`` -> (images uint8 (N, 3, 32, 32), labels int64 (N,)). Not bundled."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    folder = find_files("cifar-10-batches-py", names, data_dir, bundled=False)
    parts = [_read_batch(folder / n) for n in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)
