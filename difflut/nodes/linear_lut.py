"""Linear threshold LUT nodes: a weighted sum of the inputs, thresholded at zero."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode


@register_node("linear_lut")
class LinearLUTNode(BaseNode):
    """``num_nodes`` linear threshold units, each read out as a k-input LUT.

    Parameters: ``weight`` (num_nodes, k), ``bias`` (num_nodes,). Node n has the
    score ``s_n(x) = sum_j weight[n, j] * x_j + bias[n]``.

    Training: ``x`` (B, num_nodes, k) soft bits -> ``sigmoid(s(x))`` (B, num_nodes).

    Eval: entry a of node n's truth table is ``s_n(bits of a) >= 0`` (input j =
    address bit j), evaluated in float64 on CPU; the eval output is a lookup in it.

    Initialisation: weight and bias uniform in ``(-1/sqrt(k), 1/sqrt(k))`` (as
    ``nn.Linear``), drawn from the global torch RNG.
    """

    #: score at the corners after :meth:`residual_init_`: ``+margin`` if the input is 1, ``-margin`` if 0
    residual_margin: float = 2.0

    def __init__(self, num_nodes: int, k: int):
        super().__init__(num_nodes, k)
        bound = 1.0 / math.sqrt(self.k)
        self.weight = nn.Parameter(torch.empty(num_nodes, self.k).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(num_nodes).uniform_(-bound, bound))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``s(x)`` for x (..., num_nodes, k) -> (..., num_nodes)."""
        return (x * self.weight).sum(-1) + self.bias

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.score(x))

    def corner_scores(self) -> torch.Tensor:
        return self.score(self.corners().unsqueeze(1)).T

    def residual_init_(self, input_index: int = 0) -> None:
        """Set ``s(x) = margin * (2 * x_j - 1)`` with ``j = input_index`` and ``margin = residual_margin``."""
        self.check_input_index(input_index)
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:, input_index] = 2.0 * self.residual_margin
            self.bias.fill_(-self.residual_margin)
