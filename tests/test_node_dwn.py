"""DWN and DWN-stable nodes: forward values, the EFD backward, gradcheck, the stable scale property."""

import math

import pytest
import torch

from difflut.nodes import DWNNode, DWNStableNode
from difflut.nodes.efd import efd_input_factors, efd_lookup

F64 = torch.float64


def naive_address(bits_row):
    return sum(int(v >= 0.5) << j for j, v in enumerate(bits_row.tolist()))


def naive_lookup(x, table):
    """y[b, n] = table[n, address(x[b, n] >= 0.5)], by plain loops."""
    B, N, _ = x.shape
    y = torch.empty(B, N, dtype=F64)
    for b in range(B):
        for n in range(N):
            y[b, n] = table[n, naive_address(x[b, n])]
    return y


def naive_efd_weight(k, d, weighting):
    if weighting == "paper":
        return 1.0 / (d + 1)
    return 0.5 * 0.75 ** (k - 1) * (1.0 / 3.0) ** d


def naive_efd_input_grad(x, table, grad, weighting="paper"):
    """The paper's EFD: dT[u]/dx_j = sum_c (-1)**(1 - c_j) w(H_j(c, u)) T[c], times the upstream grad."""
    B, N, k = x.shape
    out = torch.zeros(B, N, k, dtype=F64)
    for b in range(B):
        for n in range(N):
            u = naive_address(x[b, n])
            for j in range(k):
                total = 0.0
                for c in range(1 << k):
                    d = bin((c ^ u) & ~(1 << j)).count("1")
                    sign = 1.0 if (c >> j) & 1 else -1.0
                    total += sign * naive_efd_weight(k, d, weighting) * float(table[n, c])
                out[b, n, j] = total * float(grad[b, n])
    return out


def soft_inputs(B, N, k, seed=0):
    """Soft inputs kept away from the 0.5 threshold (finite differences must not cross it)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, N, k, generator=g, dtype=F64)
    return torch.where((x - 0.5).abs() < 0.05, x + 0.1, x)


# -- EFD core ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighting", ["paper", "released"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_efd_input_gradient_matches_naive_formula(k, weighting):
    torch.manual_seed(k)
    x = soft_inputs(6, 3, k).requires_grad_()
    table = torch.randn(3, 1 << k, dtype=F64)
    grad = torch.randn(6, 3, dtype=F64)
    efd_lookup(x, table, weighting=weighting).backward(grad)
    expected = naive_efd_input_grad(x.detach(), table, grad, weighting)
    torch.testing.assert_close(x.grad, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("hard", [False, True])
def test_efd_forward_matches_naive_lookup(hard):
    torch.manual_seed(0)
    x = torch.rand(9, 4, 3, dtype=F64)
    table = torch.randn(4, 8, dtype=F64)
    expected = naive_lookup(x, table)
    if hard:
        expected = (expected >= 0).to(F64)
    assert torch.equal(efd_lookup(x, table, hard=hard), expected)


@pytest.mark.parametrize("k", [1, 3, 4])
def test_efd_gradcheck_table(k):
    """The value lookup is exactly linear in the table: gradcheck in float64."""
    torch.manual_seed(k)
    x = soft_inputs(5, 3, k)
    table = torch.randn(3, 1 << k, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: efd_lookup(x, t), (table,))
    # grad_scale multiplies the backward only: the gradient is exactly grad_scale times the true one
    (scaled,) = torch.autograd.grad(efd_lookup(x, table, grad_scale=2.5).sum(), table)
    (plain,) = torch.autograd.grad(efd_lookup(x, table).sum(), table)
    assert torch.equal(scaled, 2.5 * plain)


def test_efd_table_gradient_is_scatter_of_upstream_at_read_entries():
    torch.manual_seed(1)
    x = torch.rand(32, 4, 3, dtype=F64)
    table = torch.randn(4, 8, dtype=F64, requires_grad=True)
    grad = torch.randn(32, 4, dtype=F64)
    efd_lookup(x, table, hard=True).backward(grad)
    expected = torch.zeros(4, 8, dtype=F64)
    for b in range(32):
        for n in range(4):
            expected[n, naive_address(x[b, n])] += grad[b, n]
    torch.testing.assert_close(table.grad, expected, rtol=1e-12, atol=1e-12)


def test_efd_factors_of_pass_through_table():
    """Table +-1 on bit j: the released weights give exactly 1, the paper's 2 * (2**k - 1) / k."""
    k = 4
    a = torch.arange(1 << k)
    for j in range(k):
        table = (2.0 * ((a >> j) & 1) - 1).to(F64).unsqueeze(0)
        for weighting, value in (("released", 1.0), ("paper", 2 * (2**k - 1) / k)):
            factors = efd_input_factors(table, weighting)
            others = [i for i in range(k) if i != j]
            torch.testing.assert_close(factors[..., j], torch.full((1, 1 << k), value, dtype=F64))
            assert torch.equal(factors[..., others], torch.zeros(1, 1 << k, k - 1, dtype=F64))


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("weighting", ["paper", "released"])
def test_efd_factors_are_the_definition(k, weighting):
    """efd_input_factors (gathers and one product) against its definition summed entry by entry; a
    changed table entry is caught."""
    from difflut.nodes.efd import efd_distance_weights

    table = torch.randn(3, 1 << k, dtype=F64, generator=torch.Generator().manual_seed(k))
    w = efd_distance_weights(k, weighting)
    expected = torch.zeros(3, 1 << k, k, dtype=F64)
    for u in range(1 << k):
        for j in range(k):
            for c in range(1 << k):
                if not c >> j & 1:
                    d = bin((c ^ u) & ~(1 << j)).count("1")
                    expected[:, u, j] += w[d] * (table[:, c | 1 << j] - table[:, c])
    torch.testing.assert_close(efd_input_factors(table, weighting), expected, rtol=1e-12, atol=1e-12)
    table[1, 0] += 0.5
    assert not torch.allclose(efd_input_factors(table, weighting), expected, rtol=1e-6, atol=1e-6)


