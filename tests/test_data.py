"""Dataset loaders: the bundled MNIST, Fashion-MNIST from a folder, CIFAR-10 on files in its real format."""

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from difflut.data import DatasetFileError, load_cifar10, load_dataset, load_fashion_mnist, load_mnist, read_idx



def test_bundled_mnist_test_split_matches_published_counts():
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    # per-class counts published with the dataset
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert int(images.max()) == 255 and int(images.min()) == 0


def test_bundled_mnist_train_split():
    images, labels = load_dataset("mnist", "train")
    assert images.shape == (60000, 28, 28)
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _write_idx(path, array, magic_type=0x08, truncate=0):
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as f:
        f.write(raw[: len(raw) - truncate])


def _write_fake_mnist(folder, n=7, truncate=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labs = rng.integers(0, 10, n, dtype=np.uint8)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", imgs, truncate=truncate)
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", labs)
    return imgs, labs


def test_fashion_mnist_from_data_dir_and_env(tmp_path, monkeypatch):
    imgs, labs = _write_fake_mnist(tmp_path / "fashion-mnist")
    x, y = load_fashion_mnist("test", data_dir=tmp_path)
    assert np.array_equal(x.numpy(), imgs) and np.array_equal(y.numpy(), labs)
    monkeypatch.setenv("DIFFLUT_DATA", str(tmp_path))
    x2, _ = load_fashion_mnist("test")
    assert torch.equal(x, x2)


def test_missing_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("DIFFLUT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="looked in") as e:
        load_fashion_mnist("test", data_dir=tmp_path)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(FileNotFoundError, match="DIFFLUT_DATA"):
        load_fashion_mnist("test")


def test_truncated_and_corrupt_files_are_clear_errors(tmp_path):
    _write_fake_mnist(tmp_path / "fashion-mnist", truncate=100)
    with pytest.raises(DatasetFileError, match="truncated"):
        load_fashion_mnist("test", data_dir=tmp_path)
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"PK\x03\x04 not idx at all")
    with pytest.raises(DatasetFileError, match="not an IDX file"):
        read_idx(bad)
    notgz = tmp_path / "notgz.gz"
    notgz.write_bytes(b"\x00\x00\x08\x01garbage")
    with pytest.raises(DatasetFileError, match="decompress"):
        read_idx(notgz)


def test_bad_split_and_name():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="available: cifar10, fashion_mnist, mnist"):
        load_dataset("imagenet")


def test_real_fashion_mnist_from_shared(shared_datasets):
    if not (shared_datasets / "fashion-mnist").is_dir():
        pytest.skip("shared datasets not beside the project")
    x, y = load_fashion_mnist("test", data_dir=shared_datasets)
    assert x.shape == (10000, 28, 28)
    assert torch.bincount(y).tolist() == [1000] * 10


def _write_cifar(folder, per_batch=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data}, f, protocol=2)
        batches[name] = (data, labels)
    return batches


def test_cifar10_loader_on_files_in_the_real_format(tmp_path):
    batches = _write_cifar(tmp_path / "cifar-10-batches-py")
    x, y = load_cifar10("train", data_dir=tmp_path)
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.uint8
    data, labels = batches["data_batch_2"]
    # row layout: 1024 red, then green, then blue, each 32x32 row-major
    assert np.array_equal(x[4:8].numpy(), data.reshape(4, 3, 32, 32))
    assert x[5, 1, 0, 3] == data[1, 1024 + 3]
    assert y[4:8].tolist() == labels
    xt, yt = load_cifar10("test", data_dir=tmp_path / "cifar-10-batches-py")
    assert xt.shape == (4, 3, 32, 32)


def test_cifar10_refuses_foreign_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(DatasetFileError, match="forbidden"):
        load_cifar10("test", data_dir=tmp_path)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(DatasetFileError, match="3072"):
        load_cifar10("test", data_dir=tmp_path)
