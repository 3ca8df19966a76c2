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


def naive_multilinear(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """sum_a p[n, a] * prod_j x_j**a_j (1 - x_j)**(1 - a_j) for x (B, N, k), p (N, 2**k), by plain loops (float64)."""
    batch, num_nodes, k = x.shape
    out = torch.zeros(batch, num_nodes, dtype=torch.float64)
    for a in range(1 << k):
        weight = torch.ones(batch, num_nodes, dtype=torch.float64)
        for j in range(k):
            weight = weight * (x[..., j] if (a >> j) & 1 else 1 - x[..., j])
        out = out + p[:, a] * weight
    return out


def assert_truth_table_follows(node, score) -> None:
    """``node.truth_table()[n, a] == (score(n, bits) >= 0)`` on every node n and address a, with
    ``bits`` the address's input values (input j = address bit j) as a list of floats."""
    table = node.truth_table()
    for n in range(node.num_nodes):
        for a in range(1 << node.k):
            bits = [float((a >> j) & 1) for j in range(node.k)]
            assert bool(table[n, a]) == (score(n, bits) >= 0), (n, a)
