"""The model zoo (the path the model-zoo documentation names): registry, overrides, seeding, shapes, inputs,
eval semantics (bit-exact), fault injection."""

import pytest
import torch

from difflut.data import load_mnist
from difflut.errors import InputError, NotFittedError
from difflut.training import evaluate, train
from difflut.models import (
    BaseModel,
    CIFAR10Conv,
    MNISTLinearSmall,
    get_model,
    list_models,
    model_info,
)

ZOO = {
    "mnist_fc_8k_linear", "mnist_fc_8k_dwn", "cifar10_conv",
    "mnist_bitflip_none", "mnist_bitflip_5", "mnist_bitflip_10", "mnist_bitflip_20",
    "mnist_gradnorm_none", "mnist_gradnorm_layerwise", "mnist_gradnorm_batchwise",
    "mnist_gradnorm_layerwise_mean", "mnist_residual_init", "fashion_fc_12k_dwn", "fashion_fc_16k_dwn",
}
#: the LUT-budget models (tested in tests/test_pareto.py)
LUT_ZOO = {"mnist_lut_tiny", "mnist_lut_small", "mnist_lut_large", "fashion_lut_small"}
MNIST_NAMES = sorted(ZOO - {"cifar10_conv"})
TINY = {"layer_widths": (60, 30)}
TINY_CIFAR = {"conv_channels": (2, 4), "layer_widths": (40, 20), "encoder_bits": 3}


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_mnist("test")
    return images[:300], labels[:300]


def tiny(name, seed=0, **kw):
    return get_model(name, seed=seed, **dict(TINY_CIFAR if name == "cifar10_conv" else TINY, **kw))


def reference_class_scores(model, images):
    """Integer-only re-implementation of an MNIST FC model's eval function (the hardware)."""
    form = model.encoder.hardware_form(model.input_format)
    tables = torch.from_numpy(form.tables.copy())  # (F, n, 256) bool
    codes = images.reshape(len(images), -1).long()  # (B, F)
    f = torch.arange(codes.shape[1])
    bits = tables[f.view(1, -1, 1), torch.arange(tables.shape[1]).view(1, 1, -1), codes.unsqueeze(-1)]
    bits = bits.reshape(len(images), -1).long()  # feature-major
    for layer in model.layers:
        wiring, table = layer.connections(), layer.node.truth_table()
        addr = (bits[:, wiring] << torch.arange(wiring.shape[1])).sum(-1)  # (B, nodes)
        bits = table[torch.arange(table.shape[0]), addr].long()
    return bits.view(len(images), model.num_classes, -1).sum(-1)


# -- registry and overrides -----------------------------------------------------------------------
def test_the_zoo_models_are_registered():
    assert set(list_models()) == ZOO | LUT_ZOO
    for name in ZOO:
        assert get_model(name, **(TINY_CIFAR if name == "cifar10_conv" else TINY)).model_name == name
    assert issubclass(MNISTLinearSmall, BaseModel) and MNISTLinearSmall.registry_name == "mnist_fc_8k_linear"


def test_unknown_model_lists_the_choices():
    with pytest.raises(KeyError, match="unknown model 'mnist_nope'; registered models: cifar10_conv"):
        get_model("mnist_nope")


@pytest.mark.parametrize("override,match", [
    ({"node_input_dim": 5}, "node_input_dim: must be one of 4, 6"),
    ({"encoder_bits": 2}, r"encoder_bits: must be an int in 3\.\.8"),
    ({"encoder_bits": 9}, r"encoder_bits: must be an int in 3\.\.8"),
    ({"flip_probability": 1.5}, r"flip_probability: must be a number in \[0, 1\]"),
    ({"flip_probability": -0.1}, r"flip_probability: must be a number in \[0, 1\]"),
    ({"grad_stabilization": "global"}, "must be one of 'none', 'layerwise', 'batchwise', 'layerwise_mean'"),
    ({"hidden_size": 0}, "hidden_size: must be a positive int"),
    ({"use_cuda": "yes"}, "use_cuda: must be True, False or 'require'"),
    ({"layer_widths": (100, 15)}, "must be a multiple of num_classes=10"),
    ({"conv_channels": (4, 4)}, "unknown override 'conv_channels'.*valid overrides: encoder, encoder_bits"),
    ({"hiden_size": 10}, "unknown override 'hiden_size'"),
])
def test_bad_overrides_are_clear_errors(override, match):
    with pytest.raises(ValueError, match=match):
        get_model("mnist_fc_8k_linear", **override)


