"""Logarithmic encoder: binary code of a level on log-spaced bins (fine near the minimum)."""

from __future__ import annotations

import math

import torch

from ..registry import register_encoder
from .binary import BinaryEncoder


@register_encoder("logarithmic")
class LogarithmicEncoder(BinaryEncoder):
    """Unsigned binary code of the level among ``L = 2**num_bits`` log-spaced bins.

    Fit: per feature, with ``R = dynamic_range``,
    ``t_j = min + (max - min) * ((1 + R)**(j / L) - 1) / R``, j = 1..L-1: the bins are
    equal-width in ``log(x - min + (max - min) / R)``, so their widths grow geometrically from
    the minimum and the last bin is ``(1 + R)**((L - 1) / L)`` times wider than the first.
    Eval (= train): ``level = #{j : t_j < x}`` (strict); bit i is ``(level >> i) & 1``, LSB first.
    """

    def __init__(self, num_bits: int, dynamic_range: float = 100.0):
        if not isinstance(dynamic_range, (int, float)) or isinstance(dynamic_range, bool) \
                or not math.isfinite(dynamic_range) or dynamic_range <= 0:
            raise ValueError(f"dynamic_range must be a finite number > 0, got {dynamic_range!r}")
        super().__init__(num_bits)
        self.dynamic_range = float(dynamic_range)

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        lo, hi = data.amin(0).double(), data.amax(0).double()
        levels = 1 << self.num_bits
        j = torch.arange(1, levels, dtype=torch.float64, device=data.device)
        r = self.dynamic_range
        fraction = torch.expm1(j / levels * math.log1p(r)) / r
        return lo.unsqueeze(1) + (hi - lo).unsqueeze(1) * fraction

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dynamic_range={self.dynamic_range}"
