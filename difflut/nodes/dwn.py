"""DWN nodes: real-valued truth tables trained with Extended Finite Difference (EFD)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode
from .efd import EFD_WEIGHTINGS, efd_lookup, wired_efd_lookup
from .lookup import pass_through_scores


@register_node("dwn")
class DWNNode(BaseNode):
    """Differentiable Weightless Neural Network node (Bacellar et al., ICML 2024).

    Parameter ``table`` (num_nodes, 2**k), real, initialised uniform in [-1, 1].
    Hard decision: ``table >= 0``; :meth:`corner_scores` is ``table``.

    Training, x (B, num_nodes, k) -> (B, num_nodes): ``y = [T[n, u] >= 0]`` as
    0./1., ``u`` the address of ``x >= 0.5``: the same bit as eval mode. Backward
    (see :mod:`difflut.nodes.efd`): ``T[n, u]`` gets the upstream gradient
    (straight-through step); input j gets it times the EFD derivative of
    ``T[n, u]`` (weighting ``efd``: ``"released"``, the authors' kernel, by default,
    0.4-1.4 points above ``"paper"`` on the MNIST budget models, docs/training_features.md).
    With ``clamp`` (as the authors' code) each training forward first clamps the table
    in place to [-1, 1] (sign-preserving, so the truth table is unchanged).

    Eval: ``truth_table()[n, address(x)]``, ``truth_table() = table >= 0``.
    Training on float32 CUDA tensors runs the fused kernels of :mod:`difflut.kernels` (in a random
    layer, the wired ones: :meth:`wired_train_forward`).
    """

    uses_cuda_kernels = True

    def __init__(self, num_nodes: int, k: int, *, efd: str = "released", clamp: bool = True):
        super().__init__(num_nodes, k)
        if efd not in EFD_WEIGHTINGS:
            raise ValueError(f"efd must be one of {EFD_WEIGHTINGS}, got {efd!r}")
        if not isinstance(clamp, bool):
            raise TypeError(f"clamp must be a bool, got {type(clamp).__name__}")
        self.efd = efd
        self.clamp = clamp
        self.table = nn.Parameter(torch.empty(num_nodes, 1 << k).uniform_(-1.0, 1.0))

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return efd_lookup(x, **self.efd_lookup_args())

    def wired_train_forward(self, x: torch.Tensor, wiring) -> torch.Tensor:
        return wired_efd_lookup(x, wiring, **self.efd_lookup_args())

    def efd_lookup_args(self) -> dict:
        """The arguments of this node's training lookup (the table clamped first when ``clamp``):
        ``table``, ``weighting``, ``hard``, ``grad_scale``."""
        if self.clamp:
            self._clamp_table_()
        return dict(table=self.table, weighting=self.efd, hard=True, grad_scale=1.0)

    def corner_scores(self) -> torch.Tensor:
        return self.table

    def residual_init_(self, input_index: int = 0, margin: float = 1.0) -> None:
        """Set ``table = +margin`` where address bit ``input_index`` is 1, ``-margin`` elsewhere."""
        with torch.no_grad():
            self.table.copy_(pass_through_scores(self.table, self.k, input_index, margin))

    @torch.no_grad()
    def _clamp_table_(self) -> None:
        # Through .data: no version bump (a backward of an earlier forward that saved the table, e.g. two
        # calls per step, still runs; it sees the same values, as that forward clamped already) and no
        # host synchronisation (the step can be captured in a CUDA graph).
        self.table.data.clamp_(-1.0, 1.0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, efd={self.efd!r}, clamp={self.clamp}"


@register_node("dwn_stable")
class DWNStableNode(BaseNode):
    """DWN with a sigmoid-bounded table and scaled EFD gradients (aplesner/difflut's ``dwn_stable``).

    Parameter ``logits`` (num_nodes, 2**k), initialised N(0, 0.1**2); the table is
    ``L = sigmoid(logits)`` in (0, 1). Hard decision: ``logits >= 0`` (i.e.
    ``L >= 1/2``); :meth:`corner_scores` is ``logits``.

    Training, x (B, num_nodes, k) -> (B, num_nodes): ``y = L[n, u]`` in (0, 1), ``u``
    the address of ``x >= 0.5``. Backward, with ``s = gradient_scale``: ``L[n, u]``
    gets ``s * g`` (so ``logits[n, u]`` gets ``s * g * L(1 - L)``), input j gets
    ``s * g * sum_{c: c_j=0} (L[c | 2**j] - L[c]) / (H_j(c, u) + 1)`` (paper EFD on
    ``L``). Scale property: as ``L`` is in (0, 1), ``|dy/dx_j| < s * (2**k - 1) / k``
    and ``|dy/dlogits| <= s / 4`` for every table; the bound on ``dy/dx_j`` is
    approached by a pass-through of input j as its margin grows.

    Eval: ``truth_table()[n, address(x)]``, ``truth_table() = logits >= 0``.
    Training on float32 CUDA tensors runs the fused kernels of :mod:`difflut.kernels` (in a random
    layer, the wired ones: :meth:`wired_train_forward`).
    """

    uses_cuda_kernels = True

    def __init__(self, num_nodes: int, k: int, *, gradient_scale: float = 1.25):
        super().__init__(num_nodes, k)
        if (
            not isinstance(gradient_scale, (int, float))
            or isinstance(gradient_scale, bool)
            or not (math.isfinite(gradient_scale) and gradient_scale > 0)
        ):
            raise ValueError(f"gradient_scale must be a finite positive number, got {gradient_scale!r}")
        self.gradient_scale = float(gradient_scale)
        self.logits = nn.Parameter(0.1 * torch.randn(num_nodes, 1 << k))

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return efd_lookup(x, **self.efd_lookup_args())

    def wired_train_forward(self, x: torch.Tensor, wiring) -> torch.Tensor:
        return wired_efd_lookup(x, wiring, **self.efd_lookup_args())

    def efd_lookup_args(self) -> dict:
        """The arguments of this node's training lookup: ``table`` (the sigmoid of the logits),
        ``weighting``, ``hard``, ``grad_scale``."""
        return dict(table=torch.sigmoid(self.logits), weighting="paper", hard=False, grad_scale=self.gradient_scale)

    def corner_scores(self) -> torch.Tensor:
        return self.logits

    def residual_init_(self, input_index: int = 0, margin: float = 3.0) -> None:
        """Set ``logits = +margin`` where address bit ``input_index`` is 1, ``-margin`` elsewhere."""
        with torch.no_grad():
            self.logits.copy_(pass_through_scores(self.logits, self.k, input_index, margin))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gradient_scale={self.gradient_scale}"
