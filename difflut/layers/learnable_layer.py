"""LearnableLayer: LUT nodes whose input wiring is learned (DWN's learnable mapping)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from ..registry import register_layer
from .base import BaseLUTLayer, check_positive_int


@register_layer("learnable")
class LearnableLayer(BaseLUTLayer):
    """``output_size`` k-input nodes, each input selecting one layer input by learned logits.

    Shapes: ``x`` (B, input_size) -> (B, output_size).

    Parameter ``logits`` (output_size, k, input_size), initialised uniform in
    [0, 1) from a private generator seeded by ``seed`` (as DWN's mapping weights).

    Training: node n's input j is the soft selection
    ``sum_i softmax(logits[n, j] / tau)[i] * x[:, i]`` (temperature ``tau``,
    default 0.1; smaller is closer to the hard selection but learns slower:
    DWN's ``lm_tau = 1e-3``, which in DWN only shapes the backward pass,
    leaves a soft forward selection almost frozen).

    Eval: node n's input j is ``x[:, connections()[n, j]]`` with
    ``connections() = logits.argmax(-1)`` (ties -> lowest input index); then
    ``y[b, n] = node.truth_table()[n, address]`` as in :class:`RandomLayer`.
    """

    def __init__(self, input_size: int, output_size: int, node_type="dwn", k: int = 6, tau: float = 0.1, **kwargs):
        super().__init__(node_type, k, **kwargs)
        self.input_size = check_positive_int("input_size", input_size)
        self.output_size = check_positive_int("output_size", output_size)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
            raise ValueError(f"tau must be a positive number, got {tau!r}")
        self.tau = float(tau)
        self.logits = nn.Parameter(torch.rand(output_size, self.k, input_size, generator=self.generator()))
        self.node = self.make_node(output_size)

    def connections(self) -> torch.Tensor:
        """(output_size, k) int64: the eval-mode selection ``logits.argmax(-1)`` (ties -> lowest index)."""
        return self.logits.detach().argmax(-1)

    def lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        if self.training:
            weights = torch.softmax(self.logits.view(-1, self.input_size) / self.tau, dim=-1)
            selected = x @ weights.to(x.dtype).T
        else:
            selected = x.index_select(1, self.connections().view(-1))
        return self.node(selected.view(batch, self.output_size, self.k))

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, {self.input_size}), got {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return f"{self.input_size} -> {self.output_size}, tau={self.tau}, " + super().extra_repr()