def test_conflicting_or_impossible_settings_are_clear_errors():
    with pytest.raises(ValueError, match="hidden_size=100 contradicts layer_widths=\\(200, 100\\)"):
        get_model("mnist_fc_8k_dwn", hidden_size=100, layer_widths=(200, 100))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        get_model("mnist_fc_8k_dwn", seed=-1)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            get_model("mnist_fc_8k_dwn", use_cuda="require", **TINY)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the fallback is for machines without CUDA")
def test_use_cuda_without_cuda_falls_back_to_the_cpu_with_one_warning():
    with pytest.warns(RuntimeWarning, match="CUDA is not available") as caught:
        model = get_model("mnist_fc_8k_dwn", use_cuda=True, **TINY)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert model.device.type == "cpu"
    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    assert model.fit_encoder(images).class_scores(images).shape == (8, 10)


def test_default_fc_models_have_8k_nodes_and_600_bits_per_class():
    for name in ("mnist_fc_8k_linear", "mnist_fc_8k_dwn"):
        model = get_model(name, layer_widths=(20, 60))  # the defaults' shape at a tenth of the width
        assert model.config["layer_widths"] == (20, 60) and model.config["mapping"] == "learnable"
        assert model.encoded_shape == (784 * 4,) and model.head.tau == {"mnist_fc_8k_linear": 5.0, "mnist_fc_8k_dwn": 7.0}[name]
        assert [type(l).registry_name for l in model.layers] == ["learnable", "random"]
        assert model_info(name)["nodes"] == 8000
    assert get_model("mnist_fc_8k_dwn").config["layer_widths"] == (2000, 6000)
    for name in ("mnist_bitflip_none", "mnist_gradnorm_none", "mnist_residual_init"):  # the ablation network
        model = get_model(name)
        assert model.config["layer_widths"] == (6000, 2000) and model.config["mapping"] == "random"
        assert model.head.tau == pytest.approx(200 ** 0.5)
    info = model_info("mnist_fc_8k_linear")
    assert (info["nodes"], info["layers"], info["node_type"], info["k"]) == (8000, 2, "linear_lut", 4)


