"""The wired lookup of a random layer (difflut.nodes.efd: prepare_wiring, wired_efd_lookup).

A random layer in training reads its input through its wiring with ``node.wired_train_forward``;
on the CPU (and for every node type) that is the gather the eval path uses, so training values and
gradients are those of ``node(x[:, wiring])``. The CUDA kernels are checked in test_cuda_kernels.py.
"""

import pytest
import torch

from difflut.layers.random_layer import RandomLayer
from difflut.nodes.wiring import prepare_wiring


def test_prepared_wiring_holds_the_index_and_its_int32_transpose():
    index = torch.randint(0, 20, (12, 5), generator=torch.Generator().manual_seed(0))
    wiring = prepare_wiring(index)
    assert wiring.index is index
    assert wiring.columns.dtype == torch.int32 and wiring.columns.is_contiguous()
    assert torch.equal(wiring.columns.long(), index.t())
    assert wiring.min_inputs == int(index.max()) + 1 and wiring.k == 5
    with pytest.raises(ValueError, match="int64 tensor of input indices"):
        prepare_wiring(index.int())
    with pytest.raises(ValueError, match="int64 tensor of input indices"):
        prepare_wiring(index - 1)


def test_wired_lookup_refuses_an_input_narrower_than_the_wiring():
    from difflut.nodes.efd import wired_efd_lookup

    wiring = prepare_wiring(torch.tensor([[0, 7], [3, 1]]))
    with pytest.raises(ValueError, match=r"x \(batch, >= 8\)"):
        wired_efd_lookup(torch.rand(4, 7), wiring, torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"table \(2, 4\)"):
        wired_efd_lookup(torch.rand(4, 8), wiring, torch.rand(2, 8))
    assert wired_efd_lookup(torch.rand(4, 8), wiring, torch.rand(2, 4)).shape == (4, 2)


@pytest.mark.parametrize("node_type", ["dwn", "dwn_stable", "linear_lut", "probabilistic"])
def test_random_layer_training_forward_and_gradients_are_those_of_the_gathered_nodes(node_type):
    layer = RandomLayer(30, 20, node_type=node_type, k=4, seed=3).train()
    gen = torch.Generator().manual_seed(1)
    x0 = torch.rand(7, 30, generator=gen)
    g = torch.randn(7, 20, generator=gen)
    x = x0.clone().requires_grad_(True)
    out = layer(x)
    out.backward(g)
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    xr = x0.clone().requires_grad_(True)
    ref = layer.node(xr.index_select(1, layer.wiring.view(-1)).view(7, 20, 4))
    ref.backward(g)
    assert torch.equal(out, ref)
    torch.testing.assert_close(x.grad, xr.grad, rtol=0, atol=1e-6)
    for a, p in zip(grads, layer.parameters()):
        assert torch.equal(a, p.grad)


def test_prepared_wiring_is_cached_and_follows_a_changed_wiring_buffer():
    layer = RandomLayer(12, 5, k=3, seed=0)
    first = layer.prepared_wiring()
    assert layer.prepared_wiring() is first
    with torch.no_grad():
        layer.wiring[0, 0] = (layer.wiring[0, 0] + 1) % 12  # edited in place: the cache must notice
    second = layer.prepared_wiring()
    assert second is not first and torch.equal(second.index, layer.wiring)
    assert second.columns[0, 0] == layer.wiring[0, 0]
