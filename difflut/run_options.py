"""Options shared by the commands (``train``, ``eval``, ``demo``, ``export``, ``sim``) and the demo: the
device, the validation split, the checkpoint output path and the argparse types that range-check numbers."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from .errors import DiffLUTError


class UsageError(DiffLUTError, ValueError):
    """A command-line option or argument is wrong (printed as ``difflut CMD: error: ...``, exit 2)."""


def parse_device(name: str | None) -> torch.device:
    """``name`` (``cpu``, ``cuda``, ``cuda:1``; None: cpu) as a device that exists here, else :class:`UsageError`."""
    try:
        device = torch.device(name or "cpu")
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"--device must be cpu, cuda or cuda:N, got {name!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return device


def split_validation(images: torch.Tensor, labels: torch.Tensor, val_size: int):
    """Hold out the last ``val_size`` training images to pick the best epoch (the test split stays unseen)."""
    if val_size < 0 or val_size >= len(images):
        raise UsageError(f"--val-size must be in 0..{len(images) - 1} for {len(images)} training images, "
                         f"got {val_size}")
    if val_size == 0:
        return (images, labels), (images, labels)
    return (images[:-val_size], labels[:-val_size]), (images[-val_size:], labels[-val_size:])


def check_limit(option: str, limit: int | None, available: int, what: str) -> None:
    """``limit`` (None: all) must not ask for more than the ``available`` images, else :class:`UsageError`."""
    if limit is not None and limit > available:
        raise UsageError(f"{option} {limit} is more than the {available} {what}")


def _is_checkpoint(path: Path) -> bool:
    from .checkpoint import CheckpointError, read_checkpoint

    try:
        read_checkpoint(path)
    except (CheckpointError, OSError):
        return False
    return True


def check_checkpoint_out(path) -> None:
    """Before training: ``path`` may receive a checkpoint (its folder exists and is writable; it is missing
    or a DiffLUT checkpoint, never another file or a folder), else :class:`~difflut.files.OutputError`."""
    from .files import check_output_file

    check_output_file(path, what="DiffLUT checkpoint", ours=_is_checkpoint)


# -- argparse types: a number out of range is argparse's own error (exit 2), before any work ----------
def int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def float_in(low: float, high: float, *, low_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            bounds = f"{'(' if low_open else '['}{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be a number in {bounds}, got {text}")
        return value

    parse.__name__ = "number"
    return parse
