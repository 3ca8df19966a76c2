"""GroupSum: the classification head of a LUT network."""

from __future__ import annotations

import torch
from torch import nn


class GroupSum(nn.Module):
    """Sum fixed contiguous groups of bits into class scores.

    Shapes: ``x`` (B, N) -> (B, num_classes) with ``N % num_classes == 0``;
    class c sums ``x[:, c*g:(c+1)*g]`` with ``g = N // num_classes``, divided by
    ``tau`` (a softmax temperature for training).

    Eval semantics: on binary inputs the score of class c is ``popcount / tau``;
    :meth:`popcount` returns the integer popcounts (the hardware's class scores),
    and the predicted class is the first maximum (ties -> lowest class index),
    which is what ``torch.argmax`` returns.
    """

    def __init__(self, num_classes: int, tau: float = 1.0):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        if not (isinstance(tau, (int, float)) and tau > 0):
            raise ValueError(f"tau must be a positive number, got {tau!r}")
        self.num_classes = num_classes
        self.tau = float(tau)

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] % self.num_classes != 0 or x.shape[1] == 0:
            raise ValueError(
                f"GroupSum({self.num_classes}) expects (batch, N) with N a positive multiple of "
                f"{self.num_classes}, got {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], self.num_classes, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._grouped(x).sum(-1) / self.tau

    def popcount(self, x: torch.Tensor) -> torch.Tensor:
        """Integer class scores of binary x: (B, N) -> int64 (B, num_classes)."""
        if not bool(((x == 0) | (x == 1)).all()):
            raise ValueError("GroupSum.popcount takes binary inputs (0 or 1)")
        return self._grouped(x).to(torch.int64).sum(-1)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, tau={self.tau}"
