"""Truth-table regularisers, acting on a node module's ``corner_scores()``.

``s`` is the (num_nodes, 2**k) score table of :meth:`BaseNode.corner_scores`
(hard decision ``s >= 0``), ``c = walsh_coefficients(s)`` its Walsh
coefficients (:mod:`difflut.bits` convention, ``c_S = 2**-k sum_a s_a (-1)**|a & S|``)
and ``|S|`` the order of coefficient ``S``. Per node ``n``:

* ``l1``:       ``sum_a |s[n, a]|``
* ``l2``:       ``sum_a s[n, a]**2``
* ``spectral``: ``sum_S |S| * c[n, S]**2``

The spectral penalty weights Walsh energy by order, so a constant costs
nothing, a single-input function costs its energy once and a k-input parity k
times. It equals one quarter of the node's total influence,
``1/4 * sum_j mean_a (s[a] - s[a xor 2**j])**2``. DWN's spectral regularisation
(Bacellar et al., 2024, arXiv 2410.11112) penalises the squared Walsh
coefficients ``sum_S c_S**2`` (aplesner/difflut implements exactly that); by
Parseval this is ``2**-k * l2``, a rescaled L2 blind to order, so DiffLUT keeps
the Walsh-domain penalty and adds the order weight ``|S|``.

:func:`penalty` returns the per-node values; layers average them over nodes.
"""

from __future__ import annotations

import torch

from .bits import subset_order, walsh_coefficients

REGULARIZERS = ("l1", "l2", "spectral")


def _check_scores(scores: torch.Tensor) -> int:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or not scores.is_floating_point():
        raise ValueError(
            "regularisers take a floating-point score table of shape (num_nodes, 2**k), got "
            f"{type(scores).__name__} {getattr(scores, 'dtype', '')} {tuple(getattr(scores, 'shape', ()))}"
        )
    n = scores.shape[1]
    k = n.bit_length() - 1
    if k < 1 or n != 1 << k:
        raise ValueError(f"score table width must be 2**k with k >= 1, got {n}")
    return k


def l1_penalty(scores: torch.Tensor) -> torch.Tensor:
    """Per-node ``sum_a |s_a|``: (num_nodes, 2**k) -> (num_nodes,)."""
    _check_scores(scores)
    return scores.abs().sum(-1)


def l2_penalty(scores: torch.Tensor) -> torch.Tensor:
    """Per-node ``sum_a s_a**2``: (num_nodes, 2**k) -> (num_nodes,)."""
    _check_scores(scores)
    return scores.square().sum(-1)


def spectral_penalty(scores: torch.Tensor) -> torch.Tensor:
    """Per-node ``sum_S |S| c_S**2``: (num_nodes, 2**k) -> (num_nodes,)."""
    k = _check_scores(scores)
    order = subset_order(k, scores.dtype, scores.device)
    return (walsh_coefficients(scores).square() * order).sum(-1)


_PENALTIES = {"l1": l1_penalty, "l2": l2_penalty, "spectral": spectral_penalty}


def penalty(scores: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-node penalty of ``kind`` (one of :data:`REGULARIZERS`): (num_nodes,)."""
    if kind not in _PENALTIES:
        raise ValueError(f"unknown regulariser {kind!r}; valid kinds: {', '.join(REGULARIZERS)}")
    return _PENALTIES[kind](scores)
