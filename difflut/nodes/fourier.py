"""Fourier-series LUT nodes: a bounded sum of cosines over the half-integer frequencies of the cube."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..bits import corners, walsh_matrix
from ..registry import register_node
from .base import BaseNode


@register_node("fourier")
class FourierNode(BaseNode):
    """``num_nodes`` Fourier-series nodes (aplesner/difflut's ``fourier`` node), each a k-input LUT.

    Frequencies: every k-bit mask S, i.e. the frequency vector ``S / 2`` (bit j
    of S is component j), so node n's value is
    ``v_n(x) = bias[n] + sum_S w[n, S] * cos(pi * sum_{j in S} x_j + phases[n, S])``
    with amplitudes normalised to ``w = max_amplitude * |amplitudes| / (sum_S |amplitudes| + 1e-8)``,
    hence ``|v_n - bias[n]| <= max_amplitude``.

    Parameters: ``amplitudes``, ``phases`` (num_nodes, 2**k), ``bias`` (num_nodes,);
    buffer ``max_amplitude`` (a scalar, default 0.5 so that ``bias = 0.5`` spans [0, 1]).

    Training: ``x`` (B, num_nodes, k) soft bits -> ``clamp(v(x), 0, 1)`` (B, num_nodes).

    Eval: at a corner ``cos(pi * n + phi) = (-1)**n cos(phi)``, so the score is
    ``v_n(a) - 0.5 = bias[n] - 0.5 + sum_S w[n, S] cos(phases[n, S]) (-1)**popcount(a & S)``
    (a Walsh synthesis, :mod:`difflut.bits` convention); entry a of node n's truth
    table is ``score >= 0`` (input j = address bit j), evaluated in float64 on
    CPU; the eval output is a lookup in it.

    Initialisation (as aplesner/difflut): amplitudes uniform in (0, 0.1), phases
    uniform in (-pi, pi), bias 0.5; from the global torch RNG.
    """

    def __init__(self, num_nodes: int, k: int, max_amplitude: float = 0.5):
        super().__init__(num_nodes, k)
        if isinstance(max_amplitude, bool) or not isinstance(max_amplitude, (int, float)) or max_amplitude <= 0:
            raise ValueError(f"max_amplitude must be a positive number, got {max_amplitude!r}")
        n = 1 << self.k
        self.amplitudes = nn.Parameter(0.1 * torch.rand(num_nodes, n))
        self.phases = nn.Parameter(torch.empty(num_nodes, n).uniform_(-math.pi, math.pi))
        self.bias = nn.Parameter(torch.full((num_nodes,), 0.5))
        self.register_buffer("max_amplitude", torch.tensor(float(max_amplitude)))

    def normalized_amplitudes(self) -> torch.Tensor:
        """The normalised amplitudes w (num_nodes, 2**k): non-negative, each row sums to <= max_amplitude."""
        a = self.amplitudes.abs()
        return a * (self.max_amplitude / (a.sum(-1, keepdim=True) + 1e-8))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``v(x)`` (unclamped) for x (B, num_nodes, k) -> (B, num_nodes)."""
        frequencies = corners(self.k, x.dtype, x.device).T * math.pi  # (k, 2**k), column S: pi * bits of S
        angles = x @ frequencies + self.phases  # (B, num_nodes, 2**k)
        return (torch.cos(angles) * self.normalized_amplitudes()).sum(-1) + self.bias

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x).clamp(0.0, 1.0)

    def corner_scores(self) -> torch.Tensor:
        walsh = self.normalized_amplitudes() * torch.cos(self.phases)
        h = walsh_matrix(self.k, walsh.dtype, walsh.device)
        return walsh @ h + (self.bias - 0.5).unsqueeze(-1)

    def residual_init_(self, input_index: int = 0) -> None:
        """Make every node ``v(x) ~= 0.5 - w_j cos(pi x_j)`` with ``j = input_index``.

        The amplitude of frequency ``{j}`` becomes 1 with phase pi; every other
        amplitude is redrawn uniform in ``(0, 0.1 / 2**k)`` (phases kept), and bias
        is 0.5. So ``w_j >= max_amplitude / 1.1`` outweighs the rest
        (``<= 0.1 * max_amplitude / 1.1``): the corner score has the sign of
        ``2 x_j - 1`` with margin ``>= 0.8 * max_amplitude``.
        """
        self.check_input_index(input_index)
        j = 1 << input_index
        with torch.no_grad():
            self.amplitudes.uniform_(0.0, 0.1 / (1 << self.k))
            self.amplitudes[:, j] = 1.0
            self.phases[:, j] = math.pi
            self.bias.fill_(0.5)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_amplitude={float(self.max_amplitude)}"
