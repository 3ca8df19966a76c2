"""Writing and hashing files: the one place for atomic writes, atomic folders, SHA-256 and the library version.

* :func:`atomic_file` / :func:`write_atomic`: a file is written to a temporary file beside it, flushed to disk
  and renamed over the target (``os.replace``), so the target is either the complete new file or as it was.
* :func:`commit_folder`: the same for a folder of files (a temporary folder renamed into place); an existing
  folder is replaced only when it is empty or holds a marker file of ours.
* :func:`sha256_bytes`, :func:`sha256_file`: hex SHA-256 digests. :func:`library_version`: DiffLUT's version.

Used by checkpoints, :func:`difflut.hw.ir.save_ir`, exports and the benchmarks. Imports neither torch nor numpy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
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


def commit_folder(files: dict[str, bytes], out_dir, *, markers: tuple[str, ...],
                  before_commit: Callable[[Path], None] | None = None) -> None:
    """Write ``files`` (``{name: bytes}``) as the folder ``out_dir``, atomically: into a temporary folder
    beside it, then renamed into place, so ``out_dir`` ends as the complete new folder or as it was.

    An existing ``out_dir`` is replaced only when it is empty or holds one of ``markers`` (a folder we
    wrote before): anything else is refused with :class:`OutputError`, as is an unwritable place.
    ``before_commit(tmp)`` may check or rewrite the files in the temporary folder; an error there leaves
    ``out_dir`` untouched.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not any((out / m).is_file() for m in markers):
        raise OutputError(f"output folder {str(out)!r} is not empty and holds no DiffLUT export "
                          f"({' or '.join(markers)}); refusing to replace it")
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
