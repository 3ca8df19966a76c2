"""Probabilistic node and the multilinear expectation: values, exact gradients, gradcheck."""

import pytest
import torch
from node_checks import naive_multilinear

from difflut.nodes import ProbabilisticNode
from difflut.nodes.lookup import flat_address
from difflut.bits import address
from difflut.nodes.multilinear import multilinear_expectation

F64 = torch.float64


def naive_expectation(x, p):
    """sum_a p[n, a] * prod_j x_j**a_j (1 - x_j)**(1 - a_j), by plain loops over addresses and inputs."""
    return naive_multilinear(x, p)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6, 7])
def test_expectation_matches_naive_reference(k):
    torch.manual_seed(k)
    x = torch.rand(5, 3, k, dtype=F64)
    p = torch.rand(3, 1 << k, dtype=F64)
    torch.testing.assert_close(multilinear_expectation(x, p), naive_expectation(x, p), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_expectation_gradcheck(k):
    torch.manual_seed(k)
    x = torch.rand(4, 3, k, dtype=F64, requires_grad=True)
    p = torch.rand(3, 1 << k, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(multilinear_expectation, (x, p))


@pytest.mark.parametrize("k", [3, 6])
def test_expectation_gradients_match_autograd_of_naive_reference(k):
    torch.manual_seed(k)
    x = torch.rand(6, 4, k, dtype=F64, requires_grad=True)
    p = torch.rand(4, 1 << k, dtype=F64, requires_grad=True)
    g = torch.randn(6, 4, dtype=F64)
    got = torch.autograd.grad((multilinear_expectation(x, p) * g).sum(), (x, p))
    want = torch.autograd.grad((naive_expectation(x, p) * g).sum(), (x, p))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_expectation_on_binary_inputs_is_a_lookup():
    torch.manual_seed(0)
    x = torch.randint(0, 2, (32, 5, 4)).to(F64)
    p = torch.rand(5, 16, dtype=F64)
    expected = p[torch.arange(5), address(x)]
    assert torch.equal(multilinear_expectation(x, p), expected)


def test_expectation_mixed_dtypes_and_partial_grads():
    torch.manual_seed(1)
    x = torch.rand(4, 3, 3, dtype=F64)
    p = torch.rand(3, 8, requires_grad=True)
    y = multilinear_expectation(x, p)
    assert y.dtype == F64
    y.sum().backward()
    assert p.grad.dtype == torch.float32 and x.grad is None
    with pytest.raises(ValueError, match=r"p \(N, 2\*\*k\)"):
        multilinear_expectation(x, torch.rand(3, 4))


@pytest.mark.parametrize("num_nodes,k", [(5, 3), (1 << 15, 10)])
def test_flat_address_both_index_paths(num_nodes, k):
    """flat_address uses float32 offsets while N * 2**k <= 2**24 and int64 beyond."""
    torch.manual_seed(2)
    x = torch.rand(2, num_nodes, k)
    x[0, 0] = 0.5  # the threshold itself reads as 1
    expected = torch.arange(num_nodes) * (1 << k) + address((x >= 0.5).float())
    assert torch.equal(flat_address(x), expected)


def test_node_train_forward_and_gradients_match_reference():
    torch.manual_seed(3)
    node = ProbabilisticNode(4, 3).double().train()
    x = torch.rand(9, 4, 3, dtype=F64, requires_grad=True)
    g = torch.randn(9, 4, dtype=F64)
    y = node(x)
    ref_logits = node.logits.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    ref = naive_expectation(x_ref, torch.sigmoid(ref_logits))
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    (y * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(node.logits.grad, ref_logits.grad, rtol=1e-12, atol=1e-12)


def test_node_gradcheck_through_sigmoid():
    torch.manual_seed(4)
    node = ProbabilisticNode(3, 2).double().train()
    x = torch.rand(5, 3, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(node, (x,))


def test_node_training_on_binary_inputs_is_sigmoid_of_the_read_logit_and_agrees_with_eval():
    torch.manual_seed(5)
    node = ProbabilisticNode(6, 4).train()
    x = torch.randint(0, 2, (40, 6, 4)).float()
    read = node.logits.detach()[torch.arange(6), address(x)]
    y = node(x)
    torch.testing.assert_close(y, torch.sigmoid(read))
    assert torch.equal(node.eval()(x).bool(), read >= 0)


def test_node_init_and_residual_margin():
    torch.manual_seed(6)
    node = ProbabilisticNode(200, 3)
    assert 0.8 < float(node.logits.detach().std()) < 1.2
    assert len({tuple(r.tolist()) for r in node.truth_table()}) > 100
    node.residual_init_(0, margin=4.0)
    x = torch.rand(10, 200, 3)
    expected = torch.sigmoid(torch.tensor(4.0)) * x[..., 0] + torch.sigmoid(torch.tensor(-4.0)) * (1 - x[..., 0])
    torch.testing.assert_close(node.train()(x), expected)
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(-1)
    assert list(node.state_dict()) == ["logits"]
