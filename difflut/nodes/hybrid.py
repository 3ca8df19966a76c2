"""Hybrid LUT node: hard table lookup forward, probabilistic (expectation) backward."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode
from .lookup import flat_address, pass_through_scores
from .multilinear import multilinear_backward, node_major


class HybridLookup(torch.autograd.Function):
    """``[logits[n, address(x >= 0.5)] >= 0]`` as 0./1. with the expectation's gradient.

    forward(x (B, N, k), logits (N, 2**k)) -> (B, N) in the promoted dtype.
    Backward: the exact gradient, at the actual soft ``x``, of
    ``E(x) = sum_a sigmoid(logits[n, a]) * prod_j x_j**a_j (1 - x_j)**(1 - a_j)``
    (see :mod:`difflut.nodes.multilinear`), w.r.t. ``x`` and ``logits``.
    """

    @staticmethod
    def forward(ctx, x, logits):
        ctx.save_for_backward(x, logits)
        bits = logits.reshape(-1)[flat_address(x)] >= 0
        return bits.to(torch.promote_types(x.dtype, logits.dtype))

    @staticmethod
    def backward(ctx, grad):
        x, logits = ctx.saved_tensors
        p = torch.sigmoid(logits)
        grad_x, grad_p = multilinear_backward(node_major(x, p), p, grad, *ctx.needs_input_grad)
        return (
            grad_x.to(x.dtype) if grad_x is not None else None,
            grad_p * p * (1 - p) if grad_p is not None else None,
        )


@register_node("hybrid")
class HybridNode(BaseNode):
    """Hard forward, probabilistic backward (aplesner/difflut's ``hybrid`` node).

    Parameter ``logits`` (num_nodes, 2**k), initialised N(0, 0.1**2). Hard
    decision: ``logits >= 0``; :meth:`corner_scores` is ``logits``.

    Training, x (B, num_nodes, k) -> (B, num_nodes): ``y = [logits[n, u] >= 0]`` as
    0./1., ``u`` the address of ``x >= 0.5``: the same bit as eval mode. Backward:
    the exact gradient of the probabilistic node's expectation
    ``sum_a sigmoid(logits[n, a]) * prod_j x_j**a_j (1 - x_j)**(1 - a_j)`` at the
    actual inputs ``x`` (w.r.t. ``x`` and ``logits``).

    Eval: ``truth_table()[n, address(x)]``, ``truth_table() = logits >= 0``.
    """

    def __init__(self, num_nodes: int, k: int):
        super().__init__(num_nodes, k)
        self.logits = nn.Parameter(0.1 * torch.randn(num_nodes, 1 << k))

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return HybridLookup.apply(x, self.logits)

    def corner_scores(self) -> torch.Tensor:
        return self.logits

    def residual_init_(self, input_index: int = 0, margin: float = 3.0) -> None:
        """Set ``logits = +margin`` where address bit ``input_index`` is 1, ``-margin`` elsewhere."""
        with torch.no_grad():
            self.logits.copy_(pass_through_scores(self.logits, self.k, input_index, margin))
