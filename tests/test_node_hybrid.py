"""Hybrid node: hard lookup forward, the probabilistic expectation's gradient backward."""

import pytest
import torch
from node_checks import naive_multilinear

from difflut.bits import address
from difflut.nodes import HybridNode, ProbabilisticNode
from difflut.nodes.hybrid import HybridLookup

F64 = torch.float64


def naive_hard_lookup(x, logits):
    B, N, k = x.shape
    y = torch.empty(B, N, dtype=F64)
    for b in range(B):
        for n in range(N):
            u = sum(int(x[b, n, j] >= 0.5) << j for j in range(k))
            y[b, n] = float(logits[n, u] >= 0)
    return y


def naive_expectation(x, logits):
    """sum_a sigmoid(logits[n, a]) * prod_j x_j**a_j (1 - x_j)**(1 - a_j), by plain loops."""
    return naive_multilinear(x, torch.sigmoid(logits))


@pytest.mark.parametrize("k", [1, 3, 6])
def test_forward_is_the_hard_lookup(k):
    torch.manual_seed(k)
    node = HybridNode(4, k).train()
    x = torch.rand(12, 4, k)
    x[0, 0] = 0.5
    assert torch.equal(node(x).to(F64), naive_hard_lookup(x, node.logits.detach()))


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_backward_is_the_expectation_gradient_at_the_actual_inputs(k):
    torch.manual_seed(k)
    logits = torch.randn(3, 1 << k, dtype=F64, requires_grad=True)
    x = torch.rand(7, 3, k, dtype=F64, requires_grad=True)
    g = torch.randn(7, 3, dtype=F64)
    (HybridLookup.apply(x, logits) * g).sum().backward()
    ref_logits = logits.detach().clone().requires_grad_()
    ref_x = x.detach().clone().requires_grad_()
    (naive_expectation(ref_x, ref_logits) * g).sum().backward()
    torch.testing.assert_close(x.grad, ref_x.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-12, atol=1e-12)


def test_gradients_equal_the_probabilistic_nodes_with_the_same_logits():
    torch.manual_seed(7)
    hybrid = HybridNode(5, 4).train()
    prob = ProbabilisticNode(5, 4).train()
    prob.load_state_dict(hybrid.state_dict())
    x = torch.rand(16, 5, 4)
    grads = []
    for node in (hybrid, prob):
        xi = x.clone().requires_grad_()
        node(xi).sum().backward()
        grads.append((xi.grad, node.logits.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_only_the_needed_gradients():
    torch.manual_seed(8)
    node = HybridNode(3, 3).train()
    x = torch.rand(4, 3, 3)
    node(x).sum().backward()
    assert node.logits.grad is not None and x.grad is None
    node.logits.requires_grad_(False)
    xg = x.clone().requires_grad_()
    node(xg).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_train_equals_eval_on_binary_inputs_and_decision_is_logits_sign():
    torch.manual_seed(9)
    node = HybridNode(6, 5)
    x = torch.randint(0, 2, (50, 6, 5)).float()
    train_out = node.train()(x)
    assert torch.equal(train_out, node.eval()(x))
    assert torch.equal(node.truth_table(), node.logits.detach() >= 0)
    assert torch.equal(train_out.bool(), node.truth_table()[torch.arange(6), address(x)])


def test_init_residual_and_state():
    torch.manual_seed(10)
    node = HybridNode(100, 3)
    assert 0.05 < float(node.logits.detach().std()) < 0.15
    assert list(node.state_dict()) == ["logits"]
    node.residual_init_(2, margin=2.0)
    a = torch.arange(8)
    assert torch.equal(node.logits, (2.0 * (2 * ((a >> 2) & 1) - 1)).float().expand(100, -1))
    with pytest.raises(ValueError, match="margin"):
        node.residual_init_(0, margin=float("nan"))
