"""Extended Finite Difference (EFD): the surrogate gradient of a hard table lookup.

From Differentiable Weightless Neural Networks (Bacellar et al., ICML 2024,
arXiv:2410.11112). A node reads its table ``T`` at the address ``u`` of its
thresholded inputs (``x_j >= 0.5``). EFD gives input j the derivative::

    dT[u]/dx_j = sum_c (-1)**(1 - c_j) * w(H_j(c, u)) * T[c]
               = sum_{c: c_j = 0} w(H_j(c, u)) * (T[c | 2**j] - T[c])

over all ``2**k`` addresses ``c``, where ``H_j(c, u)`` is the Hamming distance
of ``c`` and ``u`` ignoring bit j. Weightings ``w(d)``, ``d = 0..k-1``:

* ``"paper"``: ``w(d) = 1 / (d + 1)`` (the paper's equation);
* ``"released"``: ``w(d) = alpha * beta**d`` with ``alpha = 0.5 * 0.75**(k-1)``
  and ``beta = 1/3``, the authors' released CUDA kernel. These weights satisfy
  ``sum_d C(k-1, d) w(d) = 1/2``, so ``|dT[u]/dx_j| <= 1`` for a table in [-1, 1].

The table entry that was read gets the upstream gradient unchanged.
"""

from __future__ import annotations

import functools

import torch

from .. import kernels
from ..bits import subset_order
from .lookup import flat_address
from .wiring import Wiring, gather

EFD_WEIGHTINGS = ("paper", "released")


def efd_distance_weights(k: int, weighting: str = "paper") -> torch.Tensor:
    """``w(d)`` for Hamming distances ``d = 0..k-1``, float64 (k,)."""
    d = torch.arange(k, dtype=torch.float64)
    if weighting == "paper":
        return 1.0 / (d + 1.0)
    if weighting == "released":
        return 0.5 * 0.75 ** (k - 1) * (1.0 / 3.0) ** d
    raise ValueError(f"EFD weighting must be one of {EFD_WEIGHTINGS}, got {weighting!r}")


@functools.lru_cache(maxsize=None)
def _pair_matrix_cpu(k: int, weighting: str) -> torch.Tensor:
    weights = efd_distance_weights(k, weighting)
    if k == 1:
        return weights.view(1, 1)
    u = torch.arange(1 << (k - 1))
    return weights[subset_order(k - 1)[u.unsqueeze(1) ^ u.unsqueeze(0)]]


@functools.lru_cache(maxsize=None)
def _pair_matrix(k: int, weighting: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """:func:`_pair_matrix_cpu` on ``device``, copied there once (no host copy inside a CUDA-graph capture)."""
    return _pair_matrix_cpu(k, weighting).to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=None)
def _factor_indices_cpu(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low, spread)``: ``low`` (k * 2**(k-1),) the addresses ``c`` with bit j clear, for each j and each
    ``c'`` (``c`` without bit j); ``spread`` (2**k * k,) the position of ``(j, u without bit j)`` in a
    (k, 2**(k-1)) row, for each address u and input j."""
    half = 1 << (k - 1)
    j = torch.arange(k).unsqueeze(1)
    rest = torch.arange(half).unsqueeze(0)
    low = ((rest >> j) << (j + 1)) | (rest & ((1 << j) - 1))  # insert a 0 at bit j
    u = torch.arange(1 << k).unsqueeze(1)
    spread = j.T * half + (((u >> (j.T + 1)) << j.T) | (u & ((1 << j.T) - 1)))  # remove bit j from u
    return low.flatten(), spread.flatten()


@functools.lru_cache(maxsize=None)
def _factor_indices(k: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_factor_indices_cpu` on ``device`` with ``high`` (= low | 2**j), copied there once."""
    low, spread = _factor_indices_cpu(k)
    high = low + (1 << torch.arange(k)).repeat_interleave(1 << (k - 1))
    return low.to(device), high.to(device), spread.to(device)


