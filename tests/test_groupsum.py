"""GroupSum: contiguous groups, popcount class scores, tau, argmax ties, errors."""

import pytest
import torch

from difflut import GroupSum


def test_shapes_and_contiguous_groups():
    head = GroupSum(4)
    x = torch.eye(12)  # sample i has a single 1 at position i
    scores = head(x)
    assert scores.shape == (12, 4)
    assert torch.equal(scores.argmax(1), torch.arange(12) // 3)
    assert torch.equal(scores.sum(1), torch.ones(12))


def test_sum_matches_hand_computation_and_tau():
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.5, 0.25], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    assert torch.equal(GroupSum(3)(x), torch.tensor([[1.0, 2.0, 0.75], [0.0, 1.0, 2.0]]))
    assert torch.allclose(GroupSum(3, tau=4.0)(x), torch.tensor([[0.25, 0.5, 0.1875], [0.0, 0.25, 0.5]]))
    assert GroupSum(2, tau=3).tau == 3.0


def test_popcount_is_integer_and_consistent_with_forward():
    x = torch.randint(0, 2, (64, 50), generator=torch.Generator().manual_seed(0)).float()
    head = GroupSum(5, tau=2.5)
    counts = head.popcount(x)
    assert counts.dtype == torch.int64 and counts.shape == (64, 5)
    assert torch.equal(counts, x.view(64, 5, 10).sum(-1).long())
    assert torch.allclose(head(x), counts.float() / 2.5)
    assert torch.equal(head(x).argmax(1), counts.argmax(1))


def test_ties_go_to_the_lowest_class_index():
    head = GroupSum(3)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0, 1.0, 1.0], [0.0] * 6])
    counts = head.popcount(x)
    assert counts.tolist() == [[1, 1, 1], [0, 2, 2], [0, 0, 0]]
    assert head(x).argmax(1).tolist() == [0, 1, 0]
    assert counts.argmax(1).tolist() == [0, 1, 0]


def test_gradient_flows_to_every_input():
    x = torch.rand(4, 6, requires_grad=True)
    GroupSum(2, tau=2.0)(x).sum().backward()
    assert torch.equal(x.grad, torch.full((4, 6), 0.5))


def test_errors():
    with pytest.raises(ValueError, match="num_classes"):
        GroupSum(0)
    with pytest.raises(ValueError, match="num_classes"):
        GroupSum(2.0)
    with pytest.raises(ValueError, match="tau"):
        GroupSum(2, tau=0)
    with pytest.raises(ValueError, match="tau"):
        GroupSum(2, tau=-1.0)
    head = GroupSum(3)
    with pytest.raises(ValueError, match="multiple of 3"):
        head(torch.zeros(2, 7))
    with pytest.raises(ValueError, match=r"\(batch, N\)"):
        head(torch.zeros(6))
    with pytest.raises(ValueError, match=r"\(batch, N\)"):
        head(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="binary"):
        head.popcount(torch.full((2, 6), 0.5))
    with pytest.raises(ValueError, match="multiple of 3"):
        head.popcount(torch.zeros(2, 4))
