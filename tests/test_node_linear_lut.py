"""linear_lut: sigmoid(w.x + b) in training, the table of w.x + b >= 0 in eval."""

import math

import pytest
import torch
from node_checks import assert_truth_table_follows, gradcheck_training_forward

from difflut.nodes.linear_lut import LinearLUTNode


def reference_score(weight, bias, bits):
    """Plain float64 w.x + b for one node and one input vector (python floats)."""
    weight, bias = weight.detach().tolist(), float(bias.detach())
    return sum(w * float(x) for w, x in zip(weight, bits)) + bias


def test_train_forward_matches_reference():
    torch.manual_seed(0)
    node = LinearLUTNode(num_nodes=4, k=3).double().train()
    x = torch.rand(5, 4, 3, dtype=torch.float64)
    y = node(x).detach()
    for b in range(5):
        for n in range(4):
            s = reference_score(node.weight[n], node.bias[n], x[b, n])
            assert math.isclose(float(y[b, n]), 1.0 / (1.0 + math.exp(-s)), rel_tol=1e-12)


@pytest.mark.parametrize(
    "weight,bias,table",
    [
        ((1.0, 1.0), -1.5, [0, 0, 0, 1]),  # x0 and x1
        ((1.0, 1.0), -0.5, [0, 1, 1, 1]),  # x0 or x1
        ((1.0, -1.0), -0.5, [0, 1, 0, 0]),  # x0 and not x1 (address = x0 + 2 x1)
        ((1.0, -1.0), 0.0, [1, 1, 0, 1]),  # score exactly 0 at addresses 0 and 3 -> 1 (>= 0)
    ],
)
def test_truth_table_of_known_units(weight, bias, table):
    node = LinearLUTNode(num_nodes=1, k=2)
    with torch.no_grad():
        node.weight[0] = torch.tensor(weight)
        node.bias[0] = bias
    assert node.truth_table()[0].tolist() == [bool(t) for t in table]


def test_truth_table_matches_threshold_rule_on_every_address():
    torch.manual_seed(1)
    k = 4
    node = LinearLUTNode(num_nodes=6, k=k)
    assert_truth_table_follows(node, lambda n, bits: reference_score(node.weight[n], node.bias[n], bits))


def test_corner_scores_are_the_scores():
    torch.manual_seed(2)
    node = LinearLUTNode(num_nodes=3, k=3).double()
    scores = node.corner_scores().detach()
    for n in range(3):
        for a in range(8):
            bits = [(a >> j) & 1 for j in range(3)]
            assert math.isclose(float(scores[n, a]), reference_score(node.weight[n], node.bias[n], bits),
                                abs_tol=1e-12)


def test_gradcheck_train_forward():
    torch.manual_seed(3)
    node = LinearLUTNode(num_nodes=3, k=4).double().train()
    x = torch.rand(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck_training_forward(node, x)


def test_residual_init_values_and_margin():
    node = LinearLUTNode(num_nodes=2, k=3)
    node.residual_init_(1)
    m = node.residual_margin
    assert torch.equal(node.weight, torch.tensor([[0.0, 2 * m, 0.0]] * 2))
    assert torch.equal(node.bias, torch.full((2,), -m))
    scores = node.corner_scores()
    expected = torch.tensor([m if (a >> 1) & 1 else -m for a in range(8)])
    assert torch.equal(scores, expected.expand(2, -1))


@pytest.mark.parametrize("bad", [-1, 3, 1.0, True, None])
def test_residual_init_rejects_bad_index(bad):
    with pytest.raises(ValueError, match="input_index"):
        LinearLUTNode(num_nodes=2, k=3).residual_init_(bad)


def test_init_uses_global_rng_and_nodes_differ():
    torch.manual_seed(4)
    a = LinearLUTNode(num_nodes=5, k=6)
    torch.manual_seed(4)
    b = LinearLUTNode(num_nodes=5, k=6)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert len({tuple(row.tolist()) for row in a.weight}) == 5
    assert bool((a.weight.abs() <= 1 / math.sqrt(6)).all())


def test_state_dict_and_repr():
    node = LinearLUTNode(num_nodes=3, k=2)
    assert set(node.state_dict()) == {"weight", "bias"}
    assert "num_nodes=3, k=2" in repr(node)
