"""Gradient stabilisation: an identity whose backward rescales the gradient.

The modes follow aplesner/difflut's ``grad_stabilization`` (``layerwise``:
one statistic over the layer's whole gradient; ``batchwise``: one statistic
per sample; ``layerwise_mean`` is its ``layerwise`` with ``grad_subtract_mean``),
with unit target and no epsilon. For an incoming gradient ``g`` of shape
``(B, ...)`` and ``RMS(v) = sqrt(mean(v**2))``:

* ``none``:           ``g' = g``
* ``layerwise``:      ``g' = g / RMS(g)``                    (RMS over all elements)
* ``batchwise``:      ``g'[b] = g[b] / RMS(g[b])``           (RMS over each sample's elements)
* ``layerwise_mean``: ``g' = (g - mean(g)) / RMS(g - mean(g))`` (mean and RMS over all elements)

A group whose numerator is all zero is left at zero. The RMS is computed after
dividing by the group's max-abs value, so tiny gradients do not underflow.
"""

from __future__ import annotations

import torch
from torch import nn

GRAD_STABILIZATION_MODES = ("none", "layerwise", "batchwise", "layerwise_mean")


def _unit_rms(g: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``g / RMS(g)`` over ``dims`` (keeping all-zero groups at zero)."""
    peak = g.abs().amax(dim=dims, keepdim=True)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    scaled = g / peak
    rms = scaled.square().mean(dim=dims, keepdim=True).sqrt()
    return scaled / torch.where(rms > 0, rms, torch.ones_like(rms))


def stabilize_gradient(g: torch.Tensor, mode: str) -> torch.Tensor:
    """The rescaled gradient ``g'`` of the module docstring; ``g`` is (B, ...)."""
    if mode == "none":
        return g
    every = tuple(range(g.dim()))
    if mode == "layerwise":
        return _unit_rms(g, every)
    if mode == "batchwise":
        return _unit_rms(g, every[1:]) if g.dim() > 1 else _unit_rms(g, every)
    if mode == "layerwise_mean":
        return _unit_rms(g - g.mean(), every)
    raise ValueError(f"unknown grad_stabilization {mode!r}; valid modes: {', '.join(GRAD_STABILIZATION_MODES)}")


class _StabilizeGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, mode: str) -> torch.Tensor:
        ctx.mode = mode
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return stabilize_gradient(grad, ctx.mode), None


class GradientStabilization(nn.Module):
    """Identity in forward; in training, backward rescales the gradient per ``mode``.

    Shapes: ``x`` (B, ...) -> same. See the module docstring for the exact
    formulas. Eval: the identity (forward and backward).
    """

    def __init__(self, mode: str = "none"):
        super().__init__()
        if mode not in GRAD_STABILIZATION_MODES:
            raise ValueError(
                f"unknown grad_stabilization {mode!r}; valid modes: {', '.join(GRAD_STABILIZATION_MODES)}"
            )
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.mode == "none":
            return x
        return _StabilizeGradient.apply(x, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
