"""NeuraLUT nodes (Andronic & Constantinides, FPL 2024): a small residual MLP hidden in each LUT."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode


def _uniform(*shape: int, fan_in: int | None = None) -> nn.Parameter:
    """``nn.Linear``'s init: uniform in ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``, fan_in default ``shape[-1]``."""
    bound = 1.0 / math.sqrt(fan_in or shape[-1])
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


@register_node("neurallut")
class NeuraLUTNode(BaseNode):
    """``num_nodes`` independent MLPs, each read out as a k-input LUT.

    Node n is an MLP of ``depth`` linear layers with widths
    ``k -> hidden_width -> ... -> hidden_width -> 1`` and ReLU after every layer
    but the last. Layer l (1-based) computes
    ``z_l = weights[l-1][n] @ h_{l-1} + biases[l-1][n]`` with ``h_0 = x``; the
    paper's skip connection is a linear projection of a block's input added to
    the block's output: for every ``l`` that is a multiple of ``skip_interval``
    (blocks of ``skip_interval`` layers), ``z_l += skip_weights[l/S - 1][n] @ h_{l-S}``
    (``S = skip_interval``; 0 disables it; the skip has no bias of its own, the
    layer's bias covers it). ``h_l = relu(z_l)`` for ``l < depth``; the score is
    ``f_n(x) = z_depth``. The defaults (4 layers, a skip every 2) are the
    architecture of the NeuraLUT reference code.

    Parameters: ``weights[i]`` (num_nodes, d_{i+1}, d_i), ``biases[i]``
    (num_nodes, d_{i+1}), ``skip_weights[b]`` (num_nodes, d_l, d_{l-S}) for the
    b-th skip; all nodes are evaluated by one batched matmul per layer.

    Training: ``x`` (B, num_nodes, k) soft bits -> ``sigmoid(f(x))`` (B, num_nodes).

    Eval: entry a of node n's truth table is ``f_n(bits of a) >= 0`` (input j =
    address bit j), evaluated in float64 on CPU; the eval output is a lookup in it.

    Initialisation: as ``nn.Linear``: every weight and bias of a layer uniform in
    ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``, from the global torch RNG.
    """

    #: score at the corners after :meth:`residual_init_`: ``+margin`` if the input is 1, ``-margin`` if 0
    residual_margin: float = 2.0

    def __init__(self, num_nodes: int, k: int, hidden_width: int = 8, depth: int = 4, skip_interval: int = 2):
        super().__init__(num_nodes, k)
        limits = (("hidden_width", hidden_width, 1), ("depth", depth, 1), ("skip_interval", skip_interval, 0))
        for name, value, low in limits:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        self.hidden_width = hidden_width
        self.depth = depth
        self.skip_interval = skip_interval
        dims = [self.k] + [hidden_width] * (depth - 1) + [1]
        self.weights = nn.ParameterList(_uniform(num_nodes, dims[i + 1], dims[i]) for i in range(depth))
        self.biases = nn.ParameterList(_uniform(num_nodes, dims[i + 1], fan_in=dims[i]) for i in range(depth))
        self.skip_weights = nn.ParameterList(
            _uniform(num_nodes, dims[layer], dims[layer - skip_interval]) for layer in self._skip_layers()
        )

    def _skip_layers(self) -> list[int]:
        """The 1-based layers that receive a skip connection."""
        if self.skip_interval == 0:
            return []
        return list(range(self.skip_interval, self.depth + 1, self.skip_interval))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` for x (B, num_nodes, k) -> (B, num_nodes)."""
        h = x.transpose(0, 1)  # (num_nodes, B, k): one batched matmul per layer
        skips = dict(zip(self._skip_layers(), self.skip_weights))
        block_input = h
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases), start=1):
            z = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if layer in skips:
                z = torch.baddbmm(z, block_input, skips[layer].transpose(1, 2))
            h = torch.relu(z) if layer < self.depth else z
            if self.skip_interval and layer % self.skip_interval == 0:
                block_input = h
        return h.squeeze(-1).T

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.score(x))

    def corner_scores(self) -> torch.Tensor:
        c = self.corners()
        return self.score(c.unsqueeze(1).expand(-1, self.num_nodes, -1)).T

    def residual_init_(self, input_index: int = 0) -> None:
        """Route ``x_j`` (``j = input_index``) through hidden unit 0; score ``margin * (2 x_j - 1)``.

        Unit 0 of layer 1 is ``relu(x_j)``, unit 0 of each later hidden layer is
        ``relu`` of unit 0 below it (= ``x_j`` for inputs in [0, 1]), and the
        output layer reads only unit 0; skips into unit 0 and into the output are
        zeroed. The other hidden units keep their random weights (the output
        layer's zero weights on them still receive gradient).
        """
        self.check_input_index(input_index)
        m = self.residual_margin
        with torch.no_grad():
            for layer, (weight, bias) in enumerate(zip(self.weights, self.biases), start=1):
                weight[:, 0].zero_()
                bias[:, 0] = 0.0
                weight[:, 0, input_index if layer == 1 else 0] = 1.0 if layer < self.depth else 2.0 * m
            self.biases[-1][:, 0] = -m
            for skip in self.skip_weights:
                skip[:, 0].zero_()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, hidden_width={self.hidden_width}, depth={self.depth}, "
            f"skip_interval={self.skip_interval}"
        )
