"""fourier: clamp(bias + sum_S w_S cos(pi sum_{j in S} x_j + phi_S), 0, 1); eval: value >= 0.5."""

import math

import pytest
import torch
from node_checks import gradcheck_training_forward

from difflut.nodes.fourier import FourierNode


def reference_value(node, n, x):
    """Unclamped series of node n at one input vector, plain float64 loops over the 2**k frequencies."""
    k = len(x)
    amplitudes = [abs(a) for a in node.amplitudes[n].tolist()]
    scale = float(node.max_amplitude) / (sum(amplitudes) + 1e-8)
    total = float(node.bias[n])
    for s, (a, phi) in enumerate(zip(amplitudes, node.phases[n].tolist())):
        dot = sum(0.5 * float(x[j]) for j in range(k) if (s >> j) & 1)  # <s / 2, x>
        total += a * scale * math.cos(2 * math.pi * dot + phi)
    return total


@pytest.mark.parametrize("k,max_amplitude", [(1, 0.5), (3, 0.5), (4, 0.9)])
def test_train_forward_matches_reference(k, max_amplitude):
    torch.manual_seed(0)
    node = FourierNode(num_nodes=3, k=k, max_amplitude=max_amplitude).double().train()
    with torch.no_grad():
        node.bias.copy_(torch.tensor([0.5, 0.2, 0.9]))
    x = torch.rand(4, 3, k, dtype=torch.float64)
    y = node(x).detach()
    node = node.requires_grad_(False)
    for b in range(4):
        for n in range(3):
            v = reference_value(node, n, x[b, n].tolist())
            assert math.isclose(float(y[b, n]), min(max(v, 0.0), 1.0), abs_tol=1e-12)


def test_output_bounded_by_amplitude_and_clamped():
    torch.manual_seed(1)
    node = FourierNode(num_nodes=50, k=3, max_amplitude=0.3).train()
    with torch.no_grad():
        node.amplitudes.normal_()  # negative amplitudes too: they enter through |a|
        node.phases.mul_(7.0)
    x = torch.rand(64, 50, 3)
    v = node.value(x).detach()
    assert bool(((v - node.bias.detach()).abs() <= 0.3 + 1e-6).all())
    with torch.no_grad():
        node.bias[:25] = 2.0
        node.bias[25:] = -1.0
    y = node(x).detach()
    assert bool((y[:, :25] == 1).all() and (y[:, 25:] == 0).all())
    node.eval()
    assert bool(node.truth_table()[:25].all()) and not bool(node.truth_table()[25:].any())


def test_truth_table_is_value_at_least_half_at_every_corner():
    torch.manual_seed(2)
    k = 4
    node = FourierNode(num_nodes=6, k=k).double().requires_grad_(False)
    with torch.no_grad():
        node.bias.uniform_(0.3, 0.7)
    table = node.truth_table()
    for n in range(6):
        for a in range(1 << k):
            bits = [(a >> j) & 1 for j in range(k)]
            v = reference_value(node, n, bits)
            assert abs(v - 0.5) > 1e-9  # no ties in this draw
            assert bool(table[n, a]) == (v >= 0.5)
            assert math.isclose(float(node.corner_scores()[n, a]), v - 0.5, abs_tol=1e-12)


def test_known_series_single_frequency():
    # v = 0.5 + 0.5 cos(pi (x0 + x1)): 1, 0, 0, 1 at addresses 0..3 -> table XNOR
    node = FourierNode(num_nodes=1, k=2).double()
    with torch.no_grad():
        node.amplitudes.copy_(torch.tensor([[0.0, 0.0, 0.0, 3.0]]))
        node.phases.zero_()
        node.bias.fill_(0.5)
    assert node.truth_table()[0].tolist() == [True, False, False, True]
    y = node.train()(torch.tensor([[[0.25, 0.25]]], dtype=torch.float64)).detach()
    assert math.isclose(float(y), 0.5 + 0.5 * (1 - 1e-8 / 3) * math.cos(math.pi / 2), abs_tol=1e-12)


def test_max_amplitude_is_state_and_changes_the_table():
    node = FourierNode(num_nodes=1, k=1, max_amplitude=0.25)
    with torch.no_grad():
        node.amplitudes.copy_(torch.tensor([[0.0, 1.0]]))
        node.phases.copy_(torch.tensor([[0.0, math.pi]]))
        node.bias.fill_(0.2)  # v = 0.2 - w cos(pi x0): 0.2 - w, 0.2 + w with w ~= max_amplitude
    assert node.truth_table()[0].tolist() == [False, False]
    other = FourierNode(num_nodes=1, k=1, max_amplitude=0.25)
    state = node.state_dict()
    state["max_amplitude"] = torch.tensor(0.5)
    other.load_state_dict(state)
    assert float(other.max_amplitude) == 0.5
    assert other.truth_table()[0].tolist() == [False, True]


def test_gradcheck_train_forward():
    torch.manual_seed(3)
    node = FourierNode(num_nodes=2, k=3).double().train()
    x = torch.rand(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert bool(((node.value(x) > 0) & (node.value(x) < 1)).all())  # away from the clamp's kinks
    assert gradcheck_training_forward(node, x)


@pytest.mark.parametrize("k", [1, 4, 6])
def test_residual_init_margin(k):
    torch.manual_seed(4)
    node = FourierNode(num_nodes=8, k=k, max_amplitude=0.5)
    node.residual_init_(k - 1)
    scores = node.corner_scores().detach()
    sign = torch.tensor([1.0 if (a >> (k - 1)) & 1 else -1.0 for a in range(1 << k)])
    assert bool((scores * sign >= 0.8 * 0.5).all())
    with pytest.raises(ValueError, match="input_index"):
        node.residual_init_(k)


@pytest.mark.parametrize("bad", [0, -0.5, "1", True])
def test_bad_max_amplitude_rejected(bad):
    with pytest.raises(ValueError, match="max_amplitude"):
        FourierNode(num_nodes=2, k=2, max_amplitude=bad)


def test_init_uses_global_rng_and_matches_reference_ranges():
    torch.manual_seed(5)
    a = FourierNode(num_nodes=4, k=3)
    torch.manual_seed(5)
    b = FourierNode(num_nodes=4, k=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert len({tuple(row.tolist()) for row in a.phases.detach()}) == 4
    assert bool(((a.amplitudes >= 0) & (a.amplitudes <= 0.1)).all())
    assert bool((a.phases.abs() <= math.pi).all()) and bool((a.bias == 0.5).all())


def test_state_dict_and_repr():
    node = FourierNode(num_nodes=3, k=2, max_amplitude=0.25)
    assert set(node.state_dict()) == {"amplitudes", "phases", "bias", "max_amplitude"}
    assert "max_amplitude=0.25" in repr(node)
