"""The BaseNode contract, checked for every registered node type.

Node-specific behaviour (each paper's forward and gradient, gradcheck of custom
autograd functions) is tested in tests/test_node_<name>.py.
"""

import pytest
import torch

from difflut.bits import address, corners
from difflut.registry import get_node, list_nodes

NODE_NAMES = list_nodes()


def ks_for(name):
    supported = get_node(name).supported_k
    return list(supported) if supported is not None else [2, 4, 6]


CASES = [(name, k) for name in NODE_NAMES for k in ks_for(name)]


def make(name, k, num_nodes=5, seed=0):
    torch.manual_seed(seed)
    return get_node(name)(num_nodes=num_nodes, k=k)


def exhaustive(k, num_nodes, dtype=torch.float32):
    """(2**k, num_nodes, k): every node sees every address, row a = address a."""
    return corners(k, dtype).unsqueeze(1).expand(-1, num_nodes, -1).contiguous()


def test_registry_has_the_issue_node_types():
    expected = {"linear_lut", "polylut", "neurallut", "dwn", "dwn_stable", "probabilistic",
                "difflogic", "fourier", "hybrid", "warp"}
    assert expected <= set(NODE_NAMES)


@pytest.mark.parametrize("name,k", CASES)
def test_train_forward_shape_range_and_finite_gradients(name, k):
    node = make(name, k).train()
    x = torch.rand(8, node.num_nodes, k, requires_grad=True)
    y = node(x)
    assert y.shape == (8, node.num_nodes)
    assert torch.isfinite(y).all()
    assert float(y.detach().min()) >= 0.0 and float(y.detach().max()) <= 1.0
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    grads = [p.grad for p in node.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads), "no parameter receives gradient"


@pytest.mark.parametrize("name,k", CASES)
def test_eval_is_truth_table_lookup_on_every_address(name, k):
    node = make(name, k, num_nodes=6).eval()
    table = node.truth_table()
    assert table.dtype == torch.bool and table.shape == (6, 1 << k)
    out = node(exhaustive(k, 6))  # (2**k, 6): out[a, n] is node n at address a
    assert out.dtype == torch.float32
    assert torch.equal(out.bool(), table.T)
    # shuffled batch: a lookup per sample, not per batch position
    x = torch.randint(0, 2, (64, 6, k)).float()
    expected = table[torch.arange(6), address(x)]
    assert torch.equal(node(x).bool(), expected)
    # float64 inputs give the same bits
    assert torch.equal(node(x.double()).bool(), expected)


@pytest.mark.parametrize("name,k", CASES)
def test_truth_table_does_not_depend_on_parameter_dtype(name, k):
    node = make(name, k, num_nodes=6, seed=3)
    live = node.hard_table()  # float32 parameters, current device
    assert torch.equal(live, node.truth_table())


@pytest.mark.parametrize("name,k", CASES)
def test_truth_table_follows_parameter_updates(name, k):
    node = make(name, k, num_nodes=6, seed=1).train()
    before = node.truth_table().clone()
    opt = torch.optim.SGD(node.parameters(), lr=50.0)
    x = torch.rand(32, 6, k)
    for _ in range(3):
        opt.zero_grad()
        (node(x) * torch.randn(32, 6)).sum().backward()
        opt.step()
    node.eval()
    after = node.truth_table()
    assert torch.equal(after, node.hard_table())
    assert not torch.equal(before, after), "a large SGD step left every truth table unchanged"


@pytest.mark.parametrize("name,k", CASES)
def test_state_dict_round_trip_reproduces_eval_exactly(name, k):
    a = make(name, k, seed=4)
    b = make(name, k, seed=5)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randint(0, 2, (128, 5, k)).float()
    assert torch.equal(a(x), b(x))
    assert torch.equal(a.truth_table(), b.truth_table())


@pytest.mark.parametrize("name,k", CASES)
def test_state_dict_keys_same_in_train_and_eval(name, k):
    node = make(name, k)
    train_keys = list(node.train().state_dict())
    eval_keys = list(node.eval().state_dict())
    assert train_keys == eval_keys


@pytest.mark.parametrize("name,k", CASES)
def test_residual_init_is_pass_through(name, k):
    for j in sorted({0, k - 1}):
        node = make(name, k, seed=7)
        node.residual_init_(input_index=j)
        a = torch.arange(1 << k)
        expected = ((a >> j) & 1).bool().expand(node.num_nodes, -1)
        assert torch.equal(node.truth_table(), expected)
        # the training forward passes the input through too (on hard inputs)
        node.train()
        x = torch.randint(0, 2, (16, node.num_nodes, k)).float()
        y = node(x)
        assert torch.equal((y >= 0.5).float(), x[..., j])


@pytest.mark.parametrize("name,k", CASES)
def test_corner_scores_differentiable(name, k):
    node = make(name, k)
    scores = node.corner_scores()
    assert scores.shape == (node.num_nodes, 1 << k)
    scores.square().sum().backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in node.parameters())


@pytest.mark.parametrize("name,k", CASES)
def test_bad_inputs_raise_clear_errors(name, k):
    node = make(name, k)
    with pytest.raises(ValueError, match=r"shape \(batch, 5, %d\)" % k):
        node(torch.rand(4, 5, k + 1))
    with pytest.raises(ValueError, match="shape"):
        node(torch.rand(4, 5 * k))
    with pytest.raises(TypeError, match="floating-point"):
        node(torch.ones(4, 5, k, dtype=torch.int64))
    node.eval()
    x = torch.randint(0, 2, (4, 5, k)).float()
    x[1, 2, 0] = 0.5
    with pytest.raises(ValueError, match="binary"):
        node(x)
    x[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="binary"):
        node(x)


def test_unsupported_k_is_rejected():
    for name in NODE_NAMES:
        cls = get_node(name)
        if cls.supported_k is not None:
            bad = max(cls.supported_k) + 1
            with pytest.raises(ValueError, match="supports k"):
                cls(num_nodes=2, k=bad)
        with pytest.raises(ValueError, match="k must be"):
            cls(num_nodes=2, k=0)
        with pytest.raises(ValueError, match="num_nodes"):
            cls(num_nodes=0, k=2)