def test_efd_rejects_bad_arguments():
    x = torch.rand(2, 3, 2)
    with pytest.raises(ValueError, match="weighting"):
        efd_lookup(x, torch.zeros(3, 4), weighting="nope")
    with pytest.raises(ValueError, match=r"table \(N, 2\*\*k\)"):
        efd_lookup(x, torch.zeros(3, 8))


# -- dwn --------------------------------------------------------------------------------


def test_dwn_train_forward_is_the_hard_bit_and_equals_eval_on_binary_inputs():
    torch.manual_seed(0)
    node = DWNNode(5, 4).train()
    x = torch.rand(20, 5, 4)
    table = node.table.detach().to(F64)
    assert torch.equal(node(x).to(F64), (naive_lookup(x.to(F64), table) >= 0).to(F64))
    xb = torch.randint(0, 2, (20, 5, 4)).float()
    train_out = node(xb)
    assert torch.equal(train_out, node.eval()(xb))


@pytest.mark.parametrize("efd", ["paper", "released"])
def test_dwn_gradients_match_reference(efd):
    torch.manual_seed(2)
    node = DWNNode(3, 3, efd=efd).double().train()
    x = soft_inputs(7, 3, 3).requires_grad_()
    grad = torch.randn(7, 3, dtype=F64)
    node(x).backward(grad)
    table = node.table.detach()
    torch.testing.assert_close(x.grad, naive_efd_input_grad(x.detach(), table, grad, efd), rtol=1e-12, atol=1e-12)
    expected = torch.zeros_like(table)
    for b in range(7):
        for n in range(3):
            expected[n, naive_address(x[b, n])] += grad[b, n]
    torch.testing.assert_close(node.table.grad, expected)


def test_dwn_clamp_keeps_table_in_range_and_truth_table_unchanged():
    torch.manual_seed(3)
    node = DWNNode(4, 3)
    with torch.no_grad():
        node.table.mul_(5.0)
    before = node.truth_table().clone()
    node.train()(torch.rand(2, 4, 3))
    assert float(node.table.detach().abs().max()) <= 1.0
    assert torch.equal(node.truth_table(), before)

    unclamped = DWNNode(4, 3, clamp=False)
    with torch.no_grad():
        unclamped.table.fill_(3.0)
    unclamped.train()(torch.rand(2, 4, 3))
    assert torch.equal(unclamped.table, torch.full((4, 8), 3.0))