def test_fashion_fc_models_are_the_8k_pipeline_with_their_recipes_settings():
    """What campaign_h200_2026-12-02b trained as mnist_fc_8k_dwn with --set options, registered."""
    for name, widths, tau in (("fashion_fc_12k_dwn", (3000, 9000), 12.0), ("fashion_fc_16k_dwn", (4000, 12000), 14.0)):
        model = get_model(name, layer_widths=tuple(w // 100 for w in widths))
        assert model.dataset == "fashion_mnist" and model.encoded_shape == (784 * 6,) and model.head.tau == tau
        assert [type(l).registry_name for l in model.layers] == ["learnable", "random"]
        assert model_info(name)["nodes"] == sum(widths)
        trained_as = get_model("mnist_fc_8k_dwn", encoder="distributive_thermometer", encoder_bits=6,
                               layer_widths=widths, tau=tau)
        assert trained_as.config == get_model(name).config


def test_overrides_reach_the_layers():
    sketch = get_model("mnist_fc_8k_linear", layer_widths=(128, 10))  # the seed sketch, one override away
    assert [layer.output_size for layer in sketch.layers] == [128, 10] and sketch.head.tau == 5.0
    assert get_model("mnist_bitflip_none", layer_widths=(128, 10)).head.tau == 1.0  # sqrt(bits per class)
    assert get_model("mnist_fc_8k_dwn", hidden_size=500).config["layer_widths"] == (500, 6000)
    m = tiny("mnist_fc_8k_linear", node_input_dim=6, encoder_bits=6, flip_probability=0.05,
             grad_stabilization="batchwise")
    assert m.encoder.num_bits == 6 and m.layers[0].input_size == 784 * 6
    assert all(l.k == 6 and l.flip_probability == 0.05 and l.grad_stabilization == "batchwise" for l in m.layers)
    assert m.layers[0].node_cls.registry_name == "linear_lut"
    for name, p in [("mnist_bitflip_none", 0.0), ("mnist_bitflip_5", 0.05), ("mnist_bitflip_10", 0.1),
                    ("mnist_bitflip_20", 0.2)]:
        assert all(l.flip_probability == p for l in tiny(name).layers)
    for mode in ("none", "layerwise", "batchwise", "layerwise_mean"):
        assert all(l.grad_stabilization == mode for l in tiny(f"mnist_gradnorm_{mode}").layers)
    assert all(l.residual_init for l in tiny("mnist_residual_init").layers)
    assert not any(l.residual_init for l in tiny("mnist_fc_8k_dwn").layers)


def test_node_type_encoder_and_mapping_overrides():
    m = tiny("mnist_fc_8k_dwn", node_type="probabilistic", encoder="distributive_thermometer", mapping="learnable")
    assert type(m.encoder).registry_name == "distributive_thermometer"
    assert [type(l).registry_name for l in m.layers] == ["learnable", "random"]
    assert all(l.node_cls.registry_name == "probabilistic" for l in m.layers)
    assert [type(l).registry_name for l in tiny("mnist_fc_8k_dwn").layers] == ["learnable", "random"]
    assert [type(l).registry_name for l in tiny("mnist_fc_8k_dwn", mapping="random").layers] == ["random", "random"]
    m = tiny("mnist_fc_8k_dwn", node_type="dwn", node_kwargs={"efd": "released", "clamp": False})
    assert all(l.node.efd == "released" and not l.node.clamp for l in m.layers)
    with pytest.raises(ValueError, match="node_kwargs: must be None or a dict"):
        tiny("mnist_fc_8k_dwn", node_kwargs=["efd"])
    with pytest.raises(TypeError, match="efd"):
        tiny("mnist_fc_8k_dwn", node_kwargs={"efd_weighting": "paper"})
    with pytest.raises(ValueError, match="node_type: must be a registered node: difflogic, dwn"):
        tiny("mnist_fc_8k_dwn", node_type="lstm")
    with pytest.raises(ValueError, match="encoder: must be a registered encoder: binary"):
        tiny("mnist_fc_8k_dwn", encoder="pca")
    with pytest.raises(ValueError, match="mapping: must be one of 'random', 'learnable'"):
        tiny("mnist_fc_8k_dwn", mapping="dense")


def test_same_name_and_seed_give_the_same_model():
    state = torch.get_rng_state()
    a, b, c = tiny("mnist_fc_8k_dwn", seed=3), tiny("mnist_fc_8k_dwn", seed=3), tiny("mnist_fc_8k_dwn", seed=4)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["layers.0.logits"], sc["layers.0.logits"])
    assert not torch.equal(sa["layers.1.wiring"], sc["layers.1.wiring"])
    assert "encoder.thresholds" in sa  # the whole model, encoder included, is in the state_dict


def test_count_parameters_and_topology():
    assert tiny("mnist_fc_8k_linear").count_parameters()["total"] == 60 * 4 * 3136 + (60 + 30) * (4 + 1)
    m = tiny("mnist_fc_8k_linear", mapping="random")
    counts = m.count_parameters()
    assert counts == {"total": (60 + 30) * (4 + 1), "trainable": (60 + 30) * 5, "non_trainable": 0}
    m.layers[0].node.weight.requires_grad_(False)
    assert m.count_parameters()["non_trainable"] == 60 * 4
    topo = m.get_layer_topology()
    assert [t["name"] for t in topo] == ["encoder", "layers.0", "layers.1", "head"]
    assert topo[0]["input"] == (28, 28) and topo[0]["output"] == (3136,)
    assert (topo[1]["input"], topo[1]["output"], topo[1]["nodes"], topo[1]["k"]) == ((3136,), (60,), 60, 4)
    assert topo[-1]["output"] == (10,)


# -- the forward pass -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist_fc_8k_linear", "mnist_fc_8k_dwn", "mnist_gradnorm_layerwise_mean",
                                  "mnist_residual_init", "fashion_fc_12k_dwn"])
def test_train_forward_is_differentiable_and_eval_is_the_integer_reference(name, mnist):
    images, labels = mnist
    model = tiny(name).fit_encoder(images)
    logits = model(images[:32])
    assert logits.shape == (32, 10) and logits.dtype == torch.float32
    torch.nn.functional.cross_entropy(logits, labels[:32]).backward()
    assert all(p.grad is not None for p in model.parameters())

    model.eval()
    scores = model.class_scores(images, batch_size=128)
    assert scores.dtype == torch.int64 and scores.shape == (300, 10)
    assert torch.equal(scores, reference_class_scores(model, images))
    assert torch.equal(model(images), scores.float() / model.head.tau)
    assert torch.equal(model.predict(images), scores.argmax(1))


