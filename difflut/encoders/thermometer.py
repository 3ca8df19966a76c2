"""Thermometer encoders: bit i of a feature is ``x > t_i`` for ascending fitted thresholds."""

from __future__ import annotations

import torch

from ..registry import register_encoder
from .base import BaseEncoder, uniform_thresholds


@register_encoder("thermometer")
class ThermometerEncoder(BaseEncoder):
    """Thermometer code over ``num_bits`` thresholds evenly spaced inside the fitted range.

    Fit: per feature ``t_i = min + (max - min) * i / (num_bits + 1)``, i = 1..num_bits
    (rounded to the encoder's dtype; ``+inf`` for a constant feature).
    Eval (= train): bit i (i = 0..num_bits-1, ascending thresholds) is ``x > t_(i+1)``
    (strict), i.e. ``level > i`` with ``level = #{t < x}``: bit 0 turns on first.
    """

    max_bits = 1024

    @property
    def num_thresholds(self) -> int:
        return self.num_bits

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        return uniform_thresholds(data.amin(0).double(), data.amax(0).double(), self.num_bits + 1)

    def code(self, level: torch.Tensor) -> torch.Tensor:
        return level.unsqueeze(-1) > torch.arange(self.num_bits, device=level.device)


@register_encoder("gaussian_thermometer")
class GaussianThermometerEncoder(ThermometerEncoder):
    """Thermometer code with thresholds at normal quantiles of the fitted mean and std.

    Fit: per feature ``t_i = mean + std * Phi^-1(i / (num_bits + 1))``, i = 1..num_bits, with the
    sample std (Bessel-corrected; 0 when N == 1) and Phi^-1 the standard normal quantile function.
    Eval: as :class:`ThermometerEncoder`, bit i is ``x > t_(i+1)``.
    """

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        data = data.double()
        mean = data.mean(0)
        std = data.std(0, correction=1 if data.shape[0] > 1 else 0)
        p = torch.arange(1, self.num_bits + 1, dtype=torch.float64, device=data.device) / (self.num_bits + 1)
        return mean.unsqueeze(1) + std.unsqueeze(1) * torch.special.ndtri(p)


@register_encoder("distributive_thermometer")
class DistributiveThermometerEncoder(ThermometerEncoder):
    """Thermometer code with thresholds at empirical quantiles of the fit data.

    Fit: per feature, with ``s`` the N fit values sorted ascending (0-based),
    ``t_i = s[(N * i) // (num_bits + 1)]``, i = 1..num_bits (data values, no interpolation):
    on data without ties exactly ``N - 1 - (N * i) // (num_bits + 1)`` fit values have bit i set.
    Eval: as :class:`ThermometerEncoder`, bit i is ``x > t_(i+1)``.
    """

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        n = data.shape[0]
        index = torch.tensor([n * i // (self.num_bits + 1) for i in range(1, self.num_bits + 1)],
                             device=data.device)
        return data.T.contiguous().sort(1).values[:, index].double()
