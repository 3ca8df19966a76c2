"""Differentiable logic gate nodes (Petersen et al., NeurIPS 2022): a learned choice of 2-input gate."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode

#: (name, truth table) of the 16 gates in the paper's order. The table lists the
#: output at addresses 0..3, address = a + 2 b (a = input 0 = address bit 0,
#: b = input 1), i.e. at (a, b) = (0, 0), (1, 0), (0, 1), (1, 1).
GATES: tuple[tuple[str, tuple[int, int, int, int]], ...] = (
    ("false", (0, 0, 0, 0)),  # 0
    ("a and b", (0, 0, 0, 1)),  # ab
    ("a and not b", (0, 1, 0, 0)),  # a - ab
    ("a", (0, 1, 0, 1)),  # a
    ("not a and b", (0, 0, 1, 0)),  # b - ab
    ("b", (0, 0, 1, 1)),  # b
    ("a xor b", (0, 1, 1, 0)),  # a + b - 2ab
    ("a or b", (0, 1, 1, 1)),  # a + b - ab
    ("not (a or b)", (1, 0, 0, 0)),  # 1 - (a + b - ab)
    ("not (a xor b)", (1, 0, 0, 1)),  # 1 - (a + b - 2ab)
    ("not b", (1, 1, 0, 0)),  # 1 - b
    ("a or not b", (1, 1, 0, 1)),  # 1 - b + ab
    ("not a", (1, 0, 1, 0)),  # 1 - a
    ("not a or b", (1, 0, 1, 1)),  # 1 - a + ab
    ("not (a and b)", (1, 1, 1, 0)),  # 1 - ab
    ("true", (1, 1, 1, 1)),  # 1
)

#: The gates' truth tables as a bool tensor (16, 4): ``GATE_TABLES[g, a + 2 b]``.
GATE_TABLES: torch.Tensor = torch.tensor([table for _, table in GATES], dtype=torch.bool)


@register_node("difflogic")
class DiffLogicNode(BaseNode):
    """``num_nodes`` differentiable 2-input logic gates (k = 2 only).

    Parameter: ``weight`` (num_nodes, 16), logits over the gates of :data:`GATES`
    (the paper's order). Inputs: ``a = x[..., 0]`` (address bit 0), ``b = x[..., 1]``.

    Training: ``sum_g softmax(weight[n])_g * gate_g(a, b)`` with the paper's
    real-valued gates (``a and b = ab``, ``a or b = a + b - ab``,
    ``a xor b = a + b - 2ab``, ``not x = 1 - x``, see :data:`GATES`). Each of those
    is the multilinear interpolation of its truth table, so the output equals
    the multilinear interpolation of the expected table ``softmax(weight) @ GATE_TABLES``;
    it is computed that way, in [0, 1] for inputs in [0, 1].

    Eval: node n is the single gate :meth:`gate_index` ``= argmax_g weight[n, g]``
    (ties -> the lowest gate index); its table is ``GATE_TABLES[gate_index()]``
    and the eval output is a lookup in it. :meth:`corner_scores` (for
    regularisers) is the training output at the corners minus 0.5; its sign can
    differ from the argmax gate's table.

    Initialisation: weight standard normal, from the global torch RNG.
    """

    supported_k = (2,)
    #: pass-through gate's logit after :meth:`residual_init_` (others 0): probability e**5 / (e**5 + 15)
    residual_logit: float = 5.0

    def __init__(self, num_nodes: int, k: int = 2):
        super().__init__(num_nodes, k)
        self.weight = nn.Parameter(torch.randn(num_nodes, len(GATES)))

    def expected_table(self) -> torch.Tensor:
        """``softmax(weight) @ GATE_TABLES``: the expected output at addresses 0..3, (num_nodes, 4)."""
        probs = torch.softmax(self.weight, dim=-1)
        return probs @ GATE_TABLES.to(device=probs.device, dtype=probs.dtype)

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.expected_table()
        a, b = x[..., 0], x[..., 1]
        low = torch.lerp(t[:, 0], t[:, 1], a)  # b = 0
        high = torch.lerp(t[:, 2], t[:, 3], a)  # b = 1
        return torch.lerp(low, high, b)

    def gate_index(self) -> torch.Tensor:
        """The eval gate of every node, int64 (num_nodes,): ``argmax(weight, -1)``, ties -> lowest index."""
        return self.weight.argmax(dim=-1)

    def hard_table(self) -> torch.Tensor:
        return GATE_TABLES.to(self.weight.device)[self.gate_index()]

    def corner_scores(self) -> torch.Tensor:
        return self.expected_table() - 0.5

    def residual_init_(self, input_index: int = 0) -> None:
        """Select the pass-through gate (``a``, index 3, for input 0; ``b``, index 5, for input 1).

        Its logit becomes ``residual_logit``, every other logit 0, so the training
        output at hard inputs is >= 0.91 where the input is 1 and <= 0.09 where it is 0.
        """
        self.check_input_index(input_index)
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:, 3 if input_index == 0 else 5] = self.residual_logit
