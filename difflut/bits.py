"""Bit-level conventions shared by nodes, layers, regularisers and the IR.

Address convention (used everywhere, hardware included): a k-input LUT reads
inputs ``x_0 .. x_{k-1}`` and its address is ``a = sum_j x_j * 2**j`` (input j
is address bit j, LSB first). A truth table is a length-``2**k`` vector indexed
by that address.

Walsh convention: for corner values ``f(a)``, the Walsh coefficient of subset
``S`` (a k-bit mask) is ``c_S = 2**-k * sum_a f(a) * (-1)**popcount(a & S)``,
and ``f(a) = sum_S c_S * (-1)**popcount(a & S)``. The order of ``c_S`` is
``popcount(S)`` (0 = constant, 1 = linear in one input, ...).
"""

from __future__ import annotations

import functools

import torch

MAX_K = 10


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ValueError(f"LUT input count k must be an int in 1..{MAX_K}, got {k!r}")
    return k


def _corners_cpu(k: int) -> torch.Tensor:
    a = torch.arange(1 << k, dtype=torch.int64)
    return ((a.unsqueeze(1) >> torch.arange(k, dtype=torch.int64)) & 1).to(torch.float64)


@functools.lru_cache(maxsize=None)
def _constant(make, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``make(k)`` (a CPU table) on ``device`` as ``dtype``, made once: later calls copy nothing, so they may
    run inside a CUDA graph capture (a CPU-to-GPU copy there fails) once an eager call made the table. Made
    outside inference mode (and copied), so a first call under ``torch.inference_mode`` still leaves a
    tensor autograd may use."""
    with torch.inference_mode(False):
        return make(k).to(device=device, dtype=dtype, copy=True)


def _device(device) -> torch.device:
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def corners(k: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """All binary input vectors, shape (2**k, k): row a holds the bits of address a, LSB first.
    A shared constant: do not modify it in place."""
    return _constant(_corners_cpu, check_k(k), dtype, _device(device))


def address(bits: torch.Tensor) -> torch.Tensor:
    """Address of binary inputs: (..., k) with values 0/1 -> int64 (...,), input j = bit j."""
    k = bits.shape[-1]
    weights = torch.ones(k, dtype=torch.int64, device=bits.device) << torch.arange(k, device=bits.device)
    return (bits.to(torch.int64) * weights).sum(-1)


def _walsh_cpu(k: int) -> torch.Tensor:
    a = torch.arange(1 << k, dtype=torch.int64)
    parity = subset_order(k)[a.unsqueeze(1) & a.unsqueeze(0)] & 1
    return (1 - 2 * parity).to(torch.float64)


def walsh_matrix(k: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """H with H[a, S] = (-1)**popcount(a & S), shape (2**k, 2**k), symmetric, H @ H = 2**k * I.
    A shared constant: do not modify it in place."""
    return _constant(_walsh_cpu, check_k(k), dtype, _device(device))


def walsh_coefficients(values: torch.Tensor) -> torch.Tensor:
    """Walsh coefficients of corner values (..., 2**k) -> (..., 2**k), differentiable."""
    n = values.shape[-1]
    k = n.bit_length() - 1
    if n != 1 << k:
        raise ValueError(f"last dimension must be a power of two (a truth table), got {n}")
    return values @ walsh_matrix(k, values.dtype, values.device) / n


def _order_cpu(k: int) -> torch.Tensor:
    a = torch.arange(1 << k, dtype=torch.int64)
    return ((a.unsqueeze(1) >> torch.arange(k, dtype=torch.int64)) & 1).sum(1)


def subset_order(k: int, dtype=torch.int64, device=None) -> torch.Tensor:
    """popcount of every k-bit mask, (2**k,): the order of each Walsh coefficient.
    A shared constant: do not modify it in place."""
    return _constant(_order_cpu, check_k(k), dtype, _device(device))
