"""The multilinear extension of a table: the expected output under independent input bits.

For corner values ``p`` (num_nodes, 2**k) and soft inputs ``x`` in [0, 1]::

    E[b, n] = sum_a p[n, a] * prod_j x[b, n, j]**a_j * (1 - x[b, n, j])**(1 - a_j)

(input j = address bit j). ``E`` is multilinear in ``x`` and linear in ``p``;
on binary ``x`` it is the lookup ``p[n, address(x)]``, and
``dE/dx_j = E|x_j=1 - E|x_j=0``.

The address splits into its low ``ceil(k/2)`` bits ``l`` and high bits ``h``:
``E = sum_l w_lo[l] * (sum_h p[h, l] * w_hi[h])`` with ``w`` the corner
probabilities of each half: one batched matrix product over nodes, so memory
is O(B * N * 2**ceil(k/2)), not O(B * N * 2**k). Internally tensors are laid
out (N, corners, B) so that every elementwise op runs along the batch.
"""

from __future__ import annotations

import torch


def _weights(xs: torch.Tensor) -> torch.Tensor:
    """Corner probabilities ``prod_i x_i**c_i (1 - x_i)**(1 - c_i)``: xs (N, m, B) -> (N, 2**m, B).

    Bit i of the corner c is input i.
    """
    num_nodes, m, batch = xs.shape
    w = xs.new_empty(num_nodes, 1 << m, batch)
    w[:, :1] = 1
    for i in range(m):
        size = 1 << i
        lo, hi = w[:, :size], w[:, size : 2 * size]
        torch.mul(lo, xs[:, i : i + 1], out=hi)  # corners with bit i = 1
        lo.sub_(hi)  # bit i = 0: w * (1 - x_i)
    return w


def _contract(v: torch.Tensor, cols: list[torch.Tensor]) -> torch.Tensor:
    """``sum_c v[:, c] * prod_i x_i**c_i (1 - x_i)**(1 - c_i)``: v (N, 2**m, B), m cols (N, 1, B) -> (N, 1, B).

    Works in place: ``v`` is overwritten (the result is a view of it).
    """
    for c in reversed(cols):
        half = v.shape[1] // 2
        lo, hi = v[:, :half], v[:, half:]
        lo.add_(hi.sub_(lo).mul_(c))
        v = lo
    return v


def _partials(v: torch.Tensor, cols: list[torch.Tensor]) -> list[torch.Tensor]:
    """``d/dx_j`` of :func:`_contract` for every j (a difference of the two halves along bit j), each (N, 1, B)."""
    out = []
    for j in range(len(cols)):
        pairs = v.unflatten(1, (-1, 2, 1 << j))
        diff = (pairs[:, :, 1] - pairs[:, :, 0]).flatten(1, 2)
        out.append(_contract(diff, cols[:j] + cols[j + 1 :]))
    return out


def node_major(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """x (B, N, k) -> (N, k, B), contiguous, in the promoted dtype of x and p: the layout used here."""
    return x.permute(1, 2, 0).contiguous().to(torch.promote_types(x.dtype, p.dtype))


def _split(xt: torch.Tensor, p: torch.Tensor):
    """Low-bit count, columns (N, 1, B) and p as (N, 2**k_hi, 2**k_lo) in xt's dtype."""
    num_nodes, k, _ = xt.shape
    k_lo = (k + 1) // 2
    cols = list(xt.unsqueeze(2).unbind(1))
    return k_lo, cols, p.to(xt.dtype).reshape(num_nodes, 1 << (k - k_lo), 1 << k_lo)


def multilinear_forward(xt: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``E``: xt (N, k, B) from :func:`node_major`, p (N, 2**k) -> (B, N) in xt's dtype."""
    k_lo, cols, table = _split(xt, p)
    mixed = torch.bmm(table.transpose(1, 2), _weights(xt[:, k_lo:]))  # (N, 2**k_lo, B): high bits contracted
    return _contract(mixed, cols[:k_lo]).squeeze(1).t().contiguous()


def multilinear_backward(
    xt: torch.Tensor, p: torch.Tensor, grad: torch.Tensor, need_x: bool = True, need_p: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Exact gradients of ``sum(grad * E)`` for grad (B, N).

    Returns (d/dx (B, N, k) in xt's dtype, d/dp like p), None where not needed.
    """
    k_lo, cols, table = _split(xt, p)
    g = grad.t().contiguous().to(xt.dtype).unsqueeze(1)  # (N, 1, B)
    w_lo = _weights(xt[:, :k_lo])
    w_hi_g = _weights(xt[:, k_lo:]).mul_(g)
    grad_x = grad_p = None
    if need_p:
        grad_p = torch.bmm(w_hi_g, w_lo.transpose(1, 2)).reshape(p.shape).to(p.dtype)
    if need_x:
        parts = _partials(torch.bmm(table.transpose(1, 2), w_hi_g), cols[:k_lo])
        parts += [d.mul_(g) for d in _partials(torch.bmm(table, w_lo), cols[k_lo:])]
        grad_x = torch.cat(parts, 1).permute(2, 0, 1).contiguous()
    return grad_x, grad_p


class MultilinearExpectation(torch.autograd.Function):
    """``E(x, p)`` with its exact gradient w.r.t. both arguments (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, p):
        xt = node_major(x, p)
        ctx.save_for_backward(xt, p)
        ctx.x_dtype = x.dtype
        return multilinear_forward(xt, p)

    @staticmethod
    def backward(ctx, grad):
        xt, p = ctx.saved_tensors
        grad_x, grad_p = multilinear_backward(xt, p, grad, *ctx.needs_input_grad)
        return (grad_x.to(ctx.x_dtype) if grad_x is not None else None), grad_p


def multilinear_expectation(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Apply :class:`MultilinearExpectation`; ``x`` (B, N, k), ``p`` (N, 2**k) -> (B, N)."""
    if x.dim() != 3 or p.dim() != 2 or p.shape != (x.shape[1], 1 << x.shape[2]):
        raise ValueError(
            f"multilinear_expectation expects x (batch, N, k) and p (N, 2**k); "
            f"got {tuple(x.shape)} and {tuple(p.shape)}"
        )
    return MultilinearExpectation.apply(x, p)