def test_dwn_two_forwards_before_backward_after_an_update():
    """The in-place clamp happens only when needed, so a second call does not break the first's backward."""
    torch.manual_seed(4)
    node = DWNNode(4, 3).train()
    with torch.no_grad():
        node.table.mul_(4.0)
    x = torch.rand(8, 4, 3, requires_grad=True)
    (node(x).sum() + node(x).sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_dwn_init_is_random_uniform_and_seeded():
    torch.manual_seed(5)
    a = DWNNode(50, 4)
    torch.manual_seed(5)
    b = DWNNode(50, 4)
    assert torch.equal(a.table, b.table)
    assert float(a.table.detach().min()) >= -1.0 and float(a.table.detach().max()) <= 1.0
    assert len({tuple(row.tolist()) for row in a.truth_table()}) > 40


def test_dwn_residual_init_margin_and_errors():
    node = DWNNode(3, 3)
    node.residual_init_(1, margin=0.5)
    a = torch.arange(8)
    assert torch.equal(node.table, (((a >> 1) & 1) - 0.5).float().expand(3, -1))
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(3)
    with pytest.raises(ValueError, match="margin"):
        node.residual_init_(0, margin=0.0)


def test_dwn_constructor_errors_and_repr():
    with pytest.raises(ValueError, match="efd"):
        DWNNode(2, 2, efd="bogus")
    with pytest.raises(TypeError, match="clamp"):
        DWNNode(2, 2, clamp=1)
    assert DWNNode(2, 2).efd == "released"  # the authors' kernel, the measured better weighting
    assert "efd='paper'" in repr(DWNNode(2, 2, efd="paper"))
    assert list(DWNNode(2, 2).state_dict()) == ["table"]


# -- dwn_stable -------------------------------------------------------------------------


def test_dwn_stable_forward_and_gradients_match_reference():
    torch.manual_seed(6)
    s = 1.25
    node = DWNStableNode(3, 3, gradient_scale=s).double().train()
    x = soft_inputs(7, 3, 3).requires_grad_()
    grad = torch.randn(7, 3, dtype=F64)
    y = node(x)
    probs = torch.sigmoid(node.logits.detach())
    assert torch.equal(y, naive_lookup(x.detach(), probs))
    y.backward(grad)
    torch.testing.assert_close(x.grad, s * naive_efd_input_grad(x.detach(), probs, grad, "paper"))
    expected = torch.zeros_like(probs)
    for b in range(7):
        for n in range(3):
            u = naive_address(x[b, n])
            expected[n, u] += s * grad[b, n] * probs[n, u] * (1 - probs[n, u])
    torch.testing.assert_close(node.logits.grad, expected)


def test_dwn_stable_gradient_scale_scales_gradients_not_outputs():
    torch.manual_seed(7)
    x = soft_inputs(16, 4, 3)
    outs = []
    for s in (1.0, 2.0):
        torch.manual_seed(8)
        node = DWNStableNode(4, 3, gradient_scale=s).double().train()
        xi = x.clone().requires_grad_()
        y = node(xi)
        y.sum().backward()
        outs.append((y.detach(), xi.grad, node.logits.grad))
    assert torch.equal(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[1][1], 2 * outs[0][1])
    torch.testing.assert_close(outs[1][2], 2 * outs[0][2])


@pytest.mark.parametrize("k", [2, 4, 6])
def test_dwn_stable_scale_property(k):
    """|dy/dx_j| < s (2**k - 1) / k and |dy/dlogits| <= s / 4 for any table; tight for a pass-through."""
    torch.manual_seed(k)
    s = 1.25
    bound = s * (2**k - 1) / k
    node = DWNStableNode(64, k, gradient_scale=s).double().train()
    with torch.no_grad():
        node.logits.mul_(100.0)  # saturated: corner values are ~0 or ~1
    x = soft_inputs(32, 64, k, seed=k).requires_grad_()
    node(x).sum().backward()
    assert float(x.grad.abs().max()) < bound

    with torch.no_grad():
        node.logits.zero_()  # sigmoid' is largest at 0: the entry read gets exactly s / 4
    node.zero_grad()
    node(x[:1].detach()).sum().backward()
    assert float(node.logits.grad.abs().max()) == s / 4

    node.residual_init_(k - 1, margin=30.0)
    x = soft_inputs(32, 64, k, seed=k + 1).requires_grad_()
    node.zero_grad()
    node(x).sum().backward()
    torch.testing.assert_close(x.grad[..., k - 1], torch.full((32, 64), bound, dtype=F64))
    assert float(x.grad[..., : k - 1].abs().max()) < 1e-9


def test_dwn_stable_eval_decision_and_errors():
    torch.manual_seed(9)
    node = DWNStableNode(4, 3)
    assert torch.equal(node.truth_table(), node.logits.detach() >= 0)
    assert list(node.state_dict()) == ["logits"]
    assert "gradient_scale=1.25" in repr(node)
    for bad in (0.0, -1.0, float("inf"), True, "2"):
        with pytest.raises(ValueError, match="gradient_scale"):
            DWNStableNode(2, 2, gradient_scale=bad)


def test_residual_margins_give_pass_through_in_training():
    for cls in (DWNNode, DWNStableNode):
        node = cls(4, 3)
        node.residual_init_(2)
        x = torch.randint(0, 2, (16, 4, 3)).float()
        y = node.train()(x)
        assert torch.equal(y >= 0.5, x[..., 2].bool())
        assert math.isfinite(float(y.detach().sum()))
