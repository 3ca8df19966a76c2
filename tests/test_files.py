"""difflut.files (atomic file and folder writes, hashes) and difflut.hw.names (export names)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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


M = "export.json"


def _put(files_, out, **kw):
    files.commit_folder(files.with_manifest(files_, M), out, manifest=M, **kw)


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_commit_folder_replaces_only_its_own_folders(tmp_path):
    out = tmp_path / "out"
    _put({"m.txt": b"1", "x": b"2"}, out)
    _put({"m.txt": b"3"}, out)  # x was ours: gone
    assert sorted(p.name for p in out.iterdir()) == [M, "m.txt"] and (out / "m.txt").read_bytes() == b"3"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    with pytest.raises(files.OutputError, match="not empty"):
        _put({"m.txt": b"1"}, mine)

    def refuse(tmp):
        raise ValueError("check failed")

    with pytest.raises(ValueError, match="check failed"):
        _put({"m.txt": b"4"}, out, before_commit=refuse)
    assert (out / "m.txt").read_bytes() == b"3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out"]
    with pytest.raises(files.OutputError, match="does not list exactly"):  # our own manifest must be complete
        files.commit_folder({"a": b"1", M: files.manifest_bytes({"format": "difflut-export", "files": {}})}, out,
                            manifest=M)


@pytest.mark.parametrize("manifest", [b"", b"{}", b"[1]", b'{"format": "difflut-export"}',
                                      b'{"format": "other", "files": {}}', b"not json", b"\xff\xfe",
                                      b'{"format": "difflut-export", "files": {"../x": "' + b"0" * 64 + b'"}}',
                                      b'{"format": "difflut-export", "files": {"a": "short"}}',
                                      b'{"format": "difflut-export", "format": "difflut-export", "files": {}}'])
def test_a_folder_with_an_unreadable_manifest_is_never_replaced(tmp_path, manifest):
    out = tmp_path / "out"
    out.mkdir()
    (out / M).write_bytes(manifest)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(files.OutputError, match="manifest"):
        _put({"m.txt": b"1"}, out)
    assert _tree(out) == {M: manifest, "notes.txt": b"mine"}


def test_files_the_export_did_not_write_are_kept_and_changed_ones_refused(tmp_path):
    out = tmp_path / "out"
    _put({"a.v": b"1", "b.v": b"2"}, out)
    (out / "notes.txt").write_text("mine")
    (out / "runs").mkdir()
    (out / "runs" / "r1.log").write_text("log")
    _put({"a.v": b"9"}, out)  # re-export: the user's entries are carried over
    assert _tree(out) == {M: _tree(out)[M], "a.v": b"9", "notes.txt": b"mine", "runs/r1.log": b"log"}
    (out / "a.v").write_text("edited by hand")
    with pytest.raises(files.OutputError, match="a.v was changed since it was exported"):
        _put({"a.v": b"1"}, out)
    assert (out / "a.v").read_text() == "edited by hand"
    (out / "a.v").unlink()  # deleted by the user: nothing to lose
    with pytest.raises(files.OutputError, match="notes.txt.*was not written by the export"):
        _put({"notes.txt": b"1"}, out)  # a new file would overwrite the user's
    _put({"a.v": b"1"}, out)
    assert (out / "notes.txt").read_text() == "mine" and (out / "a.v").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _interrupted(tmp_path, out, stage):
    """A commit of ``out`` killed (SIGKILL) at ``stage``: leftovers as commit_folder leaves them."""
    import tempfile

    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=tmp_path))
    new_files = files.with_manifest({"a.v": b"new"}, M)
    for name, data in new_files.items():
        (new / name).write_bytes(data)
    if stage == "writing":
        return new_files
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=tmp_path))
    os.replace(out, old / "export")  # killed between the two renames
    if stage == "committed":
        os.replace(new, out)  # killed before the old one was removed
    return new_files


@pytest.mark.parametrize("stage", ["writing", "between renames", "committed"])
def test_an_interrupted_commit_is_recovered_by_the_next_run(tmp_path, stage):
    out = tmp_path / "out"
    _put({"a.v": b"old"}, out)
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    new_files = _interrupted(tmp_path, out, stage)
    files.recover_folder(out, M)
    expect = before if stage != "committed" else {**{k: v for k, v in new_files.items()}}
    if stage == "committed":  # the new folder is in place (without the user's file: it stays in .old)
        assert _tree(out) == expect and len(list(tmp_path.glob(".out.old-*"))) == 1
    else:
        assert _tree(out) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    _put({"a.v": b"next"}, out)  # the next run works
    assert (out / "a.v").read_bytes() == b"next"


def test_recovery_leaves_what_is_not_its_own(tmp_path):
    out = tmp_path / "out"
    _put({"a.v": b"1"}, out)
    lookalike = tmp_path / ".out.tmp-notmine"  # not a mkdtemp name
    lookalike.mkdir()
    other = tmp_path / ".other.tmp-abcdefgh"  # another folder's leftover
    other.mkdir()
    files.recover_folder(out, M)
    assert lookalike.is_dir() and other.is_dir()


def test_check_output_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "dir").mkdir()
    ours = lambda p: p.read_bytes() == b"ours"  # noqa: E731
    files.check_output_file(tmp_path / "new.pt", what="checkpoint", ours=ours)
    for bad, message in (("notes.txt", "is not a checkpoint"), ("dir", "is a folder"),
                         ("nowhere/x.pt", "does not exist")):
        with pytest.raises(files.OutputError, match=message):
            files.check_output_file(tmp_path / bad, what="checkpoint", ours=ours)
    (tmp_path / "mine.pt").write_bytes(b"ours")
    files.check_output_file(tmp_path / "mine.pt", what="checkpoint", ours=ours)


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
    for reserved in ("reg", "module", "end", "int", "for", "logic", "export", "LUT6", "lut6", "_Bool", "__x"):
        with pytest.raises(ExportNameError, match="keyword|reserved|emits"):
            check_name(reserved)
        with pytest.raises(ExportNameError):
            export_name(reserved)
    check_name("a" * 63, max_length=63)
    with pytest.raises(ExportNameError, match="at most 63 chars"):
        check_name("a" * 64, max_length=63)
