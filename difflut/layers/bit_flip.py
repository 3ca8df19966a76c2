"""Bit-flip augmentation of a layer's input bits (training only)."""

from __future__ import annotations

import torch
from torch import nn


class BitFlip(nn.Module):
    """Flip each input bit independently with probability ``p`` while training.

    Shapes: any ``x`` -> same shape and dtype.

    Training: ``y = 1 - x`` where an independent ``Bernoulli(p)`` draw (from the
    global torch RNG) is 1, else ``y = x``. The flip is noise, not a learnable
    operation: the gradient is the identity, ``dy/dx = 1`` everywhere.

    Eval: the identity, ``y = x`` (hardware never flips bits).
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"flip_probability must be a number in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.rand(x.shape, device=x.device) < self.p
        return x + torch.where(mask, 1 - 2 * x, torch.zeros_like(x)).detach()

    def extra_repr(self) -> str:
        return f"p={self.p}"
