"""warp: Walsh coefficients, multilinear extension, sigmoid(f / T) in training, f >= 0 in eval."""

import math

import pytest
import torch
from node_checks import assert_truth_table_follows, gradcheck_training_forward

from difflut.bits import walsh_coefficients
from difflut.nodes.warp import WARPNode, walsh_extension


def reference_f(coefficients, x):
    """sum_S c_S prod_{j in S} (1 - 2 x_j), plain float64 loops, one node and one input vector."""
    k = len(x)
    total = 0.0
    for s, c in enumerate(coefficients):
        total += c * math.prod(1.0 - 2.0 * float(x[j]) for j in range(k) if (s >> j) & 1)
    return total


def walsh_of_table(values):
    """Walsh coefficients of corner values, written out: c_S = 2**-k sum_a f(a) (-1)**popcount(a & S)."""
    n = len(values)
    return [sum(v * (-1) ** bin(a & s).count("1") for a, v in enumerate(values)) / n for s in range(n)]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_train_forward_matches_reference(k):
    torch.manual_seed(0)
    node = WARPNode(num_nodes=3, k=k, temperature=0.7).double().train()
    x = torch.rand(4, 3, k, dtype=torch.float64)
    y = node(x).detach()
    for b in range(4):
        for n in range(3):
            f = reference_f(node.coefficients[n].tolist(), x[b, n].tolist())
            assert math.isclose(float(y[b, n]), 1.0 / (1.0 + math.exp(-f / 0.7)), rel_tol=1e-12)


def test_xor_coefficient_by_hand():
    # f = -(1 - 2 x0)(1 - 2 x1): -1, 1, 1, -1 at addresses 0..3, i.e. XOR; 0 at x = (1/2, .)
    node = WARPNode(num_nodes=1, k=2).double().train()
    with torch.no_grad():
        node.coefficients.copy_(torch.tensor([[0.0, 0.0, 0.0, -1.0]]))
    assert node.truth_table()[0].tolist() == [False, True, True, False]
    assert float(node(torch.tensor([[[0.5, 0.9]]], dtype=torch.float64)).detach()) == 0.5


@pytest.mark.parametrize("k", [2, 3, 4])
def test_coefficients_of_a_known_function_reproduce_it_at_the_corners(k):
    torch.manual_seed(1)
    tables = torch.rand(4, 1 << k) < 0.5
    values = [[(1.0 if t else -1.0) * (1 + 0.25 * a) for a, t in enumerate(row.tolist())] for row in tables]
    node = WARPNode(num_nodes=4, k=k).double().train()
    with torch.no_grad():
        node.coefficients.copy_(torch.tensor([walsh_of_table(v) for v in values]))
    assert torch.equal(node.truth_table(), tables)
    assert torch.allclose(node.corner_scores(), torch.tensor(values, dtype=torch.float64))
    # the training forward at the corners is sigmoid of those values
    x = torch.tensor([[(a >> j) & 1 for j in range(k)] for a in range(1 << k)], dtype=torch.float64)
    y = node(x.unsqueeze(1).expand(-1, 4, -1)).detach().T
    assert torch.allclose(y, torch.sigmoid(torch.tensor(values, dtype=torch.float64)))


def test_coefficients_are_the_walsh_coefficients_of_the_corner_scores():
    torch.manual_seed(5)
    node = WARPNode(num_nodes=3, k=4).double()
    assert torch.allclose(walsh_coefficients(node.corner_scores()), node.coefficients)


def test_truth_table_matches_threshold_rule_on_every_address():
    torch.manual_seed(2)
    k = 4
    node = WARPNode(num_nodes=5, k=k)
    assert_truth_table_follows(node, lambda n, bits: reference_f(node.coefficients[n].tolist(), bits))


def test_gradcheck_train_forward():
    torch.manual_seed(3)
    node = WARPNode(num_nodes=2, k=3, temperature=2.0).double().train()
    x = torch.rand(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck_training_forward(node, x)


def test_walsh_extension_checks_coefficient_count():
    with pytest.raises(ValueError, match=r"\(num_nodes, 2\*\*k\) = \(2, 8\)"):
        walsh_extension(torch.zeros(2, 4), torch.rand(1, 2, 3))
    with pytest.raises(ValueError, match="got \\(3, 8\\)"):
        walsh_extension(torch.zeros(3, 8), torch.rand(1, 2, 3))


def test_residual_init_values():
    node = WARPNode(num_nodes=2, k=3)
    node.residual_init_(1)
    m = node.residual_margin
    expected = torch.zeros(2, 8)
    expected[:, 2] = -m
    assert torch.equal(node.coefficients, expected)
    x = torch.rand(4, 2, 3)
    assert torch.allclose(node.score(x).detach(), m * (2 * x[..., 1] - 1))
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(-1)


@pytest.mark.parametrize("bad", [0, -1.0, "1", True])
def test_bad_temperature_rejected(bad):
    with pytest.raises(ValueError, match="temperature"):
        WARPNode(num_nodes=2, k=2, temperature=bad)


def test_init_uses_global_rng_and_has_unit_variance_corner_scores():
    torch.manual_seed(4)
    a = WARPNode(num_nodes=2000, k=6)
    torch.manual_seed(4)
    b = WARPNode(num_nodes=2000, k=6)
    assert torch.equal(a.coefficients, b.coefficients)
    assert len({tuple(row.tolist()) for row in a.coefficients.detach()[:10]}) == 10
    assert abs(float(a.corner_scores().detach().std()) - 1.0) < 0.05


def test_state_dict_and_repr():
    node = WARPNode(num_nodes=3, k=2, temperature=0.5)
    assert set(node.state_dict()) == {"coefficients"}
    assert "temperature=0.5" in repr(node)
