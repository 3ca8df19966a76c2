"""Training-time data augmentation on integer images (the codes the hardware sees)."""

from __future__ import annotations

import torch


def check_max_shift(max_shift) -> int:
    """``max_shift`` if it is a non-negative int, else ``ValueError``."""
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative int, got {max_shift!r}")
    return max_shift


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift every image by its own random (dy, dx) in ``-max_shift..max_shift``, zero-filled.

    ``images`` (B, ..., H, W) of any dtype -> same shape and dtype: ``out[b, ..., i, j] =
    images[b, ..., i - dy_b, j - dx_b]`` where that pixel exists, else 0. The shifts are drawn on the
    CPU from ``generator`` (or the global RNG), so a seed gives the same shifts on every device.
    """
    check_max_shift(max_shift)
    if images.dim() < 3:
        raise ValueError(f"random_shift expects images (B, ..., H, W), got shape {tuple(images.shape)}")
    if max_shift == 0 or images.shape[0] == 0:
        return images
    batch, (height, width), s = images.shape[0], images.shape[-2:], max_shift
    shifts = torch.randint(-s, s + 1, (2, batch), generator=generator).to(images.device)
    padded = torch.nn.functional.pad(images.reshape(batch, -1, height, width), (s, s, s, s))
    rows = (torch.arange(height, device=images.device) + s).unsqueeze(0) - shifts[0].unsqueeze(1)  # (B, H)
    cols = (torch.arange(width, device=images.device) + s).unsqueeze(0) - shifts[1].unsqueeze(1)  # (B, W)
    b = torch.arange(batch, device=images.device).view(batch, 1, 1, 1)
    c = torch.arange(padded.shape[1], device=images.device).view(1, -1, 1, 1)
    out = padded[b, c, rows.view(batch, 1, height, 1), cols.view(batch, 1, 1, width)]
    return out.reshape(images.shape)


def shift_images(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Every image shifted by the same (dy, dx), zero-filled: ``out[b, ..., i, j] = images[b, ..., i - dy,
    j - dx]`` where that pixel exists, else 0. ``images`` (B, ..., H, W), any dtype; same shape out."""
    if images.dim() < 2:
        raise ValueError(f"shift_images expects images (..., H, W), got shape {tuple(images.shape)}")
    h, w = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dy) < h and abs(dx) < w:
        out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            images[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2.

    ``images`` (B, ..., H, W) of any dtype -> same shape and dtype: ``out[b, ..., i, j] = images[b, ..., i,
    W - 1 - j]`` for the flipped images, ``images[b]`` for the others. The choices are drawn on the CPU from
    ``generator`` (or the global RNG), so a seed gives the same flips on every device.
    """
    if images.dim() < 3:
        raise ValueError(f"random_hflip expects images (B, ..., H, W), got shape {tuple(images.shape)}")
    flip = torch.randint(0, 2, (images.shape[0],), generator=generator).bool().to(images.device)
    return torch.where(flip.view((-1,) + (1,) * (images.dim() - 1)), images.flip(-1), images)
