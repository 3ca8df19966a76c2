"""Where datasets are looked for."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent
ENV_VAR = "DIFFLUT_DATA"


def dataset_dirs(subdir: str, data_dir: str | os.PathLike | None, bundled: bool) -> list[Path]:
    """Candidate folders for one dataset, in order: ``data_dir`` (else ``$DIFFLUT_DATA``), the bundled copy.

    A given ``data_dir`` (or ``$DIFFLUT_DATA``) may be the dataset's folder itself or a folder holding
    ``subdir``.
    """
    roots = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    elif os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]))
    candidates = []
    for root in roots:
        candidates += [root / subdir, root]
    if bundled:
        candidates.append(BUNDLED_DIR / subdir)
    return candidates


def find_files(subdir: str, names: list[str], data_dir, bundled: bool) -> Path:
    """The first candidate folder that holds every file in ``names``; a clear error otherwise."""
    candidates = dataset_dirs(subdir, data_dir, bundled)
    for folder in candidates:
        if all((folder / n).is_file() for n in names):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "(nowhere: pass data_dir or set DIFFLUT_DATA)"
    raise FileNotFoundError(f"{subdir}: files {names} not found; looked in: {looked}")
