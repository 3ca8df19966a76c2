"""Options shared by the ``train`` command and the demo: the device and the validation split."""

from __future__ import annotations

import torch


def device_or_exit(name: str | None) -> torch.device:
    device = torch.device(name or "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("difflut: --device cuda requested but CUDA is not available")
    return device



def split_validation(images: torch.Tensor, labels: torch.Tensor, val_size: int):
    """Hold out the last ``val_size`` training images to pick the best epoch (the test split stays unseen)."""
    if val_size < 0 or val_size >= len(images):
        raise ValueError(f"--val-size must be in 0..{len(images) - 1} for {len(images)} training images, got {val_size}")
    if val_size == 0:
        return (images, labels), (images, labels)
    return (images[:-val_size], labels[:-val_size]), (images[-val_size:], labels[-val_size:])
