"""PolyLUT nodes (Andronic & Constantinides, FPT 2023): a polynomial of the inputs, thresholded at zero."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from ..registry import register_node
from .base import BaseNode


def _monomials(k: int, degree: int) -> list[tuple[int, ...]]:
    """Every monomial of total degree <= ``degree`` in k variables, as sorted variable-index tuples.

    Graded order: the constant ``()`` first, then degree 1, 2, ...; lexicographic within a degree.
    """
    return [m for d in range(degree + 1) for m in itertools.combinations_with_replacement(range(k), d)]


@register_node("polylut")
class PolyLUTNode(BaseNode):
    """``num_nodes`` PolyLUT neurons, each read out as a k-input LUT.

    Node n's score is the multivariate polynomial of total degree ``degree`` (D)
    in its k inputs, with every monomial of degree 0..D (powers included, as in
    the paper): ``p_n(x) = sum_m weight[n, m] * prod_j x_j ** exponents[m, j]``.
    There are ``M = C(k + D, D)`` monomials, listed in the buffer ``exponents``
    (M, k): row 0 is the constant, rows 1..k are ``x_0 .. x_{k-1}``, then the
    higher degrees in graded lexicographic order of their sorted variable indices.

    Training: ``x`` (B, num_nodes, k) soft bits -> ``sigmoid(p(x))`` (B, num_nodes).

    Eval: entry a of node n's truth table is ``p_n(bits of a) >= 0`` (input j =
    address bit j; on bits ``x_j ** e = x_j`` for e >= 1), evaluated in float64
    on CPU; the eval output is a lookup in it.

    Initialisation: weight uniform in ``(-1/sqrt(M), 1/sqrt(M))``, from the global torch RNG.
    """

    #: score at the corners after :meth:`residual_init_`: ``+margin`` if the input is 1, ``-margin`` if 0
    residual_margin: float = 2.0

    def __init__(self, num_nodes: int, k: int, degree: int = 2):
        super().__init__(num_nodes, k)
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
            raise ValueError(f"degree must be a positive int, got {degree!r}")
        self.degree = degree
        monomials = _monomials(self.k, degree)
        exponents = torch.zeros(len(monomials), self.k, dtype=torch.int64)
        dense_index = torch.zeros(len(monomials), dtype=torch.int64)
        for i, m in enumerate(monomials):
            for j in m:
                exponents[i, j] += 1
                dense_index[i] = dense_index[i] * self.k + j
        self.register_buffer("exponents", exponents)
        # flat position of each degree-d monomial in a dense k**d array, row-major over its sorted indices
        self.register_buffer("_dense_index", dense_index, persistent=False)
        self._degree_ends = [math.comb(self.k + d, d) for d in range(degree + 1)]
        bound = 1.0 / math.sqrt(len(monomials))
        self.weight = nn.Parameter(torch.empty(num_nodes, len(monomials)).uniform_(-bound, bound))

    @property
    def num_monomials(self) -> int:
        return self.weight.shape[1]

    def _dense_coefficients(self) -> list[torch.Tensor]:
        """Degree d's coefficients as a dense (num_nodes, k**d) array, zero off the sorted index tuples."""
        dense = [self.weight[:, :1]]
        for d, (start, end) in enumerate(zip(self._degree_ends, self._degree_ends[1:]), start=1):
            block = self.weight.new_zeros(self.num_nodes, self.k**d)
            dense.append(block.index_copy(1, self._dense_index[start:end], self.weight[:, start:end]))
        return dense

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``p(x)`` for x (B, num_nodes, k) -> (B, num_nodes).

        Horner's scheme over sorted index tuples:
        ``V_d(t) = w_t + sum_l x_l V_{d+1}(t + (l,))``, ``V_D = w``, ``p = V_0``; the dense
        coefficient arrays are zero off sorted tuples, so each product is counted once.
        """
        dense = self._dense_coefficients()
        xt = x.transpose(0, 1)  # (num_nodes, B, k)
        top = dense[-1].view(self.num_nodes, -1, self.k)  # (num_nodes, k**(D-1), k)
        v = torch.baddbmm(dense[-2].unsqueeze(1), xt, top.transpose(1, 2))  # V_{D-1} (num_nodes, B, k**(D-1))
        for d in range(self.degree - 1, 0, -1):
            v = v.view(*v.shape[:2], -1, self.k).mul(xt.unsqueeze(2)).sum(-1) + dense[d - 1].unsqueeze(1)
        return v.squeeze(-1).T

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.score(x))

    def corner_scores(self) -> torch.Tensor:
        return self.score(self.corners().unsqueeze(1).expand(-1, self.num_nodes, -1)).T

    def residual_init_(self, input_index: int = 0) -> None:
        """Set ``p(x) = margin * (2 * x_j - 1)`` with ``j = input_index`` and ``margin = residual_margin``."""
        self.check_input_index(input_index)
        with torch.no_grad():
            self.weight.zero_()
            self.weight[:, 0] = -self.residual_margin
            self.weight[:, 1 + input_index] = 2.0 * self.residual_margin

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, degree={self.degree}, num_monomials={self.num_monomials}"
