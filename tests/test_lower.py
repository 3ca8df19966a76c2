"""Lowering to the netlist IR: the IR computes exactly the model's eval-mode function.

Every check compares class scores (popcounts) and predictions of the plain reference evaluator of
the IR (tests/irtools.py: one wire at a time, no bit packing) with PyTorch's eval mode,
on real MNIST test images and on random codes. Equality is exact; any mismatch fails.
"""

import json

import numpy as np
import pytest
import torch
from torch import nn

import difflut
from difflut import GroupSum, InputFormat, get_encoder, get_layer
from difflut.data import load_mnist
from difflut.hw import CONST0, CONST1, IRError, NetlistIR, load_ir, save_ir
from difflut.files import sha256_file as file_sha256
from difflut.hw.lower import LoweringError, NetlistBuilder, lower, lower_encoder, lower_layers
from difflut.models import get_model
from irtools import reference_eval

MNIST_FMT = InputFormat(8, divisor=255.0)
TINY_FC = {"layer_widths": (60, 30)}
TINY_CIFAR = {"conv_channels": (2, 4), "layer_widths": (40, 20), "encoder_bits": 3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def assert_same_function(ir: NetlistIR, scores: torch.Tensor, codes) -> None:
    got_scores, got_pred = reference_eval(ir, codes)
    expected = scores.cpu().numpy()
    mismatched = np.flatnonzero((got_scores != expected).any(1))
    assert mismatched.size == 0, f"{mismatched.size} samples differ, first {mismatched[:5]}"
    assert np.array_equal(got_pred, expected.argmax(1))


def model_check(model, codes: torch.Tensor, check_predict: bool = True) -> NetlistIR:
    """Lower ``model``; its IR, through a JSON round trip, must equal class_scores (and predict)."""
    ir = lower(model)
    again = NetlistIR.from_dict(json.loads(ir.to_json()))
    assert again.to_json() == ir.to_json()
    scores, predictions = reference_eval(again, codes)
    expected = model.class_scores(codes).numpy()
    mismatched = np.flatnonzero((scores != expected).any(1))
    assert mismatched.size == 0, f"{mismatched.size} samples differ, first {mismatched[:5]}"
    if check_predict:
        assert np.array_equal(predictions, model.predict(codes).numpy())
    return ir


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_mnist("test")
    return images[:600], labels[:600]


def random_codes(shape, seed, fmt=MNIST_FMT) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(fmt.min_code, fmt.max_code + 1, shape, generator=g)


def randomise_(module: nn.Module, seed: int) -> None:
    """Normal random parameters, so every node type has varied truth tables."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


# -- zoo models ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,overrides", [
    ("mnist_fc_8k_linear", {}),
    ("mnist_fc_8k_dwn", {}),
    ("mnist_fc_8k_dwn", {"mapping": "learnable"}),
    ("mnist_residual_init", {"encoder": "gray", "encoder_bits": 3}),
    ("mnist_bitflip_20", {"node_type": "polylut", "encoder": "onehot", "node_input_dim": 4}),
    ("mnist_fc_8k_dwn", {"encoder": "distributive_thermometer", "encoder_bits": 3, "encoder_code_step": 4}),
])
def test_mnist_models_lower_exactly(name, overrides, mnist):
    images, _ = mnist
    model = get_model(name, seed=1, **dict(TINY_FC, **overrides)).fit_encoder(images)
    randomise_(model.layers, seed=5)
    model.eval()
    ir = model_check(model, images)
    model_check(model, random_codes((300, 28, 28), seed=2))
    assert ir.input_shape == (28, 28) and ir.num_classes == 10 and ir.class_wires.shape == (10, 3)
    assert [layer.name for layer in ir.layers] == ["layers.0", "layers.1"]
    assert ir.metadata["model"] == name and ir.metadata["overrides"] == model.plain_overrides()
    assert ir.metadata["library_version"] == difflut.__version__


def test_a_trained_model_lowers_exactly(mnist):
    train_images, train_labels = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", layer_widths=(100, 50))
    difflut.train(model, train_images[:1000], train_labels[:1000], train_images[1000:1100], train_labels[1000:1100],
                  epochs=1, batch_size=50, progress=False)
    model.eval()
    images, labels = mnist
    ir = model_check(model, images)
    accuracy = (reference_eval(ir, images)[1] == labels.numpy()).mean()
    assert accuracy > 0.3  # trained (chance is 0.1): the IR really classifies


def test_cifar_conv_lowers_exactly(mnist):
    images, _ = mnist
    # real structure: MNIST digits on three differently scaled colour planes, padded to 32x32
    digits = nn.functional.pad(images[:64].long(), (2, 2, 2, 2))
    colour = torch.stack([digits, 255 - digits, digits // 2], 1)
    model = get_model("cifar10_conv", seed=3, **TINY_CIFAR).fit_encoder(colour)
    randomise_(model, seed=4)
    model.eval()
    ir = model_check(model, colour, check_predict=False)
    model_check(model, random_codes((16, 3, 32, 32), seed=5))
    names = [(layer.name, layer.num_nodes, layer.k) for layer in ir.layers]
    assert names == [
        ("convs.0.levels.0", 2 * 6 * 32 * 32, 6), ("convs.0.levels.1", 2 * 32 * 32, 6), ("pool.0", 2 * 16 * 16, 4),
        ("convs.1.levels.0", 4 * 6 * 16 * 16, 6), ("convs.1.levels.1", 4 * 16 * 16, 6), ("pool.1", 4 * 8 * 8, 4),
        ("fcs.0", 40, 6), ("fcs.1", 20, 6),
    ]
    # per-channel thresholds expanded to one row per input feature, (c, y, x) row-major
    assert ir.input_shape == (3, 32, 32) and ir.encoder.num_features == 3 * 32 * 32
    per_channel = model.encoder.hardware_form(model.input_format).tables
    assert np.array_equal(ir.encoder.tables, np.repeat(per_channel, 32 * 32, axis=0))
    # zero padding reads CONST0; pooling is OR
    assert (ir.layers[0].inputs == CONST0).any()
    assert ir.layers[2].tables.sum(1).tolist() == [15] * ir.layers[2].num_nodes and not ir.layers[2].tables[:, 0].any()


def test_input_format_and_metadata(mnist, tmp_path):
    images, _ = mnist
    model = get_model("mnist_fc_8k_linear", **TINY_FC).fit_encoder(images).eval()
    path = tmp_path / "m.pt"
    model.save_checkpoint(path)
    loaded = difflut.load(path)
    ir = lower(loaded, checkpoint=path)
    assert ir.metadata["checkpoint_sha256"] == file_sha256(path)
    assert lower(loaded).metadata["checkpoint_sha256"] == file_sha256(path)  # recorded by difflut.load
    assert ir.metadata["state_digest"] == torch.load(path, weights_only=True)["digest"]
    assert lower(loaded, checkpoint_sha256="AB" * 32).metadata["checkpoint_sha256"] == "ab" * 32
    with pytest.raises(LoweringError, match="64 hex digits"):
        lower(loaded, checkpoint_sha256="abc")
    with pytest.raises(LoweringError, match="SHA-256"):
        lower(loaded, checkpoint=path, checkpoint_sha256="0" * 64)
    assert "checkpoint_sha256" not in lower(model).metadata
    # the same model, fed 4-bit codes x / 15: the IR follows the given format
    fmt = InputFormat(4, divisor=15.0)
    ir4 = lower(model, fmt)
    assert ir4.encoder.input_format == fmt
    codes = random_codes((200, 28, 28), seed=7, fmt=fmt)
    bits = model.encoder.encode(fmt.to_float(codes))
    scores = model.head.popcount(model._forward_impl(bits))
    assert_same_function(ir4, scores, codes)
    # deterministic: same model, same JSON
    assert lower(model).to_json() == lower(model).to_json()
    save_ir(ir, tmp_path / "m.json")
    assert load_ir(tmp_path / "m.json").to_json() == ir.to_json()


# -- every node type x every encoder, bare pipelines -------------------------------------------------------
def make_layers(node: str, input_size: int, seed: int, mapping: str = "random") -> nn.ModuleList:
    """Two layers (40 and 20 nodes) of ``node``, k in 3..6 (2 for difflogic), random parameters."""
    k = 2 if node == "difflogic" else 3 + seed % 4
    first = get_layer(mapping)(input_size, 40, node_type=node, k=k, seed=seed)
    second = get_layer("random")(40, 20, node_type=node, k=k, seed=seed + 1)
    layers = nn.ModuleList([first, second])
    randomise_(layers, seed)
    return layers.eval()


def fit_encoder(encoder: str, fmt: InputFormat, fit_codes: torch.Tensor):
    return get_encoder(encoder)(num_bits=4 if encoder == "onehot" else 3).fit(fmt.to_float(fit_codes)).eval()


def torch_scores(layers, head, bits) -> torch.Tensor:
    for layer in layers:
        bits = layer(bits)
    return head.popcount(bits)


@pytest.fixture(scope="module")
def encoded(mnist):
    """500 MNIST test images and 200 random images; per encoder name: (fitted encoder, its bits), cached."""
    images, _ = mnist
    codes = torch.cat([images[:500].long(), random_codes((200, 28, 28), seed=99)])
    cache = {}

    def get(name: str):
        if name not in cache:
            enc = fit_encoder(name, MNIST_FMT, images[:500])
            cache[name] = (enc, enc.encode(MNIST_FMT.to_float(codes)))
        return cache[name]

    return codes, get


@pytest.mark.parametrize("node", difflut.list_nodes())
@pytest.mark.parametrize("encoder", difflut.list_encoders())
def test_every_node_type_and_encoder_lower_exactly(node, encoder, encoded):
    codes, get = encoded
    enc, bits = get(encoder)
    seed = difflut.list_nodes().index(node) * 8 + difflut.list_encoders().index(encoder)
    layers = make_layers(node, enc.output_size, seed, "learnable" if seed % 3 == 0 else "random")
    ir = lower_layers(enc, layers, GroupSum(10), MNIST_FMT, metadata={"case": f"{node}/{encoder}"})
    assert ir.metadata["case"] == f"{node}/{encoder}" and ir.input_shape == (28, 28)
    assert_same_function(ir, torch_scores(layers, GroupSum(10), bits), codes)


@pytest.mark.parametrize("encoder", ["thermometer", "sign_magnitude", "logarithmic"])
def test_signed_input_format(encoder):
    fmt = InputFormat(8, signed=True, divisor=32.0, offset=-0.5)
    enc = fit_encoder(encoder, fmt, random_codes((300, 5, 7), seed=11, fmt=fmt))
    layers = make_layers("dwn", enc.output_size, seed=2)
    ir = lower_layers(enc, layers, GroupSum(10), fmt)
    codes = random_codes((500, 5, 7), seed=12, fmt=fmt)
    assert_same_function(ir, torch_scores(layers, GroupSum(10), enc.encode(fmt.to_float(codes))), codes)


# -- errors ---------------------------------------------------------------------------------------------
def test_training_mode_unfitted_and_hooks_are_refused(mnist):
    images, _ = mnist
    model = get_model("mnist_fc_8k_dwn", **TINY_FC)
    with pytest.raises(LoweringError, match=r"encoder.*not fitted"):
        lower(model.eval())
    model.fit_encoder(images).train()
    with pytest.raises(LoweringError, match=r"training mode: call model.eval\(\)"):
        lower(model)
    model.eval()
    model.layers[1].train()
    with pytest.raises(LoweringError, match=r"layers\.1.*training mode"):
        lower(model)
    model.eval()
    with model.inject_faults(0.1):
        with pytest.raises(LoweringError, match="hooks"):
            lower(model)
    lower(model)  # fine again


def test_unknown_structures_are_refused(mnist):
    images, _ = mnist
    with pytest.raises(LoweringError, match="takes a difflut model"):
        lower(nn.Linear(3, 4))

    class Rewired(type(get_model("mnist_fc_8k_dwn", **TINY_FC))):
        def _forward_impl(self, bits):
            return super()._forward_impl(1 - bits)

    with pytest.raises(LoweringError, match="overrides _forward_impl, so its function is not"):
        lower(Rewired(**TINY_FC).fit_encoder(images).eval())

    base = type(get_model("mnist_fc_8k_dwn", **TINY_FC))

    class LastMaxWins(base):  # ties to the highest class: not the hardware argmax
        def predict(self, images, batch_size=1024):
            return 9 - self.class_scores(images, batch_size).flip(1).argmax(1)

    class Inverted(base):
        def to_float(self, images):
            return 1 - super().to_float(images)

    for cls, method in ((LastMaxWins, "predict"), (Inverted, "to_float")):
        with pytest.raises(LoweringError, match=f"overrides {method}, so"):
            lower(cls(**TINY_FC).fit_encoder(images).eval())

    class WithReLU(base):  # a stage the lowering has no hardware form for
        def stages(self):
            return [*self.layers, nn.ReLU()]

    with pytest.raises(LoweringError, match=r"stages\.2: cannot lower layer type ReLU"):
        lower(WithReLU(**TINY_FC).fit_encoder(images).eval())

    class Halved(GroupSum):
        def forward(self, x):
            return super().forward(x) / 2

    model = get_model("mnist_fc_8k_dwn", **TINY_FC).fit_encoder(images).eval()
    model.head = Halved(10, tau=model.head.tau).eval()
    with pytest.raises(LoweringError, match="Halved is not a GroupSum"):
        lower(model)

    enc = get_encoder("thermometer")(num_bits=2).fit(torch.rand(10, 8))
    with pytest.raises(LoweringError, match=r"layers\.0: cannot lower layer type Linear"):
        lower_layers(enc.eval(), [nn.Linear(16, 10).eval()], GroupSum(10), MNIST_FMT)
    layer = get_layer("random")(16, 10, node_type="dwn", k=2).eval()
    with pytest.raises(LoweringError, match="GroupSum"):
        lower_layers(enc.eval(), [layer], nn.Identity(), MNIST_FMT)
    with pytest.raises(LoweringError, match="multiple of 3"):
        lower_layers(enc.eval(), [layer], GroupSum(3), MNIST_FMT)
    layer.node = nn.Identity()
    with pytest.raises(LoweringError, match="unknown node type Identity"):
        lower_layers(enc.eval(), [layer.eval()], GroupSum(10), MNIST_FMT)
    with pytest.raises(LoweringError, match="InputFormat"):
        lower_encoder(enc, "uint8")


def test_builder_refuses_what_the_ir_cannot_hold():
    enc = get_encoder("thermometer")(num_bits=2).fit(torch.rand(10, 4))
    form = lower_encoder(enc, MNIST_FMT)
    b = NetlistBuilder((4,), form)
    assert b.encoder_wires().tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(LoweringError, match="does not exist"):
        b.add("x", [[8, 0]], np.zeros((1, 4), bool))
    with pytest.raises(LoweringError, match="limit"):
        b.add("x", np.zeros((1, 17), np.int64), np.zeros((1, 1 << 17), bool))
    with pytest.raises(IRError, match="tables must have shape"):
        b.add("x", [[0, 1]], np.zeros((1, 3), bool))
    assert b.add("ok", [[0, CONST1]], np.array([[0, 1, 1, 0]], bool)).tolist() == [8]
    with pytest.raises(LoweringError, match="features"):
        NetlistBuilder((5,), form)
