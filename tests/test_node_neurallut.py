"""neurallut: a residual MLP per node; sigmoid in training, the table of MLP >= 0 in eval."""

import math

import pytest
import torch
from node_checks import assert_truth_table_follows, gradcheck_training_forward

from difflut.nodes.neurallut import NeuraLUTNode

CONFIGS = [  # (k, hidden_width, depth, skip_interval)
    (3, 5, 4, 2),
    (2, 3, 1, 0),
    (3, 4, 3, 1),
    (4, 3, 5, 2),
    (2, 6, 3, 0),
]


def reference_score(node, n, x):
    """Node n's MLP on one input vector, written out per the documented rule (float64, no batching)."""
    h = torch.as_tensor(x, dtype=torch.float64)
    history = [h]
    skips = iter(node.skip_weights)
    s = node.skip_interval
    for layer in range(1, node.depth + 1):
        z = node.weights[layer - 1][n].detach() @ h + node.biases[layer - 1][n].detach()
        if s and layer % s == 0:
            z = z + next(skips)[n].detach() @ history[layer - s]
        h = torch.relu(z) if layer < node.depth else z
        history.append(h)
    return float(h[0])


@pytest.mark.parametrize("k,width,depth,skip", CONFIGS)
def test_parameter_shapes(k, width, depth, skip):
    node = NeuraLUTNode(num_nodes=2, k=k, hidden_width=width, depth=depth, skip_interval=skip)
    dims = [k] + [width] * (depth - 1) + [1]
    assert [tuple(w.shape) for w in node.weights] == [(2, dims[i + 1], dims[i]) for i in range(depth)]
    assert [tuple(b.shape) for b in node.biases] == [(2, dims[i + 1]) for i in range(depth)]
    skip_layers = [layer for layer in range(1, depth + 1) if skip and layer % skip == 0]
    assert [tuple(w.shape) for w in node.skip_weights] == [(2, dims[l], dims[l - skip]) for l in skip_layers]


def test_default_is_the_reference_architecture():
    node = NeuraLUTNode(num_nodes=1, k=6)
    assert (node.hidden_width, node.depth, node.skip_interval) == (8, 4, 2)
    assert [tuple(w.shape[1:]) for w in node.skip_weights] == [(8, 6), (1, 8)]


@pytest.mark.parametrize("k,width,depth,skip", CONFIGS)
def test_train_forward_matches_reference(k, width, depth, skip):
    torch.manual_seed(0)
    node = NeuraLUTNode(num_nodes=3, k=k, hidden_width=width, depth=depth, skip_interval=skip)
    node = node.double().train()
    x = torch.rand(4, 3, k, dtype=torch.float64)
    y = node(x).detach()
    for b in range(4):
        for n in range(3):
            s = reference_score(node, n, x[b, n])
            assert math.isclose(float(y[b, n]), 1.0 / (1.0 + math.exp(-s)), rel_tol=1e-12)


@pytest.mark.parametrize("k,width,depth,skip", CONFIGS)
def test_truth_table_matches_threshold_rule(k, width, depth, skip):
    torch.manual_seed(1)
    node = NeuraLUTNode(num_nodes=4, k=k, hidden_width=width, depth=depth, skip_interval=skip).double()
    assert_truth_table_follows(node, lambda n, bits: reference_score(node, n, bits))


def test_gradcheck_train_forward():
    torch.manual_seed(2)
    node = NeuraLUTNode(num_nodes=2, k=3, hidden_width=3, depth=4, skip_interval=2).double().train()
    x = torch.rand(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck_training_forward(node, x)


@pytest.mark.parametrize("k,width,depth,skip", CONFIGS)
def test_residual_init_passes_through_and_keeps_training(k, width, depth, skip):
    torch.manual_seed(3)
    node = NeuraLUTNode(num_nodes=3, k=k, hidden_width=width, depth=depth, skip_interval=skip)
    j = k - 1
    node.residual_init_(j)
    m = node.residual_margin
    expected = torch.tensor([m if (a >> j) & 1 else -m for a in range(1 << k)])
    assert torch.allclose(node.corner_scores().detach(), expected.expand(3, -1))
    # soft inputs: the score is margin * (2 x_j - 1) exactly
    x = torch.rand(5, 3, k)
    assert torch.allclose(node.score(x).detach(), m * (2 * x[..., j] - 1), atol=1e-6)
    # the output weights on the other hidden units receive gradient: they are not dead
    node.train()
    (node(x) * torch.randn(5, 3)).sum().backward()
    if depth > 1:
        assert float(node.weights[-1].grad[:, 0, 1:].abs().sum()) > 0


@pytest.mark.parametrize(
    "kwargs",
    [{"hidden_width": 0}, {"depth": 0}, {"skip_interval": -1}, {"depth": 2.0}, {"hidden_width": True}],
)
def test_bad_arguments_rejected(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        NeuraLUTNode(num_nodes=2, k=3, **kwargs)


def test_init_uses_global_rng_and_nodes_differ():
    torch.manual_seed(4)
    a = NeuraLUTNode(num_nodes=4, k=6)
    torch.manual_seed(4)
    b = NeuraLUTNode(num_nodes=4, k=6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    first = a.weights[0].detach()
    assert len({tuple(first[n].flatten().tolist()) for n in range(4)}) == 4
    assert bool((first.abs() <= 1 / math.sqrt(6)).all())


def test_state_dict_and_repr():
    node = NeuraLUTNode(num_nodes=3, k=2, hidden_width=4, depth=2, skip_interval=2)
    assert set(node.state_dict()) == {"weights.0", "weights.1", "biases.0", "biases.1", "skip_weights.0"}
    assert "hidden_width=4, depth=2, skip_interval=2" in repr(node)
