"""Checks shared by the per-node test modules."""

import torch
from torch.func import functional_call


def gradcheck_training_forward(node, x: torch.Tensor) -> bool:
    """torch.autograd.gradcheck of ``node``'s training forward w.r.t. ``x`` and every parameter (float64)."""
    names = [name for name, _ in node.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in node.named_parameters()]
    x = x.detach().clone().requires_grad_()

    def f(x, *ps):
        return functional_call(node, dict(zip(names, ps)), (x,))

    return torch.autograd.gradcheck(f, (x, *params))
