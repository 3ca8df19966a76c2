"""difflogic: softmax mixture of the 16 relaxed gates in training, the argmax gate in eval."""

import math

import pytest
import torch
from node_checks import gradcheck_training_forward

from difflut.nodes.difflogic import GATE_TABLES, GATES, DiffLogicNode

# the paper's order, each gate as a boolean function and as its real-valued relaxation, written out by hand
BOOLEAN = [
    lambda a, b: False,
    lambda a, b: a and b,
    lambda a, b: a and not b,
    lambda a, b: a,
    lambda a, b: (not a) and b,
    lambda a, b: b,
    lambda a, b: a != b,
    lambda a, b: a or b,
    lambda a, b: not (a or b),
    lambda a, b: a == b,
    lambda a, b: not b,
    lambda a, b: a or not b,
    lambda a, b: not a,
    lambda a, b: (not a) or b,
    lambda a, b: not (a and b),
    lambda a, b: True,
]
RELAXED = [
    lambda a, b: 0.0,
    lambda a, b: a * b,
    lambda a, b: a - a * b,
    lambda a, b: a,
    lambda a, b: b - a * b,
    lambda a, b: b,
    lambda a, b: a + b - 2 * a * b,
    lambda a, b: a + b - a * b,
    lambda a, b: 1 - (a + b - a * b),
    lambda a, b: 1 - (a + b - 2 * a * b),
    lambda a, b: 1 - b,
    lambda a, b: 1 - b + a * b,
    lambda a, b: 1 - a,
    lambda a, b: 1 - a + a * b,
    lambda a, b: 1 - a * b,
    lambda a, b: 1.0,
]


def hand_table(g):
    """Gate g at addresses 0..3 (a = address bit 0 = input 0, b = bit 1 = input 1)."""
    return [bool(BOOLEAN[g](bool(addr & 1), bool(addr >> 1))) for addr in range(4)]


def test_gate_constants():
    assert GATE_TABLES.dtype == torch.bool and GATE_TABLES.shape == (16, 4)
    assert len({tuple(row.tolist()) for row in GATE_TABLES}) == 16  # all 16 functions of 2 inputs
    assert [GATE_TABLES[g].tolist() for g in range(16)] == [hand_table(g) for g in range(16)]
    assert [name for name, _ in GATES][:8] == ["false", "a and b", "a and not b", "a", "not a and b", "b",
                                               "a xor b", "a or b"]


@pytest.mark.parametrize("g", range(16))
def test_selected_gate_gives_its_table(g):
    node = DiffLogicNode(num_nodes=3)
    with torch.no_grad():
        node.weight.zero_()
        node.weight[:, g] = 1.0
    assert node.gate_index().tolist() == [g] * 3
    assert node.truth_table().tolist() == [hand_table(g)] * 3
    x = torch.tensor([[[addr & 1, addr >> 1]] * 3 for addr in range(4)], dtype=torch.float32)
    assert node.eval()(x).T.tolist() == [[float(t) for t in hand_table(g)]] * 3


def test_train_forward_matches_relaxed_gates():
    torch.manual_seed(0)
    node = DiffLogicNode(num_nodes=4).double().train()
    x = torch.rand(5, 4, 2, dtype=torch.float64)
    y = node(x).detach()
    probs = torch.softmax(node.weight.detach(), -1).tolist()
    for b in range(5):
        for n in range(4):
            a, bb = x[b, n].tolist()
            expected = sum(p * RELAXED[g](a, bb) for g, p in enumerate(probs[n]))
            assert math.isclose(float(y[b, n]), expected, rel_tol=1e-12, abs_tol=1e-15)


def test_ties_go_to_the_lowest_gate_index():
    node = DiffLogicNode(num_nodes=3)
    with torch.no_grad():
        node.weight.zero_()
        node.weight[1, [6, 3, 12]] = 2.0
        node.weight[2, [15, 9]] = 1.0
    assert node.gate_index().tolist() == [0, 3, 9]
    assert node.truth_table().tolist() == [hand_table(0), hand_table(3), hand_table(9)]


def test_hard_table_is_argmax_gate_and_corner_scores_are_soft_outputs():
    torch.manual_seed(1)
    node = DiffLogicNode(num_nodes=200).double()
    assert torch.equal(node.truth_table(), GATE_TABLES[node.weight.argmax(-1)])
    corners = torch.tensor([[addr & 1, addr >> 1] for addr in range(4)], dtype=torch.float64)
    soft = node.train()(corners.unsqueeze(1).expand(-1, 200, -1)).T
    assert torch.allclose(node.corner_scores(), soft - 0.5)
    # eval follows the argmax gate, not the sign of the soft output, where they disagree
    with torch.no_grad():
        node.weight.zero_()
        node.weight[:, 1] = 1.0  # "a and b" is the argmax, but the mixture's sign is "a or b"
        node.weight[:, 15] = 0.99
        node.weight[:, 7] = 0.99
    assert node.truth_table()[0].tolist() == hand_table(1)
    assert (node.corner_scores()[0] >= 0).tolist() == hand_table(7)


def test_gradcheck_train_forward():
    torch.manual_seed(2)
    node = DiffLogicNode(num_nodes=3).double().train()
    x = torch.rand(4, 3, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck_training_forward(node, x)


@pytest.mark.parametrize("j,gate", [(0, 3), (1, 5)])
def test_residual_init_selects_the_pass_through_gate(j, gate):
    node = DiffLogicNode(num_nodes=2)
    node.residual_init_(j)
    assert node.gate_index().tolist() == [gate, gate]
    p = math.exp(node.residual_logit) / (math.exp(node.residual_logit) + 15)
    x = torch.tensor([[[addr & 1, addr >> 1]] * 2 for addr in range(4)], dtype=torch.float32)
    y = node.train()(x).detach()
    bit = x[..., j]
    assert bool((y[bit == 1] >= p - 1e-6).all()) and bool((y[bit == 0] <= 1 - p + 1e-6).all())
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(2)


def test_only_k_2():
    assert DiffLogicNode.supported_k == (2,)
    with pytest.raises(ValueError, match="supports k"):
        DiffLogicNode(num_nodes=2, k=3)


def test_init_uses_global_rng_and_state_dict():
    torch.manual_seed(3)
    a = DiffLogicNode(num_nodes=5)
    torch.manual_seed(3)
    b = DiffLogicNode(num_nodes=5)
    assert torch.equal(a.weight, b.weight)
    assert len({tuple(row.tolist()) for row in a.weight.detach()}) == 5
    assert set(a.state_dict()) == {"weight"}
