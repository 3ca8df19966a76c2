"""Layer training features: bit flips, gradient stabilisation, residual init, regularisers.

Each feature is checked on its module and inside every registered layer
(layer fixtures come from tests/layer_cases.py).
"""

import math

import pytest
import torch

from difflut.bits import subset_order, walsh_coefficients
from difflut.layers import BitFlip, GradientStabilization, RandomLayer
from difflut.layers.grad_stabilization import GRAD_STABILIZATION_MODES, stabilize_gradient
from difflut.regularizers import REGULARIZERS, l1_penalty, l2_penalty, penalty, spectral_penalty
from layer_cases import LAYER_CASES, NODE_TYPES, TableNode, binary, k_for, node_id

LAYERS = sorted(LAYER_CASES)


def make(layer_name, node_type=TableNode, seed=0, **kw):
    case = LAYER_CASES[layer_name]
    return case, case.make(node_type, k_for(node_type), seed=seed, **kw)


# -- bit flips ------------------------------------------------------------------

def test_bit_flip_rate_is_p():
    torch.manual_seed(0)
    p, n = 0.2, 200_000
    x = binary((n,))
    flipped = (BitFlip(p).train()(x) != x).float().mean().item()
    assert abs(flipped - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_bit_flip_values_and_straight_through_gradient():
    x = torch.tensor([0.0, 1.0, 0.25, 0.9], requires_grad=True)
    y = BitFlip(1.0).train()(x)
    assert torch.allclose(y, 1 - x)
    y.backward(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert torch.equal(x.grad, torch.tensor([1.0, 2.0, 3.0, 4.0]))


def test_bit_flip_never_in_eval_and_not_at_p0():
    x = binary((50, 40))
    assert BitFlip(0.7).eval()(x) is x
    assert BitFlip(0.0).train()(x) is x
    with pytest.raises(ValueError, match=r"flip_probability must be a number in \[0, 1\]"):
        BitFlip(-0.1)
    with pytest.raises(ValueError, match="flip_probability"):
        BitFlip(True)


@pytest.mark.parametrize("layer_name", LAYERS)
def test_layer_flips_change_training_outputs_only(layer_name):
    case, clean = make(layer_name, seed=3)
    _, noisy = make(layer_name, seed=3, flip_probability=0.3)
    assert noisy.flip_probability == 0.3
    x = binary((64, *case.input_shape))
    torch.manual_seed(1)
    assert not torch.equal(clean(x), noisy(x))
    clean.eval(), noisy.eval()
    expected = clean(x)
    for _ in range(3):
        assert torch.equal(noisy(x), expected)


@pytest.mark.parametrize("layer_name", LAYERS)
def test_layer_flip_p1_inverts_every_input_bit(layer_name):
    sharp = {"tau": 1e-5} if layer_name == "learnable" else {}  # training selection ~ the argmax
    case, layer = make(layer_name, residual_init=True, flip_probability=1.0, **sharp)
    x = binary((16, *case.input_shape))
    y = layer(x)  # pass-through nodes: training output follows the (flipped) input bit 0
    expected = case.input_0(layer, 1 - x)
    if layer_name == "convolutional":  # zero padding is not an input bit and is never flipped
        expected = case.input_0(layer, x)
        cols_ones = case.input_0(layer, torch.ones_like(x))
        expected = torch.where(cols_ones == 1, 1 - expected, expected)
    assert torch.equal((y >= 0.5).float(), expected)


@pytest.mark.parametrize("layer_name", ["random", "learnable"])
def test_layer_flip_rate_is_p(layer_name):
    torch.manual_seed(0)
    case = LAYER_CASES[layer_name]
    sharp = {"tau": 1e-5} if layer_name == "learnable" else {}
    layer = case.make(TableNode, 2, seed=1, residual_init=True, flip_probability=0.2, **sharp)
    x = binary((4000, *case.input_shape))
    changed = ((layer(x) >= 0.5).float() != case.input_0(layer, x)).float().mean().item()
    n = 4000 * case.output_shape[0]
    assert abs(changed - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n)


# -- gradient stabilisation ------------------------------------------------------

def grad_through(mode, g, training=True):
    x = torch.zeros_like(g, requires_grad=True)
    module = GradientStabilization(mode).train(training)
    module(x).backward(g)
    return x.grad


def test_grad_stabilization_formulas():
    g = torch.randn(8, 5, 3) * torch.arange(1, 9).view(8, 1, 1) + 0.3
    assert torch.equal(grad_through("none", g), g)

    layerwise = grad_through("layerwise", g)
    assert torch.allclose(layerwise.square().mean().sqrt(), torch.tensor(1.0))
    assert torch.allclose(layerwise, g / g.square().mean().sqrt(), atol=1e-6)

    batchwise = grad_through("batchwise", g)
    rms = batchwise.square().mean(dim=(1, 2)).sqrt()
    assert torch.allclose(rms, torch.ones(8))
    assert torch.allclose(batchwise, g / g.square().mean(dim=(1, 2), keepdim=True).sqrt(), atol=1e-6)

    centred = grad_through("layerwise_mean", g)
    assert abs(float(centred.mean())) < 1e-6
    assert torch.allclose(centred.square().mean().sqrt(), torch.tensor(1.0))
    assert torch.allclose(centred, (g - g.mean()) / (g - g.mean()).square().mean().sqrt(), atol=1e-6)


def test_grad_stabilization_edge_cases():
    zero = torch.zeros(4, 6)
    for mode in GRAD_STABILIZATION_MODES:
        assert torch.equal(grad_through(mode, zero), zero)
    tiny = torch.randn(4, 6) * 1e-30  # would underflow if squared directly
    assert torch.allclose(grad_through("layerwise", tiny).square().mean().sqrt(), torch.tensor(1.0))
    partly = torch.randn(4, 6)
    partly[2] = 0
    out = grad_through("batchwise", partly)
    assert torch.equal(out[2], torch.zeros(6)) and torch.isfinite(out).all()
    g = torch.randn(4, 6)
    assert torch.equal(grad_through("layerwise", g, training=False), g)
    with pytest.raises(ValueError, match="valid modes: none, layerwise, batchwise, layerwise_mean"):
        GradientStabilization("per_node")


@pytest.mark.parametrize("mode", GRAD_STABILIZATION_MODES[1:])
@pytest.mark.parametrize("layer_name", LAYERS)
def test_layer_rescales_the_gradient_of_its_output(layer_name, mode):
    case, plain = make(layer_name, seed=5)
    _, stable = make(layer_name, seed=5, grad_stabilization=mode)
    assert stable.grad_stabilization == mode
    x = torch.rand(6, *case.input_shape)
    g = torch.randn(6, *case.output_shape) * 1e-3
    stable(x).backward(g)
    plain(x).backward(stabilize_gradient(g, mode))
    for (name, p), q in zip(stable.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7), name
    _, raw = make(layer_name, seed=5)
    raw(x).backward(g)  # without stabilisation the gradients are ~1e3 times smaller
    assert not all(torch.allclose(p.grad, q.grad) for p, q in zip(stable.parameters(), raw.parameters()))


# -- residual init -------------------------------------------------------------

@pytest.mark.parametrize("node_type", NODE_TYPES, ids=node_id)
def test_residual_init_calls_every_node_module(node_type):
    _, layer = make("convolutional", node_type, residual_init=True)
    _, plain = make("convolutional", node_type)
    k = layer.k
    passthrough = ((torch.arange(1 << k) & 1) == 1)
    assert all(torch.equal(node.truth_table(), passthrough.expand(node.num_nodes, -1)) for node in layer.levels)
    assert layer.residual_init and not plain.residual_init


# -- regularisers ----------------------------------------------------------------

def test_regularizers_against_hand_computation():
    s = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 0.0]])
    assert torch.allclose(l1_penalty(s), torch.tensor([6.5, 2.0]))
    assert torch.allclose(l2_penalty(s), torch.tensor([14.25, 2.0]))
    # c_S = (s0 + (-1)**S0 s1 + (-1)**S1 s2 + (-1)**(S0+S1) s3) / 4; orders of S = 0, 1, 2, 3 are 0, 1, 1, 2
    c0 = torch.tensor([2.5, 0.5, -4.5, 5.5]) / 4
    c1 = torch.tensor([0.0, -2.0, 2.0, 0.0]) / 4
    order = torch.tensor([0.0, 1.0, 1.0, 2.0])
    assert torch.allclose(walsh_coefficients(s), torch.stack([c0, c1]))
    expected = torch.stack([(order * c0**2).sum(), (order * c1**2).sum()])
    assert torch.allclose(spectral_penalty(s), expected)
    assert torch.allclose(spectral_penalty(s), torch.tensor([(0.25 + 20.25 + 2 * 30.25) / 16, 0.5]))
    for kind in REGULARIZERS:
        assert torch.equal(penalty(s, kind), {"l1": l1_penalty, "l2": l2_penalty, "spectral": spectral_penalty}[kind](s))