def efd_input_factors(table: torch.Tensor, weighting: str = "paper") -> torch.Tensor:
    """EFD derivative of every entry w.r.t. every input: (num_nodes, 2**k) -> (num_nodes, 2**k, k).

    ``out[n, u, j] = sum_{c: c_j = 0} w(H_j(c, u)) * (T[n, c | 2**j] - T[n, c])``.
    Costs O(num_nodes * k * 4**(k-1)), independent of the batch; five tensor ops (two gathers and a
    difference, a product with the pair weights, a gather).
    """
    num_nodes, size = table.shape
    k = size.bit_length() - 1
    pairs = _pair_matrix(k, weighting, table.device, table.dtype)
    low, high, spread = _factor_indices(k, table.device)
    # diffs[:, j, c'] = T[c with bit j set] - T[c with bit j clear]; c' is c without bit j
    diffs = (table.index_select(1, high) - table.index_select(1, low)).view(num_nodes, k, size >> 1)
    reduced = diffs @ pairs  # (num_nodes, k, 2**(k-1)); pairs is symmetric
    return reduced.view(num_nodes, -1).index_select(1, spread).view(num_nodes, size, k)


class EFDLookup(torch.autograd.Function):
    """Hard lookup ``T[n, address(x >= 0.5)]`` with the EFD backward.

    forward(x (B, N, k), table (N, 2**k), weighting, hard, grad_scale) -> (B, N):
    the entry read (``hard=False``) or ``[entry >= 0]`` as 0./1. (``hard=True``), in
    the promoted dtype of ``x`` and ``table``. Backward (upstream ``g``, times
    ``grad_scale``): the entry read gets ``g`` (a straight-through step when
    ``hard``); ``x[b, n, j]`` gets ``g * efd_input_factors(table)[n, u, j]``.
    For float32 CUDA operands the fused kernels of :mod:`difflut.kernels` compute it.
    """

    @staticmethod
    def forward(ctx, x, table, weighting, hard, grad_scale):
        ctx.weighting, ctx.grad_scale, ctx.x_dtype = weighting, grad_scale, x.dtype
        if kernels.use_efd_kernel(x, table):  # fused CUDA kernel, same values
            out, address = kernels.efd_extension().forward(x.contiguous(), table.contiguous(), hard)
            ctx.save_for_backward(address, table)
            ctx.fused = True
            return out
        flat = flat_address(x)
        values = table.reshape(-1)[flat]
        dtype = torch.promote_types(x.dtype, table.dtype)
        ctx.save_for_backward(flat, table)
        ctx.fused = False
        return (values >= 0).to(dtype) if hard else values.to(dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.fused:
            address, table = ctx.saved_tensors
            grad_x, grad_table = efd_kernel_backward(grad, address, table, ctx.weighting, ctx.grad_scale,
                                                     *ctx.needs_input_grad[:2])
            return grad_x, grad_table, None, None, None
        flat, table = ctx.saved_tensors
        if ctx.grad_scale != 1.0:
            grad = grad * ctx.grad_scale
        grad_x = grad_table = None
        if ctx.needs_input_grad[0]:
            factors = efd_input_factors(table, ctx.weighting).to(ctx.x_dtype)
            k = factors.shape[-1]
            grad_x = factors.view(-1, k).index_select(0, flat.view(-1)).view(*flat.shape, k)
            grad_x.mul_(grad.unsqueeze(-1).to(ctx.x_dtype))
        if ctx.needs_input_grad[1]:
            grad_table = torch.zeros(table.numel(), dtype=table.dtype, device=table.device)
            grad_table.index_add_(0, flat.view(-1), grad.reshape(-1).to(table.dtype))
            grad_table = grad_table.view_as(table)
        return grad_x, grad_table, None, None, None


def efd_kernel_backward(grad, address, table, weighting, grad_scale, need_x, need_table):
    """The CUDA kernel's EFD backward of a lookup that read ``table`` (N, 2**k) at ``address`` (B, N) int32:
    ``(grad_x (B, N, k) or None, grad_table or None)`` for upstream ``grad`` (B, N), as :class:`EFDLookup`."""
    # without need_x the kernel reads no factors: pass an empty tensor
    factors = efd_input_factors(table, weighting) if need_x else table.new_empty((0, 0, 0))
    grad_x, grad_table = kernels.efd_extension().backward(
        grad.contiguous().float(), address, factors.contiguous(), table.shape[1], need_x, need_table, grad_scale)
    return (grad_x if need_x else None), (grad_table if need_table else None)


def efd_lookup(
    x: torch.Tensor, table: torch.Tensor, *, weighting: str = "paper", hard: bool = False, grad_scale: float = 1.0
) -> torch.Tensor:
    """Apply :class:`EFDLookup`; ``x`` (B, N, k), ``table`` (N, 2**k) -> (B, N)."""
    if weighting not in EFD_WEIGHTINGS:
        raise ValueError(f"EFD weighting must be one of {EFD_WEIGHTINGS}, got {weighting!r}")
    if x.dim() != 3 or table.dim() != 2 or table.shape != (x.shape[1], 1 << x.shape[2]):
        raise ValueError(
            f"efd_lookup expects x (batch, N, k) and table (N, 2**k); "
            f"got {tuple(x.shape)} and {tuple(table.shape)}"
        )
    return EFDLookup.apply(x, table, weighting, hard, float(grad_scale))


class WiredEFDLookup(torch.autograd.Function):
    """:class:`EFDLookup` of ``x[:, wiring.index]`` without forming the (B, N, k) node inputs (CUDA kernels).

    forward(x (B, M) float32 CUDA, wiring, table (N, 2**k), weighting, hard, grad_scale) -> (B, N): the
    values of ``EFDLookup(x[:, wiring.index], table, ...)``. Backward: the same products, the input
    gradient of each input summed over the nodes that read it (another summation order, float rounding only).
    """

    @staticmethod
    def forward(ctx, x, wiring, table, weighting, hard, grad_scale):
        ctx.weighting, ctx.grad_scale, ctx.wiring, ctx.inputs = weighting, grad_scale, wiring, x.shape[1]
        out, address = kernels.efd_extension().wired_forward(x.contiguous(), wiring.columns, table.contiguous(), hard)
        ctx.save_for_backward(address, table)
        return out

    @staticmethod
    def backward(ctx, grad):
        address, table = ctx.saved_tensors
        need_x = ctx.needs_input_grad[0]
        if need_x:  # zero-padded to 8 floats per entry: one 32-byte sector per read
            factors = torch.nn.functional.pad(efd_input_factors(table, ctx.weighting), (0, 8 - ctx.wiring.k))
        else:
            factors = table.new_empty((0, 0, 0))
        grad_x, grad_table = kernels.efd_extension().wired_backward(
            grad.contiguous().float(), address, factors.contiguous(), ctx.wiring.columns, ctx.inputs,
            need_x, ctx.needs_input_grad[2], ctx.grad_scale)
        return grad_x, None, grad_table, None, None, None


def wired_efd_lookup(
    x: torch.Tensor, wiring: Wiring, table: torch.Tensor, *, weighting: str = "paper", hard: bool = False,
    grad_scale: float = 1.0,
) -> torch.Tensor:
    """``efd_lookup(x[:, wiring.index], table, ...)``: ``x`` (B, M), ``table`` (N, 2**k) -> (B, N).

    Float32 CUDA operands with k <= 8 run the wired kernels of :mod:`difflut.kernels`; otherwise the
    node inputs are gathered and :func:`efd_lookup` runs.
    """
    nodes, k = wiring.index.shape
    if x.dim() != 2 or x.shape[1] < wiring.min_inputs or table.shape != (nodes, 1 << k):
        raise ValueError(f"wired_efd_lookup expects x (batch, >= {wiring.min_inputs}) and table ({nodes}, {1 << k}); "
                         f"got {tuple(x.shape)} and {tuple(table.shape)}")
    if kernels.use_efd_kernel(x, table) and k <= kernels.efd_extension().max_wired_k:
        if weighting not in EFD_WEIGHTINGS:
            raise ValueError(f"EFD weighting must be one of {EFD_WEIGHTINGS}, got {weighting!r}")
        return WiredEFDLookup.apply(x, wiring, table, weighting, hard, float(grad_scale))
    return efd_lookup(gather(x, wiring), table, weighting=weighting, hard=hard, grad_scale=grad_scale)
