"""Files DiffLUT ships beside its Python code: the cocotb testbench (``sim/``) and the CUDA sources (``csrc/``).

In a source checkout they are the repository's folders; an installed wheel puts them under
``share/difflut/`` of the installation prefix (``sys.prefix``, or the user base for ``pip install --user``).
"""

from __future__ import annotations

import site
import sys
from collections.abc import Sequence
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def candidate_folders(name: str) -> tuple[Path, ...]:
    """Where the folder ``name`` may be, in the order searched."""
    prefixes = [Path(sys.prefix)]
    user_base = getattr(site, "USER_BASE", None)
    if user_base and Path(user_base) not in prefixes:
        prefixes.append(Path(user_base))
    return (REPOSITORY / name, *(p / "share" / "difflut" / name for p in prefixes))


def find_folder(name: str, files: Sequence[str]) -> Path | None:
    """The first of :func:`candidate_folders` holding every one of ``files``; ``None`` if none does."""
    for folder in candidate_folders(name):
        if all((folder / f).is_file() for f in files):
            return folder
    return None
