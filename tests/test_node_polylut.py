"""polylut: sigmoid of a degree-D polynomial in training, the table of polynomial >= 0 in eval."""

import itertools
import math

import pytest
import torch
from node_checks import assert_truth_table_follows, gradcheck_training_forward

from difflut.nodes.polylut import PolyLUTNode


def exponent_vectors(k, degree):
    """Every exponent vector of total degree <= degree, computed independently of the module."""
    return {e for e in itertools.product(range(degree + 1), repeat=k) if sum(e) <= degree}


def reference_polynomial(node, n, x):
    """Plain float64 sum_m w_m prod_j x_j ** e_mj for node n and one input vector."""
    total = 0.0
    for w, e in zip(node.weight[n].detach().tolist(), node.exponents.tolist()):
        total += w * math.prod(float(xj) ** ej for xj, ej in zip(x, e))
    return total


def set_polynomial(node, terms):
    """Set node 0's polynomial from {exponent tuple: coefficient} (others 0)."""
    rows = {tuple(e): i for i, e in enumerate(node.exponents.tolist())}
    with torch.no_grad():
        node.weight.zero_()
        for e, c in terms.items():
            node.weight[0, rows[e]] = c


@pytest.mark.parametrize("k,degree", [(1, 1), (2, 2), (3, 3), (6, 2), (4, 1)])
def test_monomials_are_all_exponent_vectors_up_to_degree(k, degree):
    node = PolyLUTNode(num_nodes=2, k=k, degree=degree)
    rows = [tuple(e) for e in node.exponents.tolist()]
    assert len(rows) == len(set(rows)) == math.comb(k + degree, degree) == node.num_monomials
    assert set(rows) == exponent_vectors(k, degree)
    assert rows[0] == (0,) * k
    assert rows[1 : k + 1] == [tuple(int(i == j) for i in range(k)) for j in range(k)]
    assert [sum(r) for r in rows] == sorted(sum(r) for r in rows)  # graded order


@pytest.mark.parametrize("k,degree", [(2, 2), (3, 3), (4, 2)])
def test_train_forward_matches_reference(k, degree):
    torch.manual_seed(0)
    node = PolyLUTNode(num_nodes=3, k=k, degree=degree).double().train()
    x = torch.rand(4, 3, k, dtype=torch.float64)
    y = node(x).detach()
    for b in range(4):
        for n in range(3):
            p = reference_polynomial(node, n, x[b, n].tolist())
            assert math.isclose(float(y[b, n]), 1.0 / (1.0 + math.exp(-p)), rel_tol=1e-12)


def test_known_polynomial_xor():
    # p = x0 + x1 - 2 x0 x1 - 1/2: -1/2, 1/2, 1/2, -1/2 at addresses 0..3, i.e. XOR
    node = PolyLUTNode(num_nodes=1, k=2, degree=2).double()
    set_polynomial(node, {(0, 0): -0.5, (1, 0): 1.0, (0, 1): 1.0, (1, 1): -2.0})
    assert node.truth_table()[0].tolist() == [False, True, True, False]
    assert torch.allclose(node.corner_scores(), torch.tensor([[-0.5, 0.5, 0.5, -0.5]], dtype=torch.float64))


def test_powers_act_on_soft_inputs_but_not_on_bits():
    # p = x0**2 - 1/2: a table of x0 on bits, but p(0.5, .) = -1/4 (not x0 - 1/2 = 0) in training
    node = PolyLUTNode(num_nodes=1, k=2, degree=2).double().train()
    set_polynomial(node, {(0, 0): -0.5, (2, 0): 1.0})
    assert node.truth_table()[0].tolist() == [False, True, False, True]
    y = node(torch.tensor([[[0.5, 0.3]]], dtype=torch.float64))
    assert math.isclose(float(y.detach()), 1.0 / (1.0 + math.exp(0.25)), rel_tol=1e-12)


def test_truth_table_matches_threshold_rule_on_every_address():
    torch.manual_seed(1)
    k = 4
    node = PolyLUTNode(num_nodes=5, k=k, degree=3)
    assert_truth_table_follows(node, lambda n, bits: reference_polynomial(node, n, bits))


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_gradcheck_train_forward(degree):
    torch.manual_seed(2)
    node = PolyLUTNode(num_nodes=2, k=3, degree=degree).double().train()
    x = torch.rand(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck_training_forward(node, x)


def test_residual_init_values():
    node = PolyLUTNode(num_nodes=2, k=3, degree=2)
    node.residual_init_(2)
    m = node.residual_margin
    expected = torch.zeros(2, node.num_monomials)
    expected[:, 0], expected[:, 3] = -m, 2 * m
    assert torch.equal(node.weight, expected)
    expected_scores = torch.tensor([m if a >> 2 else -m for a in range(8)]).expand(2, -1)
    assert torch.equal(node.corner_scores(), expected_scores)
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(3)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_degree_rejected(bad):
    with pytest.raises(ValueError, match="degree"):
        PolyLUTNode(num_nodes=2, k=3, degree=bad)


def test_init_uses_global_rng_and_nodes_differ():
    torch.manual_seed(3)
    a = PolyLUTNode(num_nodes=4, k=6)
    torch.manual_seed(3)
    b = PolyLUTNode(num_nodes=4, k=6)
    assert torch.equal(a.weight, b.weight)
    assert len({tuple(row.tolist()) for row in a.weight.detach()}) == 4


def test_state_dict_and_repr():
    node = PolyLUTNode(num_nodes=3, k=2, degree=3)
    assert set(node.state_dict()) == {"weight", "exponents"}
    assert "degree=3" in repr(node) and "num_monomials=10" in repr(node)
