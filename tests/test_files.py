"""difflut.files (atomic file and folder writes, hashes) and difflut.hw.names (export names)."""

from __future__ import annotations

import hashlib

import pytest

import difflut
from difflut import files
from difflut.hw.names import ExportNameError, check_name, export_name


def test_atomic_file_keeps_the_old_file_on_an_error(tmp_path):
    path = tmp_path / "a.bin"
    files.write_atomic(path, b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_file(path) as f:
            f.write(b"half")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]
    files.write_atomic(path, b"new")
    assert path.read_bytes() == b"new"


def test_commit_folder_replaces_only_its_own_folders(tmp_path):
    out = tmp_path / "out"
    files.commit_folder({"m.txt": b"1", "x": b"2"}, out, markers=("m.txt",))
    files.commit_folder({"m.txt": b"3"}, out, markers=("m.txt",))
    assert sorted(p.name for p in out.iterdir()) == ["m.txt"] and (out / "m.txt").read_bytes() == b"3"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    with pytest.raises(files.OutputError, match="not empty"):
        files.commit_folder({"m.txt": b"1"}, mine, markers=("m.txt",))

    def refuse(tmp):
        raise ValueError("check failed")

    with pytest.raises(ValueError, match="check failed"):
        files.commit_folder({"m.txt": b"4"}, out, markers=("m.txt",), before_commit=refuse)
    assert (out / "m.txt").read_bytes() == b"3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out"]


def test_hashes_and_version(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "f").write_bytes(data)
    assert files.sha256_file(tmp_path / "f") == files.sha256_bytes(data) == hashlib.sha256(data).hexdigest()
    assert files.library_version() == difflut.__version__


def test_export_names():
    assert export_name("mnist_fc_8k_dwn") == "mnist_fc_8k_dwn"
    assert export_name("my-net.v2") == "my_net_v2" and export_name("8bit") == "m_8bit"
    assert check_name("net_1") == "net_1"
    for bad in ("bad name", "1net", "", None):
        with pytest.raises(ExportNameError, match="identifier"):
            check_name(bad)
    check_name("a" * 63, max_length=63)
    with pytest.raises(ExportNameError, match="at most 63 chars"):
        check_name("a" * 64, max_length=63)
