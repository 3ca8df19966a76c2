"""Datasets: MNIST (bundled), Fashion-MNIST and CIFAR-10 (from a folder), as uint8 tensors."""

from .cifar10 import load_cifar10
from .idx import DatasetFileError, read_idx
from .mnist import load_fashion_mnist, load_mnist

DATASETS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10}


def load_dataset(name: str, split: str = "train", data_dir=None):
    """Load dataset ``name`` (one of :data:`DATASETS`) -> (images uint8, labels int64)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}") from None
    return loader(split, data_dir=data_dir)


__all__ = ["DATASETS", "DatasetFileError", "load_cifar10", "load_dataset", "load_fashion_mnist",
           "load_mnist", "read_idx"]