def test_predict_breaks_ties_towards_the_lowest_class(mnist):
    images, _ = mnist
    model = get_model("mnist_fc_8k_dwn", layer_widths=(40, 10)).fit_encoder(images)  # one bit per class
    scores = model.class_scores(images)
    assert (scores.max(1).values.unsqueeze(1) == scores).sum(1).gt(1).any()  # there are ties
    expected = torch.tensor([min(c for c in range(10) if s[c] == s.max()) for s in scores])
    assert torch.equal(model.predict(images), expected)


def test_class_scores_use_eval_mode_and_restore_the_mode(mnist):
    images, _ = mnist
    model = tiny("mnist_bitflip_20").fit_encoder(images)
    model.train()
    a, b = model.class_scores(images[:50]), model.class_scores(images[:50])
    assert torch.equal(a, b) and model.training  # no train-time flips, mode restored


def test_bad_inputs_are_clear_errors(mnist):
    images, _ = mnist
    model = tiny("mnist_fc_8k_linear")
    with pytest.raises(NotFittedError, match="fit_encoder"):
        model(images)
    model.fit_encoder(images)
    with pytest.raises(InputError, match=r"shape \(batch, 28, 28\) \(or \(batch, 784\) flattened\), got \(300, 27, 28\)"):
        model(images[:, 1:])
    with pytest.raises(InputError, match="codes out of range"):
        model(torch.full((2, 28, 28), 256))
    with pytest.raises(InputError, match="got torch.bool"):
        model(images > 0)
    normalised = (images.float() / 255 - 0.1307) / 0.3081
    for call in (model, model.fit_encoder, model.class_scores, model.predict):
        with pytest.raises(InputError, match=r"look normalised.*x \* std \+ mean"):
            call(normalised)
    with pytest.raises(InputError, match="exact multiples of 1/255.*e.g. 0.5"):
        model.class_scores(torch.full((1, 28, 28), 0.5))
    off = images.float() / 255
    off[0, 0, 0] += 1e-4  # one value between two codes
    with pytest.raises(InputError, match=r"1 value\(s\) are not"):
        model.predict(off)
    with pytest.raises(InputError, match=r"raw codes stored as floats: pass x.to\(torch.uint8\)"):
        model(images.float())
    with pytest.raises(InputError, match="NaN"):
        model(torch.full((1, 28, 28), float("nan")))
    with pytest.raises(TypeError, match="torch.Tensor or numpy array"):
        model([[0] * 784])


