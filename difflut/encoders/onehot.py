"""One-hot encoder: one bit per equal-width bin of the fitted range."""

from __future__ import annotations

import torch

from ..registry import register_encoder
from .base import BaseEncoder, uniform_thresholds


@register_encoder("onehot")
class OneHotEncoder(BaseEncoder):
    """One-hot code of the bin among ``num_bits`` equal-width bins (``num_bits`` counts bins).

    Fit: per feature ``t_j = min + (max - min) * j / num_bits``, j = 1..num_bits - 1.
    Eval (= train): ``level = #{j : t_j < x}`` (strict: bins are ``(t_j, t_(j+1)]``; values
    outside the fitted range fall in the first or last bin); bit i is ``level == i``, so
    exactly one bit is set.
    """

    min_bits = 2
    max_bits = 1024

    @property
    def num_thresholds(self) -> int:
        return self.num_bits - 1

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        return uniform_thresholds(data.amin(0).double(), data.amax(0).double(), self.num_bits)

    def code(self, level: torch.Tensor) -> torch.Tensor:
        return level.unsqueeze(-1) == torch.arange(self.num_bits, device=level.device)
