"""Trained checkpoints shipped with DiffLUT: ``<model name>.pt`` in this folder, loaded by
``get_model(name, pretrained=True)``.

Each file is a compact checkpoint (:mod:`difflut.checkpoint`: connections instead of mapping logits,
float16 or bfloat16 node parameters where the truth tables stay equal; at most :data:`MAX_BYTES`)
whose metadata holds :data:`REQUIRED` (made by :func:`pretrained_metadata`)::

    {"dataset": "mnist", "test_accuracy": 97.31, "test_correct": 9731, "test_images": 10000,
     "luts": {"layers": 540, "popcount": 90, "argmax": 63, "encoder": 410, "total": 693,
              "source": "difflut synth --target xilinx"},       # total = layers + popcount + argmax
     "recipe": "difflut train mnist_lut_tiny --epochs 30 ...", ...}

``test_accuracy`` is the eval (hardware) function's accuracy on the dataset's whole test split,
``100 * test_correct / test_images``; ``tests/test_pretrained.py`` recomputes it for every shipped file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ...checkpoint import CheckpointError, load, read_checkpoint, save_checkpoint

#: the folder of the shipped files (``<model name>.pt``)
FOLDER = Path(__file__).resolve().parent
#: the largest shipped file, bytes
MAX_BYTES = 2 * 1024 * 1024
#: metadata every shipped checkpoint carries
REQUIRED = ("dataset", "test_accuracy", "test_correct", "test_images", "luts", "recipe")
#: the parts of ``luts`` (``encoder`` may be None: not measured); total = layers + popcount + argmax
LUT_PARTS = ("layers", "popcount", "argmax", "encoder", "total", "source")
#: ``luts["source"]`` values
LUT_SOURCES = ("difflut synth --target xilinx", "IR estimate")  # the latter: difflut.models.budget.luts_estimate


def pretrained_names() -> list[str]:
    """Model names that have a shipped checkpoint, sorted."""
    return sorted(p.stem for p in FOLDER.glob("*.pt"))


def pretrained_path(name: str) -> Path:
    """The shipped checkpoint of model ``name`` (a registered name, not an alias); KeyError listing the models
    that have one if there is none."""
    path = FOLDER / f"{name}.pt"
    if not path.is_file():
        names = ", ".join(pretrained_names()) or "none in this installation"
        raise KeyError(f"model {name!r} has no pretrained checkpoint; models with one: {names}")
    return path


def pretrained_info(name: str) -> dict[str, Any]:
    """The metadata of ``name``'s shipped checkpoint (accuracy, dataset, LUTs, recipe, ...), without building
    the model; plus ``model``, ``file``, ``bytes``, ``sha256``, ``compact``. The file is verified
    (:func:`~difflut.checkpoint.read_checkpoint`); CheckpointError if it lacks :data:`REQUIRED` metadata."""
    path = pretrained_path(name)
    ckpt = read_checkpoint(path)
    check_metadata(ckpt["metadata"], str(path))
    if ckpt["model_name"] != path.stem:
        raise CheckpointError(f"{str(path)!r} holds model {ckpt['model_name']!r}, not {path.stem!r}")
    return dict(ckpt["metadata"], model=ckpt["model_name"], file=str(path), bytes=path.stat().st_size,
                sha256=ckpt["file_sha256"], compact=bool(ckpt.get("compact")))


def load_pretrained(name: str, device: str | torch.device | None = None):
    """The model ``name`` with its shipped trained weights, in eval mode (``get_model(name, pretrained=True)``)."""
    info = pretrained_info(name)
    return load(info["file"], device=device)


def check_metadata(metadata: dict, where: str) -> None:
    """Raise CheckpointError naming the first :data:`REQUIRED` entry that is missing or malformed."""
    missing = [k for k in REQUIRED if k not in metadata]
    if missing:
        raise CheckpointError(f"{where!r}: pretrained metadata lacks {', '.join(missing)}")
    correct, images, luts = metadata["test_correct"], metadata["test_images"], metadata["luts"]
    if not (type(correct) is int and type(images) is int and 0 <= correct <= images and images > 0):
        raise CheckpointError(f"{where!r}: test_correct / test_images must be integers with 0 <= correct <= "
                              f"images > 0, got {correct!r} / {images!r}")
    if metadata["test_accuracy"] != round(100 * correct / images, 4):
        raise CheckpointError(f"{where!r}: test_accuracy {metadata['test_accuracy']!r} is not "
                              f"100 * {correct} / {images}")
    try:
        check_luts(luts, where)
    except ValueError as e:
        raise CheckpointError(str(e)) from None


def check_luts(luts, where: str) -> None:
    """Raise ValueError unless ``luts`` is a :data:`LUT_PARTS` dict with a consistent total (also the
    ``luts`` of a run in ``benchmarks/plot_pareto.py``'s result format)."""
    if not isinstance(luts, dict) or set(luts) != set(LUT_PARTS):
        raise ValueError(f"{where!r}: luts must be a dict of {', '.join(LUT_PARTS)}, got {luts!r}")
    counts = [luts[k] for k in ("layers", "popcount", "argmax", "total")]
    if not all(type(v) is int and v >= 0 for v in counts + [0 if luts["encoder"] is None else luts["encoder"]]):
        raise ValueError(f"{where!r}: LUT counts must be non-negative integers, got {luts!r}")
    if luts["total"] != sum(counts[:3]) or luts["source"] not in LUT_SOURCES:
        raise ValueError(f"{where!r}: luts total must be layers + popcount + argmax and source one of "
                         f"{LUT_SOURCES}, got {luts!r}")


def luts_from_synth(report: dict) -> dict[str, Any]:
    """LUT parts from a ``difflut synth --target xilinx`` ``report.json`` (its ``roles``)."""
    if not isinstance(report, dict) or report.get("format") != "difflut-synth-report":
        raise ValueError("not a difflut synth report.json (no format='difflut-synth-report')")
    if report.get("target") != "xilinx":
        raise ValueError(f"the LUT figures come from --target xilinx, this report is for {report.get('target')!r}")
    roles = report.get("roles")
    if not isinstance(roles, dict) or not all(isinstance(r, dict) and type(r.get("luts")) is int
                                              for r in roles.values()):
        raise ValueError("the synth report has no 'roles' with integer 'luts' per part")
    parts = {k: int(roles.get(k, {}).get("luts", 0)) for k in ("layers", "popcount", "argmax")}
    encoder = roles.get("encoder", {}).get("luts")
    return dict(parts, encoder=None if encoder is None else int(encoder), total=sum(parts.values()),
                source=LUT_SOURCES[0])


def count_correct(model, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Test images the eval (hardware) function classifies right (ties -> lowest class index)."""
    model.eval()
    return int((model.predict(images).cpu() == labels.cpu()).sum())


def pretrained_metadata(model, images, labels, *, dataset: str, luts: dict, recipe: str,
                        extra: dict | None = None) -> dict[str, Any]:
    """The :data:`REQUIRED` metadata of ``model``, its accuracy measured on the whole test split
    ``images, labels`` of ``dataset``; ``extra`` (e.g. the training checkpoint's metadata) is kept beside
    it, its :data:`REQUIRED` keys replaced."""
    correct = count_correct(model, images, labels)
    metadata = dict(extra or {}, dataset=dataset, test_correct=correct, test_images=len(labels),
                    test_accuracy=round(100 * correct / len(labels), 4), luts=dict(luts), recipe=str(recipe))
    check_metadata(metadata, model.model_name)
    return metadata


def save_pretrained(model, path, metadata: dict) -> int:
    """Write ``model`` as a compact checkpoint with pretrained ``metadata`` to ``path`` (atomically); returns
    its size in bytes. ValueError, ``path`` untouched, if it would exceed :data:`MAX_BYTES`."""
    check_metadata(metadata, str(path))
    path = Path(path)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_checkpoint(model, scratch, metadata, compact=True)
        size = os.path.getsize(scratch)
        if size > MAX_BYTES:
            raise ValueError(f"{model.model_name}: compact checkpoint is {size:,} bytes, over the "
                             f"{MAX_BYTES:,} that may ship")
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return size


__all__ = ["FOLDER", "LUT_PARTS", "MAX_BYTES", "REQUIRED", "check_luts", "check_metadata", "count_correct",
           "load_pretrained", "luts_from_synth", "pretrained_info", "pretrained_metadata",
           "pretrained_names", "pretrained_path", "save_pretrained"]
