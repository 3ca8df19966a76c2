"""Gray encoder: the binary encoder's level in reflected Gray code."""

from __future__ import annotations

import torch

from ..registry import register_encoder
from .binary import BinaryEncoder


@register_encoder("gray")
class GrayEncoder(BinaryEncoder):
    """Reflected Gray code of the level among ``2**num_bits`` equal-width bins.

    Fit and level: as :class:`BinaryEncoder`. Bits: ``g = level ^ (level >> 1)``; bit i is
    ``(g >> i) & 1``, LSB first. Adjacent levels differ in exactly one bit.
    """

    def code(self, level: torch.Tensor) -> torch.Tensor:
        return super().code(level ^ (level >> 1))
