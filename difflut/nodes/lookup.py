"""Helpers shared by the table-parametrised nodes (dwn, dwn_stable, probabilistic, hybrid).

A node module's table has shape ``(num_nodes, 2**k)``; entry ``[n, a]`` belongs to
address ``a`` of node ``n`` (input j = address bit j, see :mod:`difflut.bits`).
"""

from __future__ import annotations

import math

import torch


def flat_address(x: torch.Tensor) -> torch.Tensor:
    """Index of every sample's entry in a flattened ``(num_nodes, 2**k)`` table.

    ``x`` (B, num_nodes, k), any real values -> int64 (B, num_nodes) with entry
    ``n * 2**k + sum_j [x[b, n, j] >= 0.5] * 2**j`` (a NaN input reads as bit 0).
    """
    _, num_nodes, k = x.shape
    bits = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    torch.ge(x, 0.5, out=bits)
    address = bits @ torch.pow(2.0, torch.arange(k, dtype=torch.float32, device=x.device))
    if num_nodes << k <= 1 << 24:  # every flat index is exact in float32: one pass fewer
        offsets = torch.arange(0, num_nodes << k, 1 << k, dtype=torch.float32, device=x.device)
        return address.add_(offsets).to(torch.int64)
    return address.to(torch.int64).add_(torch.arange(0, num_nodes << k, 1 << k, device=x.device))


def pass_through_scores(like: torch.Tensor, k: int, input_index: int, margin: float) -> torch.Tensor:
    """Scores ``+margin`` where address bit ``input_index`` is 1 and ``-margin`` elsewhere.

    Returns a tensor shaped, typed and placed like ``like`` (num_nodes, 2**k): every
    node becomes a pass-through of its input ``input_index`` under ``score >= 0``.
    """
    if not isinstance(input_index, int) or isinstance(input_index, bool) or not 0 <= input_index < k:
        raise ValueError(f"input_index must be an int in 0..{k - 1}, got {input_index!r}")
    valid = isinstance(margin, (int, float)) and not isinstance(margin, bool)
    if not (valid and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite positive number, got {margin!r}")
    bit = (torch.arange(1 << k, device=like.device) >> input_index) & 1
    row = (2 * bit - 1).to(like.dtype) * margin
    return row.expand_as(like).clone()