@pytest.mark.parametrize("k", [2, 3, 6])
def test_spectral_penalises_order_at_equal_l2(k):
    a = torch.arange(1 << k)
    dictator = 1.0 - 2.0 * (a & 1).float()  # order 1
    parity = 1.0 - 2.0 * (subset_order(k)[a] % 2).float()  # order k
    tables = torch.stack([dictator, parity])
    assert torch.equal(l2_penalty(tables)[0], l2_penalty(tables)[1])
    assert torch.equal(l1_penalty(tables)[0], l1_penalty(tables)[1])
    assert torch.allclose(spectral_penalty(tables), torch.tensor([1.0, float(k)]))
    constant = torch.ones(1, 1 << k)
    assert float(spectral_penalty(constant)) == 0.0


def test_spectral_is_a_quarter_of_total_influence_not_a_rescaled_l2():
    k = 5
    s = torch.randn(64, 1 << k, dtype=torch.float64)
    a = torch.arange(1 << k)
    influence = sum((s - s[:, a ^ (1 << j)]).square().mean(-1) for j in range(k))
    assert torch.allclose(spectral_penalty(s), influence / 4)
    ratio = spectral_penalty(s) / l2_penalty(s)
    assert float(ratio.max() - ratio.min()) > 1e-3


def test_regularizer_errors():
    with pytest.raises(ValueError, match="valid kinds: l1, l2, spectral"):
        penalty(torch.zeros(2, 4), "l3")
    with pytest.raises(ValueError, match="2\\*\\*k"):
        spectral_penalty(torch.zeros(2, 6))
    with pytest.raises(ValueError, match="num_nodes, 2\\*\\*k"):
        l1_penalty(torch.zeros(4))


