"""WARP-LUT nodes (Gerlach et al., 2025): Walsh coefficients relaxed by their multilinear extension."""

from __future__ import annotations

import torch
from torch import nn

from ..bits import walsh_matrix
from ..registry import register_node
from .base import BaseNode


def _subset_products(u: torch.Tensor) -> torch.Tensor:
    """``prod_{j in S} u_j`` for every subset mask S of the last dim: (..., m) -> (..., 2**m)."""
    products = u.new_ones(*u.shape[:-1], 1)
    for j in range(u.shape[-1]):
        products = torch.cat([products, products * u[..., j : j + 1]], -1)
    return products


def walsh_extension(coefficients: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The multilinear extension ``f(x) = sum_S c_S prod_{j in S} (1 - 2 x_j)``.

    ``coefficients`` (num_nodes, 2**k) in the Walsh order of :mod:`difflut.bits`
    (bit j of S set: input j in S), ``x`` (B, num_nodes, k) -> (B, num_nodes).
    At a corner this is ``sum_S c_S (-1)**popcount(a & S)``, the corner value
    whose Walsh coefficients are ``c``. Computed as the bilinear form
    ``high(x)^T C low(x)`` with ``low``/``high`` the subset products of the low
    ``k // 2`` and the remaining inputs and C the coefficients as a
    (2**(k - k//2), 2**(k//2)) matrix per node: one batched matmul, no
    (B, num_nodes, 2**k) intermediate.
    """
    num_nodes, k = x.shape[-2], x.shape[-1]
    if tuple(coefficients.shape) != (num_nodes, 1 << k):
        raise ValueError(
            f"walsh_extension needs coefficients of shape (num_nodes, 2**k) = ({num_nodes}, {1 << k}) "
            f"for x of shape {tuple(x.shape)}, got {tuple(coefficients.shape)}"
        )
    u = (1.0 - 2.0 * x).transpose(0, 1)  # (num_nodes, B, k)
    lo = k // 2
    low, high = _subset_products(u[..., :lo]), _subset_products(u[..., lo:])
    matrix = coefficients.reshape(num_nodes, 1 << (k - lo), 1 << lo)
    return (torch.bmm(low, matrix.transpose(1, 2)) * high).sum(-1).T


@register_node("warp")
class WARPNode(BaseNode):
    """``num_nodes`` WARP-LUTs: k-input LUTs parametrised by their Walsh coefficients.

    Parameter: ``coefficients`` c (num_nodes, 2**k), index S a k-bit subset mask.
    Node n's score is ``f_n(x) = sum_S c[n, S] * prod_{j in S} (1 - 2 x_j)``, the
    multilinear extension of the corner scores ``f_n(a) = sum_S c[n, S] (-1)**popcount(a & S)``
    (the Walsh convention of :mod:`difflut.bits`, so ``c`` are exactly their Walsh
    coefficients). The paper's signed basis is ``2 x - 1``; with ``1 - 2 x`` the
    same function class has coefficient signs flipped on odd-order subsets.

    Training: ``x`` (B, num_nodes, k) soft bits -> ``sigmoid(f(x) / temperature)``
    (B, num_nodes). Deterministic: the paper's Gumbel noise is not added.

    Eval: entry a of node n's truth table is ``f_n(bits of a) >= 0`` (input j =
    address bit j), evaluated in float64 on CPU; the eval output is a lookup in it.

    Initialisation: c normal with std ``2**(-k/2)`` (unit-variance corner
    scores), from the global torch RNG.
    """

    #: score at the corners after :meth:`residual_init_`: ``+margin`` if the input is 1, ``-margin`` if 0
    residual_margin: float = 2.0

    def __init__(self, num_nodes: int, k: int, temperature: float = 1.0):
        super().__init__(num_nodes, k)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.temperature = float(temperature)
        self.coefficients = nn.Parameter(torch.randn(num_nodes, 1 << self.k) * 2.0 ** (-self.k / 2))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` for x (B, num_nodes, k) -> (B, num_nodes)."""
        return walsh_extension(self.coefficients, x)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.score(x) / self.temperature)

    def corner_scores(self) -> torch.Tensor:
        c = self.coefficients
        return c @ walsh_matrix(self.k, c.dtype, c.device)

    def residual_init_(self, input_index: int = 0) -> None:
        """Set ``f(x) = margin * (2 x_j - 1)``: ``c[{j}] = -margin``, every other coefficient 0."""
        self.check_input_index(input_index)
        with torch.no_grad():
            self.coefficients.zero_()
            self.coefficients[:, 1 << input_index] = -self.residual_margin

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}"
