"""Probabilistic LUT node: a table of Bernoulli outputs, trained through its expectation."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode
from .lookup import pass_through_scores
from .multilinear import multilinear_expectation


@register_node("probabilistic")
class ProbabilisticNode(BaseNode):
    """Node whose output at address a is 1 with probability ``p[a] = sigmoid(logits[a])``.

    Parameter ``logits`` (num_nodes, 2**k), initialised N(0, 1). Hard decision:
    ``logits >= 0`` (i.e. ``p >= 1/2``); :meth:`corner_scores` is ``logits``.

    Training, x (B, num_nodes, k) in [0, 1] -> (B, num_nodes) in [0, 1]: the
    expectation with input j an independent Bernoulli(``x_j``) bit::

        y = sum_a p[n, a] * prod_j x_j**a_j * (1 - x_j)**(1 - a_j)

    with its exact gradient (:mod:`difflut.nodes.multilinear`). On binary inputs
    ``y = p[n, address(x)]``.

    Eval: ``truth_table()[n, address(x)]``, ``truth_table() = logits >= 0``.
    """

    def __init__(self, num_nodes: int, k: int):
        super().__init__(num_nodes, k)
        self.logits = nn.Parameter(torch.randn(num_nodes, 1 << k))

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return multilinear_expectation(x, torch.sigmoid(self.logits))

    def corner_scores(self) -> torch.Tensor:
        return self.logits

    def residual_init_(self, input_index: int = 0, margin: float = 3.0) -> None:
        """Set ``logits = +margin`` where address bit ``input_index`` is 1, ``-margin`` elsewhere."""
        with torch.no_grad():
            self.logits.copy_(pass_through_scores(self.logits, self.k, input_index, margin))