def test_image_batches_as_users_have_them(mnist):
    """Floats equal to code / 255 (ToTensor), singleton-channel and flat shapes, numpy: the same codes."""
    images, labels = mnist
    images, labels = images[:64], labels[:64]
    ref = tiny("mnist_fc_8k_dwn").fit_encoder(images).eval()
    scores = ref.class_scores(images)
    as_float = images.float() / 255                             # torchvision ToTensor
    forms = [as_float, as_float.unsqueeze(1), as_float.reshape(64, -1), images.numpy(), as_float.numpy(),
             images.double() / 255, (images.double() / 255).float(), images.float() * (1 / 255),
             images.unsqueeze(1).to(torch.int32), images.reshape(64, 784)]
    for form in forms:
        assert torch.equal(ref.to_codes(form).long(), images.long())
        assert torch.equal(ref.class_scores(form), scores)
        assert torch.equal(ref.predict(form), scores.argmax(1))
        assert torch.equal(ref(form), ref(images))
    fitted = tiny("mnist_fc_8k_dwn").fit_encoder(as_float.unsqueeze(1).numpy())
    assert torch.equal(fitted.encoder.thresholds, ref.encoder.thresholds)
    assert evaluate(ref, as_float.numpy(), labels.numpy()) == evaluate(ref, images, labels)
    a, b = tiny("mnist_bitflip_5"), tiny("mnist_bitflip_5")
    train(a, images, labels, epochs=1, batch_size=32, progress=False)
    train(b, as_float.unsqueeze(1), labels.numpy(), epochs=1, batch_size=32, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cifar_float_images_and_channel_order():
    codes = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    model = tiny("cifar10_conv").fit_encoder(codes.float() / 255).eval()
    assert torch.equal(model.class_scores(codes.float() / 255), model.class_scores(codes))
    with pytest.raises(InputError, match=r"shape \(batch, 3, 32, 32\).*got \(4, 32, 32, 3\)"):
        model(codes.permute(0, 2, 3, 1))


# -- fault injection and regularisation -----------------------------------------------------------
def test_fault_injection_is_seeded_binary_and_scoped(mnist):
    images, _ = mnist
    model = tiny("mnist_fc_8k_dwn").fit_encoder(images).eval()
    clean = model.class_scores(images)
    with model.inject_faults(0.0):
        assert torch.equal(model.class_scores(images), clean)
    with model.inject_faults(0.2, seed=1):
        noisy = model.class_scores(images)
    with model.inject_faults(0.2, seed=1):
        assert torch.equal(model.class_scores(images), noisy)
    with model.inject_faults(0.2, seed=2):
        assert not torch.equal(model.class_scores(images), noisy)
    assert not torch.equal(noisy, clean)
    assert torch.equal(model.class_scores(images), clean)  # hooks removed
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        with model.inject_faults(1.5):
            pass


def test_regularization_loss():
    assert tiny("mnist_fc_8k_dwn").get_regularization_loss().item() == 0.0
    for kind in ("l1", "l2", "spectral"):
        m = tiny("mnist_fc_8k_linear", regularization=kind, reg_weight=0.5)
        loss = m.get_regularization_loss()
        expected = 0.5 * sum(layer.regularization(kind) for layer in m.layers)
        assert loss.dim() == 0 and loss.item() > 0 and torch.allclose(loss, expected)
        loss.backward()
        assert m.layers[0].node.weight.grad is not None


# -- CIFAR-10 -------------------------------------------------------------------------------------
def test_cifar_conv_keeps_the_spatial_structure_and_eval_is_binary():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 32, 32), generator=g, dtype=torch.uint8)
    model = tiny("cifar10_conv").fit_encoder(images)
    assert isinstance(model, CIFAR10Conv) and model.encoder.feature_shape == (3,)  # per-channel thresholds

    bits = model.encode(images)
    assert bits.shape == (6, 9, 32, 32)
    per_channel = model.encoder.encode(model.to_float(images)[:, 1, 5, 7].reshape(-1, 1).expand(-1, 3), False)
    assert torch.equal(bits[:, 3:6, 5, 7], per_channel[:, 1])  # channel c*n + j = bit j of colour c at (5, 7)

    topo = model.get_layer_topology()
    assert [t["output"] for t in topo] == [(9, 32, 32), (2, 32, 32), (2, 16, 16), (4, 16, 16), (4, 8, 8),
                                           (40,), (20,), (10,)]
    assert model(images).shape == (6, 10)
    model.eval()
    scores = model.class_scores(images)
    assert scores.dtype == torch.int64 and 0 <= int(scores.min()) and int(scores.max()) <= 2  # 20 bits / 10
    x = (torch.rand(2, 3, 8, 8, generator=g) > 0.5).float()
    pooled = model.pool(x)
    assert torch.equal(pooled, x.view(2, 3, 4, 2, 4, 2).amax((3, 5)))  # OR of each 2x2 window
    with pytest.raises(InputError, match=r"\(batch, 3, 32, 32\)"):
        model(images[:, :, :28, :28])


def test_every_code_survives_the_usual_float_forms():
    """All 256 codes as float32 / float64 ``c / 255``, ``c * (1 / 255)`` and via float64 -> float32 map back exactly;
    a value half a step away is refused."""
    from difflut.models.inputs import as_codes

    fmt, codes = BaseModel.input_format, torch.arange(256).reshape(1, 16, 16)
    forms = [codes.float() / 255, codes.double() / 255, codes.float() * (1 / 255), (codes.double() / 255).float(),
             torch.from_numpy(codes.numpy() / 255.0)]
    for form in forms:
        assert torch.equal(as_codes(form, fmt, (16, 16)), codes)
    with pytest.raises(InputError, match="exact multiples of 1/255"):
        as_codes(torch.full((1, 16, 16), 100.5 / 255), fmt, (16, 16))
