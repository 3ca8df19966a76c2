"""Writing and hashing files: the one place for atomic writes, atomic folders, SHA-256 and the library version.

* :func:`atomic_file` / :func:`write_atomic`: a file is written to a temporary file beside it, flushed to disk
  and renamed over the target (``os.replace``), so the target is either the complete new file or as it was.
* :func:`commit_folder`: the same for a folder of files with a manifest of their SHA-256 (a temporary folder
  renamed into place); an existing folder is replaced only when it is empty or an export whose manifest
  verifies, the files it does not list are kept, and an interrupted commit is recovered
  (:func:`prepare_output_folder`, :func:`recover_folder`). :func:`check_output_file`: may a file be written.
* :func:`sha256_bytes`, :func:`sha256_file`: hex SHA-256 digests. :func:`library_version`: DiffLUT's version.

Used by checkpoints, :func:`difflut.hw.ir.save_ir`, exports and the benchmarks. Imports neither torch nor numpy.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .errors import DiffLUTError


class OutputError(DiffLUTError, ValueError):
    """An output cannot be written: an unwritable place, or a folder that is not ours to replace."""


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_file(path) as f: f.write(...)``: ``path`` becomes what was written when the block ends
    without an error (flushed, fsynced, renamed into place); on an error it is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.absolute().parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


def _write_file(folder: Path, name: str, data: bytes) -> None:
    with open(folder / name, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


#: the manifest's ``format`` (a folder whose manifest says otherwise is not ours)
MANIFEST_FORMAT = "difflut-export"
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: the temporary folders of :func:`commit_folder` (``tempfile.mkdtemp`` names): ``.NAME.tmp-XXXXXXXX``
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-[a-z0-9_]{8}")


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is repeated")
    return dict(pairs)


def read_manifest(folder, manifest: str) -> dict[str, str]:
    """The files ``folder/manifest`` lists, ``{file name: sha256}``. Raises :class:`OutputError` naming the
    problem when it is not a readable DiffLUT manifest (strict JSON object, ``format`` ``difflut-export``,
    ``files`` an object of plain file names to hex SHA-256 digests)."""
    path = Path(folder) / manifest
    try:
        data = json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                          parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise OutputError(f"{path} is not a readable DiffLUT manifest: {e}") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise OutputError(f"{path} is not a DiffLUT manifest (no \"format\": \"{MANIFEST_FORMAT}\")")
    listed = data.get("files")
    if not isinstance(listed, dict):
        raise OutputError(f"{path} is not a valid DiffLUT manifest: \"files\" must be an object of file names to "
                          f"SHA-256 digests")
    for fname, digest in listed.items():
        if fname in ("", ".", "..", manifest) or "/" in fname or "\\" in fname or "\0" in fname:
            raise OutputError(f"{path} is not a valid DiffLUT manifest: \"files\" lists {fname!r}, which is not a "
                              f"file name of the folder")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise OutputError(f"{path} is not a valid DiffLUT manifest: \"files\".{fname}: expected a hex SHA-256 "
                              f"digest, got {digest!r}")
    return dict(listed)


def foreign_entries(folder, manifest: str) -> list[str]:
    """The entries of the export ``folder`` that its manifest does not list (files or folders the user
    added), after checking that every file it lists is unchanged. Raises :class:`OutputError` when the
    manifest is unreadable or a listed file was changed (its bytes would be lost)."""
    folder = Path(folder)
    listed = read_manifest(folder, manifest)
    for fname, digest in sorted(listed.items()):
        path = folder / fname
        if not os.path.lexists(path):
            continue  # deleted since the export: nothing of the user's to lose
        if path.is_symlink() or not path.is_file() or sha256_file(path) != digest:
            raise OutputError(f"{path} was changed since it was exported (it differs from the SHA-256 in "
                              f"{manifest}); refusing to replace the folder: move the file away first")
    return sorted(e for e in os.listdir(folder) if e != manifest and e not in listed)


def _leftovers(out: Path, kind: str) -> list[Path]:
    parent = out.absolute().parent
    if not parent.is_dir():
        return []
    found = []
    for entry in os.listdir(parent):
        m = _LEFTOVER.fullmatch(entry)
        if m and m["name"] == out.name and m["kind"] == kind and (parent / entry).is_dir() \
                and not (parent / entry).is_symlink():
            found.append(parent / entry)
    return sorted(found)


def _same_tree(a: Path, b: Path) -> bool:
    """``b`` holds the file or folder ``a`` with the same bytes (symbolic links: the same target)."""
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    if a.is_dir():
        return b.is_dir() and all(_same_tree(a / e, b / e) for e in os.listdir(a))
    return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)


def recover_folder(out_dir, manifest: str) -> None:
    """Finish or undo a :func:`commit_folder` of ``out_dir`` that was interrupted (killed):

    * ``.NAME.tmp-*`` (a new folder not yet renamed into place) is removed;
    * ``.NAME.old-*/export`` (the previous folder, moved aside) is renamed back when ``out_dir`` is
      missing (killed between the two renames: the folder is as it was before that commit); when
      ``out_dir`` exists (killed after the commit) it is removed if every file of it is in its manifest
      unchanged or also in ``out_dir`` with the same bytes, and otherwise left alone.
    """
    out = Path(out_dir)
    olds = [p for p in _leftovers(out, "old") if os.listdir(p) == ["export"]]
    if not os.path.lexists(out):
        if len(olds) > 1:
            raise OutputError(f"several interrupted exports of {str(out)!r} left folders beside it "
                              f"({', '.join(p.name for p in olds)}): keep the one you want as {out.name} and "
                              f"remove the others")
        if olds:
            os.replace(olds[0] / "export", out)
            os.rmdir(olds[0])
    else:
        for old in olds:
            try:
                kept = foreign_entries(old / "export", manifest)
            except OutputError:
                continue
            if all(_same_tree(old / "export" / e, out / e) for e in kept):
                shutil.rmtree(old)
    for tmp in _leftovers(out, "tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def _writable_place(out: Path) -> None:
    """``out``'s nearest existing ancestor is a writable folder, else :class:`OutputError`."""
    place = out.absolute().parent
    while not place.exists():
        place = place.parent
    if not place.is_dir():
        raise OutputError(f"cannot write to {str(out)!r}: {str(place)!r} is not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {str(out)!r}: the folder {str(place)!r} is not writable")


