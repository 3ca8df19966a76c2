"""MNIST and Fashion-MNIST (IDX, gzip) loaders.

MNIST is bundled with the package (CC BY-SA 3.0, Yann LeCun and Corinna Cortes),
so it loads offline with no argument; Fashion-MNIST is read from ``data_dir`` or
``$DIFFLUT_DATA`` (a folder holding ``fashion-mnist/`` or the files themselves).
"""

from __future__ import annotations

import torch

from .idx import DatasetFileError, read_idx
from .location import find_files

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _load_idx_pair(subdir: str, split: str, data_dir, bundled: bool):
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    names = list(_FILES[split])
    folder = find_files(subdir, names, data_dir, bundled)
    images = read_idx(folder / names[0])
    labels = read_idx(folder / names[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != "uint8":
        raise DatasetFileError(f"{folder / names[0]}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetFileError(f"{folder / names[1]}: expected {len(images)} labels, got shape {labels.shape}")
    if labels.max(initial=0) > 9:
        raise DatasetFileError(f"{folder / names[1]}: labels outside 0..9")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype("int64"))


def load_mnist(split: str = "train", data_dir=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` ('train' or 'test') -> (images uint8 (N, 28, 28), labels int64 (N,))."""
    return _load_idx_pair("mnist", split, data_dir, bundled=True)


def load_fashion_mnist(split: str = "train", data_dir=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split`` -> (images uint8 (N, 28, 28), labels int64 (N,))."""
    return _load_idx_pair("fashion-mnist", split, data_dir, bundled=False)
