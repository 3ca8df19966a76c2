"""Binary encoder: the level in equal-width bins of the fitted range, as an unsigned integer."""

from __future__ import annotations

import torch

from ..registry import register_encoder
from .base import BaseEncoder, uniform_thresholds


@register_encoder("binary")
class BinaryEncoder(BaseEncoder):
    """Unsigned binary code of the level among ``2**num_bits`` equal-width bins.

    Fit: per feature ``t_j = min + (max - min) * j / 2**num_bits``, j = 1..2**num_bits - 1.
    Eval (= train): ``level = #{j : t_j < x}`` (strict; a value on an edge takes the lower bin,
    values outside the fitted range clamp to level 0 or 2**num_bits - 1); bit i is
    ``(level >> i) & 1``, LSB first (bit 0 is the least significant).
    """

    @property
    def num_thresholds(self) -> int:
        return (1 << self.num_bits) - 1

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        return uniform_thresholds(data.amin(0).double(), data.amax(0).double(), 1 << self.num_bits)

    def code(self, level: torch.Tensor) -> torch.Tensor:
        return ((level.unsqueeze(-1) >> torch.arange(self.num_bits, device=level.device)) & 1).bool()
