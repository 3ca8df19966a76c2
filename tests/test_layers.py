"""LUT layers: shapes, the eval (hardware) function, reproducibility, wiring, errors.

Parametrised over every registered layer (each must have a LayerCase in tests/layer_cases.py)
and every registered node type plus the unregistered TableNode.
Training features (flips, gradient stabilisation, regularisers) are in
tests/test_training_features.py; both take their fixtures from tests/layer_cases.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from difflut.errors import InputError
from difflut.layers import ConvolutionalLayer, LearnableLayer, RandomLayer, random_wiring
from difflut.registry import get_layer, list_layers

from layer_cases import (
    LAYER_CASES,
    NODE_TYPES,
    TableNode,
    binary,
    flat_reference,
    k_for,
    node_id,
    run_unrolled,
)

CASES = [(layer, node) for layer in sorted(LAYER_CASES) for node in NODE_TYPES]
CASE_IDS = [f"{layer}-{node_id(node)}" for layer, node in CASES]


def make_case(layer_name, node_type, seed=0, **kw):
    case = LAYER_CASES[layer_name]
    return case, case.make(node_type, k_for(node_type), seed=seed, **kw)


# -- registry ---------------------------------------------------------------

def test_every_registered_layer_has_a_test_case():
    registered = set(list_layers())
    assert {"random", "learnable", "convolutional"} <= registered
    missing = registered - set(LAYER_CASES)
    assert not missing, f"registered layers without a LayerCase in tests/layer_cases.py: {sorted(missing)}"


def test_layers_are_registered_under_their_names():
    assert get_layer("random") is RandomLayer
    assert get_layer("learnable") is LearnableLayer
    assert get_layer("convolutional") is ConvolutionalLayer


# -- generic, every layer x every node ------------------------------------------

@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_train_shapes_and_gradients(layer_name, node_type):
    case, layer = make_case(layer_name, node_type)
    layer.train()
    x = torch.rand(5, *case.input_shape, requires_grad=True)
    y = layer(x)
    assert y.shape == (5, *case.output_shape)
    y_ = y.detach()
    assert torch.isfinite(y_).all() and float(y_.min()) >= 0 and float(y_.max()) <= 1
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    grads = [p.grad for p in layer.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_eval_is_the_reference_lut_function(layer_name, node_type):
    case, layer = make_case(layer_name, node_type, seed=3)
    layer.eval()
    x = binary((16, *case.input_shape), seed=1)
    y = layer(x)
    assert y.shape == (16, *case.output_shape) and y.dtype == torch.float32
    assert torch.equal(y, case.reference(layer, x))
    assert torch.equal(layer(x.double()), y.double())


@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_one_node_call_per_node_module(layer_name, node_type):
    case, layer = make_case(layer_name, node_type)
    calls = []
    for node in layer.node_modules():
        node.register_forward_hook(lambda module, args, out: calls.append(module))
    layer(torch.rand(3, *case.input_shape))
    assert calls == layer.node_modules()


@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_same_seed_same_layer_other_seed_other_layer(layer_name, node_type):
    case, a = make_case(layer_name, node_type, seed=11)
    torch.manual_seed(123)  # the global RNG must not matter
    _, b = make_case(layer_name, node_type, seed=11)
    _, c = make_case(layer_name, node_type, seed=12)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[key], sb[key]) for key in sa)
    assert not all(torch.equal(sa[key], sc[key]) for key in sa)
    x = binary((8, *case.input_shape))
    assert torch.equal(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("layer_name", sorted(LAYER_CASES))
def test_construction_leaves_global_rng_alone_and_seed_none_uses_it(layer_name):
    case = LAYER_CASES[layer_name]
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    case.make(TableNode, 3, seed=9)
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(6)
    a = case.make(TableNode, 3)
    torch.manual_seed(6)
    b = case.make(TableNode, 3)
    assert a.seed == b.seed
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_reproduces_eval_exactly(layer_name, node_type):
    case, a = make_case(layer_name, node_type, seed=1)
    _, b = make_case(layer_name, node_type, seed=2)
    opt = torch.optim.SGD(a.parameters(), lr=1.0)
    loss = (a(torch.rand(6, *case.input_shape)) * torch.randn(6, *case.output_shape)).sum()
    loss.backward()
    opt.step()
    assert list(a.train().state_dict()) == list(a.eval().state_dict())
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = binary((32, *case.input_shape), seed=4)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("layer_name,node_type", CASES, ids=CASE_IDS)
def test_residual_init_passes_input_0_through(layer_name, node_type):
    case, layer = make_case(layer_name, node_type, residual_init=True)
    for node in layer.node_modules():
        expected = ((torch.arange(1 << node.k) & 1) == 1).expand(node.num_nodes, -1)
        assert torch.equal(node.truth_table(), expected)
    layer.eval()
    x = binary((16, *case.input_shape), seed=2)
    assert torch.equal(layer(x), case.input_0(layer, x))


@pytest.mark.parametrize("layer_name", sorted(LAYER_CASES))
def test_bad_inputs_raise_clear_errors(layer_name):
    case, layer = make_case(layer_name, TableNode)
    good = binary((4, *case.input_shape))
    wider = binary((4, *case.input_shape[:-1], case.input_shape[-1] + 1)) if layer_name != "convolutional" else None
    with pytest.raises(InputError, match="shape"):
        layer(good.flatten())
    with pytest.raises(InputError, match="shape"):
        layer(good.unsqueeze(1))
    if wider is not None:
        with pytest.raises(InputError, match=r"shape \(batch, %d\)" % case.input_shape[0]):
            layer(wider)
    else:
        with pytest.raises(InputError, match=r"shape \(batch, 4, H, W\)"):
            layer(binary((4, 3, 7, 6)))
    with pytest.raises(TypeError, match="floating-point"):
        layer(good.long())
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(good.tolist())
    layer.eval()
    bad = good.clone()
    bad.view(-1)[7] = 0.5
    with pytest.raises(InputError, match="binary"):
        layer(bad)
    bad.view(-1)[7] = float("nan")
    with pytest.raises(ValueError, match="binary"):
        layer(bad)


@pytest.mark.parametrize("layer_name", sorted(LAYER_CASES))
def test_bad_options_raise_clear_errors(layer_name):
    make = LAYER_CASES[layer_name].make
    with pytest.raises(KeyError, match="unknown node 'nope'; registered nodes"):
        make("nope", 3)
    with pytest.raises(TypeError, match="node_type must be a registered node name"):
        make(nn.Linear, 3)
    with pytest.raises(ValueError, match="valid modes: none, layerwise, batchwise, layerwise_mean"):
        make(TableNode, 3, grad_stabilization="global")
    with pytest.raises(ValueError, match="flip_probability"):
        make(TableNode, 3, flip_probability=1.5)
    with pytest.raises(ValueError, match="seed"):
        make(TableNode, 3, seed=-1)
    with pytest.raises(ValueError, match="k must be"):
        make(TableNode, 0)
    with pytest.raises(ValueError, match="must not set"):
        make(TableNode, 3, node_kwargs={"k": 3})
    with pytest.raises(TypeError, match="node_kwargs"):
        make(TableNode, 3, node_kwargs=[1])
    with pytest.raises(TypeError, match="residual_init"):
        make(TableNode, 3, residual_init=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        make(TableNode, 3, flip=0.1)


def test_unsupported_k_is_rejected_by_the_layer():
    class TwoInput(TableNode):
        supported_k = (2,)

    with pytest.raises(ValueError, match=r"supports k in \(2,\)"):
        RandomLayer(8, 4, node_type=TwoInput, k=3)
    assert RandomLayer(8, 4, node_type=TwoInput, k=2).k == 2


# -- RandomLayer wiring ----------------------------------------------------------

@pytest.mark.parametrize(
    "input_size,output_size,k",
    [(7, 10, 3), (10, 7, 3), (6, 6, 6), (5, 4, 4), (50, 40, 6), (13, 100, 5), (3136, 800, 6), (9, 2, 2)],
)
def test_random_wiring_covers_inputs_and_never_repeats_in_a_node(input_size, output_size, k):
    wiring = random_wiring(input_size, output_size, k, torch.Generator().manual_seed(input_size + k))
    assert wiring.shape == (output_size, k) and wiring.dtype == torch.int64
    assert int(wiring.min()) >= 0 and int(wiring.max()) < input_size
    assert all(len(set(row)) == k for row in wiring.tolist()), "a node reads an input twice"
    used = set(wiring.flatten().tolist())
    if output_size * k >= input_size:
        assert used == set(range(input_size))
    else:
        assert len(used) == output_size * k  # one truncated permutation: all distinct


def test_random_wiring_stress_over_many_seeds():
    for seed in range(200):
        wiring = random_wiring(7, 9, 5, torch.Generator().manual_seed(seed))
        assert (wiring.sort(1).values.diff(dim=1) > 0).all()
        assert set(wiring.flatten().tolist()) == set(range(7))


def test_random_layer_wiring_buffer_and_errors():
    layer = RandomLayer(30, 20, node_type=TableNode, k=4, seed=2)
    assert "wiring" in dict(layer.named_buffers())
    assert torch.equal(layer.connections(), layer.wiring)
    assert not any(p is layer.wiring for p in layer.parameters())
    with pytest.raises(ValueError, match="exceeds input_size"):
        RandomLayer(3, 5, node_type=TableNode, k=4)
    with pytest.raises(ValueError, match="input_size"):
        RandomLayer(0, 5, node_type=TableNode, k=2)
    with pytest.raises(ValueError, match="output_size"):
        RandomLayer(5, 2.0, node_type=TableNode, k=2)


# -- LearnableLayer -----------------------------------------------------------

def test_learnable_eval_is_argmax_with_ties_to_lowest_index():
    layer = LearnableLayer(10, 3, node_type=TableNode, k=2, seed=0)
    with torch.no_grad():
        layer.logits.zero_()
        layer.logits[0, 0, 7] = 1.0
        layer.logits[1, 1, [3, 5]] = 2.0
    conn = layer.connections()
    assert conn.dtype == torch.int64 and conn.shape == (3, 2)
    assert conn.tolist() == [[7, 0], [0, 3], [0, 0]]
    layer.eval()
    x = binary((20, 10))
    assert torch.equal(layer(x), flat_reference(layer, x))


def test_learnable_layer_sees_forward_hooks_on_its_node():
    """The fused GPU selection skips calling the node, so it gives way where that would run hooks."""
    from difflut.layers.learnable_layer import _runs_forward_hooks

    node = LearnableLayer(20, 4, node_type="dwn", k=6).node
    assert not _runs_forward_hooks(node)
    for register in (node.register_forward_hook, node.register_forward_pre_hook,
                     torch.nn.modules.module.register_module_forward_hook):
        handle = register(lambda *args: None)
        assert _runs_forward_hooks(node)
        handle.remove()
    assert not _runs_forward_hooks(node)


def test_learnable_soft_training_is_the_softmax_selection():
    layer = LearnableLayer(9, 4, node_type=TableNode, k=3, selection="soft", tau=0.5, seed=1)
    x = torch.rand(6, 9)
    weights = torch.softmax(layer.logits / 0.5, dim=-1)  # (4, 3, 9)
    selected = torch.einsum("bi,nji->bnj", x, weights)
    assert torch.allclose(layer(x), layer.node(selected), atol=1e-6)
    layer(x).sum().backward()
    assert layer.logits.grad is not None and float(layer.logits.grad.abs().sum()) > 0


def test_learnable_soft_peaked_logits_train_like_eval():
    layer = LearnableLayer(12, 5, node_type=TableNode, k=3, selection="soft", tau=1e-3, seed=2)
    x = binary((10, 12))
    hard = layer.node(x[:, layer.connections()])
    assert torch.allclose(layer(x), hard, atol=1e-3)  # uniform[0, 1) logits / 1e-3: nearly one-hot
    assert LearnableLayer(12, 5, node_type=TableNode, k=3, selection="soft").tau == 0.1


def test_learnable_hard_training_forward_is_the_eval_wiring():
    layer = LearnableLayer(12, 5, node_type=TableNode, k=3, seed=2)
    assert layer.selection == "hard" and layer.tau == 1e-3
    x = binary((10, 12))
    assert torch.equal(layer(x), layer.node(x[:, layer.connections()]))


def test_learnable_hard_backward_is_the_straight_through_formula():
    layer = LearnableLayer(7, 3, node_type=TableNode, k=2, tau=0.3, seed=4).double()
    x = torch.rand(5, 7, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 3, dtype=torch.float64)
    layer(x).backward(g)
    # reference: the node's gradient w.r.t. its selected inputs, then the documented straight-through rule
    sel = x.detach()[:, layer.connections()].clone().requires_grad_(True)  # (5, 3, 2)
    layer.node(sel).backward(g)
    g_sel = sel.grad.reshape(5, 6)
    weights = torch.softmax(layer.logits.detach().view(6, 7) / 0.3, dim=-1)
    assert torch.allclose(x.grad, g_sel @ weights)
    assert torch.allclose(layer.logits.grad.view(6, 7), g_sel.T @ x.detach())


def test_learnable_hard_wiring_moves_with_the_logits():
    torch.manual_seed(0)
    layer = LearnableLayer(6, 2, node_type=TableNode, k=2, seed=3)
    x = binary((64, 6))
    before = layer.connections().clone()
    opt = torch.optim.SGD([layer.logits], lr=10.0)
    for _ in range(3):  # push node outputs up: logits of inputs that are 1 where outputs matter grow
        opt.zero_grad()
        (-layer(x).sum()).backward()
        opt.step()
    assert layer.logits.grad.abs().sum() > 0
    assert not torch.equal(before, layer.connections())


def test_learnable_bad_selection():
    with pytest.raises(ValueError, match="selection must be one of 'hard', 'soft'"):
        LearnableLayer(5, 2, node_type=TableNode, k=2, selection="gumbel")


def test_learnable_bad_tau():
    with pytest.raises(ValueError, match="tau"):
        LearnableLayer(5, 2, node_type=TableNode, k=2, tau=0)


# -- ConvolutionalLayer ---------------------------------------------------------

CONV_CONFIGS = [
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=0, groups=1, tree_depth=2, k=3, hw=(6, 5)),
    dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding=1, groups=2, tree_depth=2, k=3, hw=(7, 8)),
    dict(in_channels=3, out_channels=3, kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), groups=3,
         tree_depth=3, k=2, hw=(5, 7)),
    dict(in_channels=1, out_channels=2, kernel_size=2, stride=2, padding=0, groups=1, tree_depth=1, k=4, hw=(4, 6)),
    dict(in_channels=4, out_channels=2, kernel_size=1, stride=1, padding=2, groups=2, tree_depth=2, k=2, hw=(3, 3)),
]


def conv(cfg, node_type=TableNode, **kw):
    cfg = {key: value for key, value in cfg.items() if key != "hw"}
    return ConvolutionalLayer(**cfg, node_type=node_type, **kw)


@pytest.mark.parametrize("cfg", CONV_CONFIGS)
def test_conv_unrolled_equals_eval_forward(cfg):
    layer = conv(cfg, seed=7).eval()
    x = binary((5, cfg["in_channels"], *cfg["hw"]), seed=3)
    y = layer(x)
    ref = torch.nn.Conv2d(cfg["in_channels"], cfg["out_channels"], cfg["kernel_size"], cfg["stride"], cfg["padding"])
    assert y.shape == ref(x).shape
    assert torch.equal(y, run_unrolled(layer, x))
    levels = layer.unrolled(cfg["hw"])
    assert len(levels) == cfg["tree_depth"]
    positions = y.shape[2] * y.shape[3]
    for level, node in zip(levels, layer.levels):
        assert level.node is node
        assert level.wires.dtype == torch.int64 and level.node_index.dtype == torch.int64
        assert level.wires.shape == (node.num_nodes * positions, layer.k)
        assert torch.equal(level.node_index.bincount(), torch.full((node.num_nodes,), positions))
    assert int(levels[0].wires.max()) < cfg["in_channels"] * cfg["hw"][0] * cfg["hw"][1]
    assert bool((levels[0].wires == -1).any()) == (max(layer.padding) > 0)


def test_conv_padding_is_zero_padding():
    cfg = dict(CONV_CONFIGS[1])
    padded = conv(cfg, seed=4).eval()
    plain = conv({**cfg, "padding": 0}, seed=4).eval()
    plain.load_state_dict(padded.state_dict())
    x = binary((3, 2, 7, 8))
    assert torch.equal(padded(x), plain(F.pad(x, (1, 1, 1, 1))))


def test_conv_weights_shared_across_positions():
    layer = conv(CONV_CONFIGS[0], seed=1).eval()
    x = binary((4, 2, 6, 8))
    shifted = torch.roll(x, shifts=1, dims=3)
    assert torch.equal(layer(shifted)[..., 1:], layer(x)[..., :-1])


def test_conv_groups_never_read_other_groups():
    cfg = dict(in_channels=4, out_channels=6, kernel_size=3, stride=1, padding=1, groups=2, tree_depth=2, k=3)
    layer = conv({**cfg, "hw": None}, seed=0).eval()
    group_patch = 2 * 9
    leaves = layer.k ** (layer.tree_depth - 1)
    group_of_leaf = torch.arange(6).repeat_interleave(leaves) // 3
    assert torch.equal(layer.wiring // group_patch, group_of_leaf.unsqueeze(1).expand(-1, layer.k))
    x = binary((8, 4, 5, 5))
    y = layer(x)
    x2 = x.clone()
    x2[:, 2:] = 1 - x2[:, 2:]  # change every bit of group 1
    y2 = layer(x2)
    assert torch.equal(y[:, :3], y2[:, :3])
    x3 = x.clone()
    x3[:, :2] = 1 - x3[:, :2]
    assert torch.equal(y[:, 3:], layer(x3)[:, 3:])


def test_conv_leaves_read_distinct_patch_bits_and_cover_the_patch():
    layer = ConvolutionalLayer(2, 3, 2, tree_depth=3, node_type=TableNode, k=3, seed=5)  # 9 leaves x 3 >= 8 bits
    leaves = layer.wiring.view(3, 9, 3)
    assert all(len(set(row)) == 3 for row in layer.wiring.tolist())
    for channel in leaves:
        assert set(channel.flatten().tolist()) == set(range(8))


def test_conv_bad_options():
    with pytest.raises(ValueError, match="divisible by groups"):
        ConvolutionalLayer(3, 4, 3, groups=2, node_type=TableNode, k=2)
    with pytest.raises(ValueError, match="exceeds the 4 bits"):
        ConvolutionalLayer(4, 4, 1, groups=1, node_type=TableNode, k=5)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvolutionalLayer(1, 1, 0, node_type=TableNode, k=2)
    with pytest.raises(ValueError, match="stride"):
        ConvolutionalLayer(1, 1, 3, stride=(1, 2, 3), node_type=TableNode, k=2)
    with pytest.raises(ValueError, match="padding"):
        ConvolutionalLayer(1, 1, 3, padding=-1, node_type=TableNode, k=2)
    with pytest.raises(ValueError, match="tree_depth"):
        ConvolutionalLayer(1, 1, 3, tree_depth=0, node_type=TableNode, k=2)
    small = ConvolutionalLayer(1, 1, 3, node_type=TableNode, k=2)
    with pytest.raises(InputError, match="smaller than kernel_size"):
        small.unrolled((2, 2))
    with pytest.raises(InputError, match="smaller than kernel_size"):
        small(binary((2, 1, 2, 5)))