def prepare_output_folder(out_dir, manifest: str) -> list[str]:
    """Check that ``out_dir`` may be written before any work starts; returns the entries of an existing
    export there that its manifest does not list (they are kept, see :func:`commit_folder`).

    Recovers an interrupted commit first (:func:`recover_folder`). ``out_dir`` may be missing, an empty
    folder, or a folder with a readable manifest whose listed files are unchanged; anything else (a file,
    a symbolic link, a folder of other files, an unwritable place) is an :class:`OutputError`."""
    out = Path(out_dir)
    _writable_place(out)
    recover_folder(out, manifest)
    if out.is_symlink():
        raise OutputError(f"output path {str(out)!r} is a symbolic link; refusing to replace it")
    if not out.exists():
        return []
    if not out.is_dir():
        raise OutputError(f"output path {str(out)!r} exists and is not a folder")
    if not any(out.iterdir()):
        return []
    if not (out / manifest).is_file():
        raise OutputError(f"output folder {str(out)!r} is not empty and holds no DiffLUT export ({manifest}); "
                          f"refusing to replace it")
    return foreign_entries(out, manifest)


def manifest_bytes(manifest: dict) -> bytes:
    """A manifest's file bytes: sorted keys, one-space indent, a final newline."""
    return (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()


def with_manifest(files: dict[str, bytes], manifest: str, fields: dict | None = None) -> dict[str, bytes]:
    """``files`` plus the manifest ``manifest`` listing their SHA-256 (``"format": "difflut-export"``,
    ``"files"``, and ``fields``)."""
    listed = {f: sha256_bytes(data) for f, data in sorted(files.items())}
    return {**files, manifest: manifest_bytes({**(fields or {}), "format": MANIFEST_FORMAT, "files": listed})}


def _check_own_manifest(files: dict[str, bytes], manifest: str) -> None:
    listed = json.loads(files[manifest])["files"]
    want = {f: sha256_bytes(data) for f, data in files.items() if f != manifest}
    if listed != want:
        raise OutputError(f"internal error: {manifest} does not list exactly the files written")


def commit_folder(files: dict[str, bytes], out_dir, *, manifest: str,
                  before_commit: Callable[[Path], None] | None = None) -> None:
    """Write ``files`` (``{name: bytes}``) as the folder ``out_dir``, atomically: into a temporary folder
    beside it, then renamed into place, so ``out_dir`` ends as the complete new folder or as it was.

    ``files[manifest]`` is the folder's manifest: JSON with ``"format": "difflut-export"`` and ``"files"``,
    the SHA-256 of every other file. An existing ``out_dir`` is replaced only as
    :func:`prepare_output_folder` allows; the entries of it that its manifest does not list (the user's)
    are copied into the new folder unchanged, and one that has the name of a new file is an
    :class:`OutputError`. ``before_commit(tmp)`` may check or rewrite the files in the temporary folder
    (the manifest must still list them); an error there leaves ``out_dir`` untouched.
    """
    out = Path(out_dir)
    _check_own_manifest(files, manifest)
    keep = prepare_output_folder(out, manifest)
    clash = sorted(set(keep) & set(files))
    if clash:
        raise OutputError(f"{str(out / clash[0])!r} was not written by the export, and the new export writes a "
                          f"file of that name; refusing to replace it: move it away first")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as e:
        raise OutputError(f"cannot write the export beside {str(out)!r}: {e.strerror or e}") from None
    old = None
    try:
        for fname in sorted(files):
            _write_file(tmp, fname, files[fname])
        if before_commit is not None:
            before_commit(tmp)
            _check_own_manifest({p.name: p.read_bytes() for p in tmp.iterdir()}, manifest)
        for entry in keep:  # the user's files: copied (the originals stay until the commit is done)
            src = out / entry
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, tmp / entry, symlinks=True)
            else:
                shutil.copy2(src, tmp / entry, follow_symlinks=False)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.replace(out, old / "export")
        os.replace(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "export").exists() and not out.exists():
            os.replace(old / "export", out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(e, OSError):
            raise OutputError(f"cannot write the export to {str(out)!r}: {e}") from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_output_file(path, *, what: str, ours: Callable[[Path], bool]) -> None:
    """Check before any work starts that ``path`` may be written (atomically, :func:`atomic_file`): its
    folder exists and is writable, and ``path`` is missing or a file ``ours(path)`` recognises as one
    DiffLUT wrote (``what``: e.g. "DiffLUT checkpoint"). Raises :class:`OutputError` otherwise."""
    path = Path(path)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {str(path)!r}: the folder {str(folder)!r} is not writable")
    if path.is_symlink() or path.is_dir():
        raise OutputError(f"{str(path)!r} is a {'symbolic link' if path.is_symlink() else 'folder'}; "
                          f"refusing to replace it")
    if path.exists() and not ours(path):
        raise OutputError(f"{str(path)!r} exists and is not a {what}; refusing to replace it")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_version() -> str:
    """DiffLUT's version (``difflut.__version__``)."""
    from . import __version__

    return __version__
