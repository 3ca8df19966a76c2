"""A layer's fixed wiring, as node inputs read it: node n's input j is the layer input ``index[n, j]``."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Wiring(NamedTuple):
    """A layer's fixed wiring in the forms the nodes read (:func:`prepare_wiring`).

    ``index`` (N, k) int64: node n's input j reads ``x[:, index[n, j]]``; ``columns`` (k, N) int32, its
    transpose (the layout of the wired CUDA kernels, :mod:`difflut.kernels`); ``min_inputs``: the
    fewest input columns ``x`` may have (the largest index + 1).
    """

    index: torch.Tensor
    columns: torch.Tensor
    min_inputs: int

    @property
    def k(self) -> int:
        return self.index.shape[1]


def prepare_wiring(index: torch.Tensor) -> Wiring:
    """The :class:`Wiring` of ``index`` (N, k), on ``index``'s device (reads its largest entry once)."""
    if index.dim() != 2 or index.dtype != torch.int64 or (index.numel() and int(index.min()) < 0):
        raise ValueError(f"a wiring is an (N, k) int64 tensor of input indices >= 0, got {index.dtype} "
                         f"{tuple(index.shape)}")
    size = int(index.max()) + 1 if index.numel() else 0
    return Wiring(index, index.t().to(torch.int32).contiguous(), size)


def gather(x: torch.Tensor, wiring: Wiring) -> torch.Tensor:
    """The node inputs: ``x`` (B, M) -> (B, N, k), ``out[:, n, j] = x[:, wiring.index[n, j]]``."""
    nodes, k = wiring.index.shape
    return x.index_select(1, wiring.index.reshape(-1)).view(x.shape[0], nodes, k)