def test_layer_regularization_is_the_mean_over_nodes():
    layer = RandomLayer(10, 2, node_type=TableNode, k=2, seed=0)
    with torch.no_grad():
        layer.node.scores.copy_(torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 0.0]]))
    assert torch.allclose(layer.regularization("l1"), torch.tensor(4.25))
    assert torch.allclose(layer.regularization("l2"), torch.tensor(8.125))
    assert torch.allclose(layer.regularization("spectral"), torch.tensor(((0.25 + 20.25 + 60.5) / 16 + 0.5) / 2))
    with pytest.raises(ValueError, match="valid kinds"):
        layer.regularization("spectral_l2")


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=node_id)
@pytest.mark.parametrize("layer_name", LAYERS)
def test_layer_regularization_every_kind_every_node(layer_name, node_type):
    _, layer = make(layer_name, node_type)
    scores = torch.cat([node.corner_scores() for node in layer.node_modules()])
    for kind in REGULARIZERS:
        value = layer.regularization(kind)
        assert value.dim() == 0 and torch.isfinite(value)
        assert torch.allclose(value, penalty(scores, kind).mean())
    layer.regularization("spectral").backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in layer.parameters())


# -- data augmentation ---------------------------------------------------------------

def test_random_shift_moves_each_image_by_its_own_offset_with_zero_fill():
    from difflut.augment import random_shift

    images = torch.randint(1, 256, (50, 3, 9, 11), dtype=torch.uint8)  # no zeros: fill is visible
    out = random_shift(images, 2, torch.Generator().manual_seed(5))
    assert out.shape == images.shape and out.dtype == images.dtype
    dy, dx = torch.randint(-2, 3, (2, 50), generator=torch.Generator().manual_seed(5))
    for b in range(50):
        expected = torch.zeros_like(images[b])
        src = images[b][:, max(0, -dy[b]):9 - max(0, dy[b]), max(0, -dx[b]):11 - max(0, dx[b])]
        expected[:, max(0, dy[b]):9 + min(0, dy[b]), max(0, dx[b]):11 + min(0, dx[b])] = src
        assert torch.equal(out[b], expected), b
    assert not torch.equal(out, images)
    assert random_shift(images, 0) is images


def test_random_shift_bad_arguments():
    from difflut.augment import random_shift

    with pytest.raises(ValueError, match="max_shift must be a non-negative int"):
        random_shift(torch.zeros(2, 4, 4), -1)
    with pytest.raises(ValueError, match="expects images"):
        random_shift(torch.zeros(4, 4), 1)


def test_random_hflip_mirrors_about_half_of_the_images_as_seeded():
    from difflut.augment import random_hflip

    images = torch.randint(0, 256, (200, 2, 5, 7), dtype=torch.uint8)
    out = random_hflip(images, torch.Generator().manual_seed(3))
    flip = torch.randint(0, 2, (200,), generator=torch.Generator().manual_seed(3)).bool()
    assert out.shape == images.shape and out.dtype == images.dtype
    for b in range(200):
        expected = images[b, :, :, torch.arange(6, -1, -1)] if flip[b] else images[b]
        assert torch.equal(out[b], expected), b
    assert 70 < int(flip.sum()) < 130
    with pytest.raises(ValueError, match="expects images"):
        random_hflip(torch.zeros(4, 4))


def test_train_with_flips_uses_mirrored_images(monkeypatch):
    """augment_flip: each training batch goes through random_hflip (after the shift); bad values refused."""
    from difflut import augment, get_model, train, training

    seen = []
    monkeypatch.setattr(training, "random_hflip", lambda images, gen: seen.append(images.shape) or
                        augment.random_hflip(images, gen))
    model = get_model("mnist_fc_8k_dwn", layer_widths=(20, 10), mapping="random")
    images, labels = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (64,))
    train(model, images, labels, epochs=1, batch_size=32, augment_flip=True, progress=False)
    assert seen == [(32, 28, 28), (32, 28, 28)]
    with pytest.raises(ValueError, match="augment_flip must be True or False"):
        train(model, images, labels, augment_flip=1, progress=False)


def test_train_rejects_a_bad_augment_shift_before_training():
    from difflut import get_model, train

    model = get_model("mnist_fc_8k_dwn", layer_widths=(20, 10), mapping="random")
    images, labels = torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="max_shift must be a non-negative int, got -1"):
        train(model, images, labels, augment_shift=-1, progress=False)
    assert not model.encoder.fitted
