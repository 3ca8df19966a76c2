"""A thermometer encoder with a total bit budget shared among features by their spread in the data."""

from __future__ import annotations

import math

import torch

from ..registry import register_encoder
from .thermometer import ThermometerEncoder


def allocate_bits(spread: torch.Tensor, max_bits: int, total_bits: int) -> torch.Tensor:
    """Thresholds per feature: spread float (F,) -> int64 counts (F,), each in 0..max_bits, sum = total_bits.

    Feature f's j-th threshold (j = 1..max_bits) has priority ``spread[f] / j``; the ``total_bits``
    highest priorities win (ties -> lower feature, then lower j). A feature with zero spread gets none.
    ValueError when ``total_bits`` exceeds ``max_bits`` times the number of features with spread > 0.
    """
    features = spread.numel()
    usable = int((spread > 0).sum()) * max_bits
    if not 1 <= total_bits <= usable:
        raise ValueError(f"total_bits={total_bits} must be in 1..{usable} (max_bits={max_bits} times the "
                         f"{usable // max_bits} features that vary in the data)")
    j = torch.arange(1, max_bits + 1, dtype=torch.float64)
    priority = (spread.double().unsqueeze(1) / j).reshape(-1)  # feature-major, j ascending
    order = torch.sort(-priority, stable=True).indices[:total_bits]
    return torch.bincount(order // max_bits, minlength=features)


@register_encoder("variance_thermometer")
class VarianceThermometerEncoder(ThermometerEncoder):
    """Thermometer code with a per-feature number of thresholds chosen from the data's spread.

    ``num_bits`` is the most bits a feature may get; ``total_bits`` (default: ``num_bits`` per feature)
    is the budget over all features. Fit: feature f gets ``c_f`` thresholds (:func:`allocate_bits` of the
    per-feature standard deviation), evenly spaced in its fitted range,
    ``t_i = min + (max - min) * i / (c_f + 1)``, i = 1..c_f; its other ``num_bits - c_f`` thresholds
    are ``+inf``, so those bits are 0 for every input (constants in hardware; read by nothing when the
    model selects :meth:`live_bits`).
    Eval (= train): bit i of feature f is ``x > t_(i+1)``; shapes as every encoder, (B, F * num_bits).
    """

    def __init__(self, num_bits: int, total_bits: int | None = None):
        super().__init__(num_bits)
        if total_bits is not None and (isinstance(total_bits, bool) or not isinstance(total_bits, int)
                                       or total_bits < 1):
            raise ValueError(f"VarianceThermometerEncoder: total_bits must be a positive int or None, "
                             f"got {total_bits!r}")
        self.total_bits = total_bits

    def fit(self, data: torch.Tensor) -> "VarianceThermometerEncoder":
        """As :meth:`BaseEncoder.fit`; then the thresholds past each feature's count become ``+inf``."""
        super().fit(data)
        unused = torch.arange(self.num_bits) >= self._counts.unsqueeze(1)  # fitted on the CPU
        self.thresholds = self.thresholds.masked_fill(unused.to(self.thresholds.device), math.inf)
        del self._counts
        return self

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        """The c_f evenly spaced thresholds of each feature, then ``max`` as a finite placeholder (made
        ``+inf`` by :meth:`fit`, after the base class has checked the finite ones)."""
        data = data.double()
        lo, hi = data.amin(0), data.amax(0)
        spread = data.std(0, correction=0)
        total = self.total_bits if self.total_bits is not None else int((spread > 0).sum()) * self.num_bits
        self._counts = allocate_bits(spread, self.num_bits, total)
        i = torch.arange(1, self.num_bits + 1, dtype=torch.float64)
        t = lo.unsqueeze(1) + (hi - lo).unsqueeze(1) * i / (self._counts.unsqueeze(1) + 1).double()
        return torch.where(i <= self._counts.unsqueeze(1), t, hi.unsqueeze(1).expand_as(t))

    def bit_counts(self) -> torch.Tensor:
        """Thresholds of each feature that can be crossed: int64 (F,)."""
        self._check_fitted()
        return torch.isfinite(self.thresholds).sum(1)

    def live_bits(self) -> torch.Tensor:
        """Indices into ``encode(x)`` (F * num_bits,) of the bits with a finite threshold: int64, ascending."""
        self._check_fitted()
        return torch.isfinite(self.thresholds).reshape(-1).nonzero().flatten().cpu()

    def extra_repr(self) -> str:
        return super().extra_repr() + f", total_bits={self.total_bits}"
