"""Sign-magnitude encoder: a sign bit and the binary level of |x| in equal bins of [0, max |x|]."""

from __future__ import annotations

import torch

from ..registry import register_encoder
from .base import uniform_thresholds
from .binary import BinaryEncoder


@register_encoder("sign_magnitude")
class SignMagnitudeEncoder(BinaryEncoder):
    """Sign bit plus ``num_bits - 1`` magnitude bits (``num_bits >= 2``).

    Fit: per feature ``A = max |x|`` and ``t_j = A * j / M``, j = 1..M-1, ``M = 2**(num_bits - 1)``.
    Eval (= train): ``m = #{j : t_j < |x|}`` (strict); bit i is ``(m >> i) & 1`` for
    i = 0..num_bits-2 (LSB first) and the last bit (index num_bits - 1) is the sign ``x < 0``
    (so -0.0 has sign 0). Read as an integer, the feature's bits are the sign-magnitude
    representation of ``+-m``.
    """

    min_bits = 2

    @property
    def num_thresholds(self) -> int:
        return (1 << (self.num_bits - 1)) - 1

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        top = data.abs().amax(0).double()
        return uniform_thresholds(torch.zeros_like(top), top, 1 << (self.num_bits - 1))

    def encode_bits(self, x: torch.Tensor) -> torch.Tensor:
        magnitude = torch.arange(self.num_bits - 1, device=x.device)
        bits = (self.level(x.abs()).unsqueeze(-1) >> magnitude) & 1
        return torch.cat([bits.bool(), (x < 0).unsqueeze(-1)], dim=-1)
