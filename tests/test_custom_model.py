"""A user's own BaseModel subclasses (not registered) built from registered parts: they train, lower to the
IR, C and Verilog bit-exactly, and their checkpoints load where their module is imported (never by import
on the checkpoint's say-so). Also the seed-document names and the single-file exports of difflut.utils."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import difflut
from difflut import get_encoder, get_layer
from difflut.checkpoint import CheckpointError
from difflut.data import load_mnist
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.export import ExportError, export, render
from difflut.hw.lower import lower
from difflut.models import get_model
from difflut.models.base_model import BaseModel
from difflut.models.cifar10 import OrPool2d
from difflut.models.config import COMMON_DEFAULTS, COMMON_OVERRIDES
from difflut.training import train
from difflut.utils import export_to_c, export_to_fpga

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class MyNet(BaseModel):
    """The recipe form: name, input size and classes given to BaseModel.__init__; two node types."""

    defaults = dict(COMMON_DEFAULTS, encoder_bits=3, layer_widths=(60, 30))
    overridable = COMMON_OVERRIDES
    input_shape = (28, 28)
    dataset = "mnist"

    def __init__(self, seed=0, **overrides):
        super().__init__(seed, name="my_net", input_size=784, num_classes=10, **overrides)

    def _build_layers(self):
        c = self.config
        self.encoder = get_encoder("thermometer")(num_bits=c["encoder_bits"])
        self.hidden = get_layer("random")(784 * c["encoder_bits"], c["layer_widths"][0], node_type="linear_lut",
                                          k=4, seed=self.seed)
        self.out = get_layer("random")(c["layer_widths"][0], c["layer_widths"][1], node_type="dwn_stable", k=6,
                                       seed=self.seed + 1)

    def stages(self):
        return [self.hidden, self.out]


class TinyConv(BaseModel):
    """Per-channel encoder, a LUT conv, OR pooling, flatten, a random layer: (2, 8, 8) inputs, 4 classes."""

    defaults = dict(COMMON_DEFAULTS, encoder_bits=3, tau=2.0)
    input_shape = (2, 8, 8)
    num_classes = 4
    encoder_layout = "channels"

    def _build_layers(self):
        self.encoder = get_encoder("thermometer")(num_bits=3)
        self.conv = get_layer("convolutional")(6, 3, 3, padding=1, tree_depth=2, node_type="dwn_stable", k=6,
                                               seed=self.seed)
        self.pool = OrPool2d(2)
        self.fc = get_layer("random")(3 * 4 * 4, 16, node_type="dwn_stable", k=6, seed=self.seed + 1)

    def stages(self):
        return [self.conv, self.pool, torch.nn.Flatten(), self.fc]


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_mnist("test")
    return images[:200], labels[:200]


@pytest.fixture(scope="module")
def trained(mnist):
    images, labels = mnist
    model = MyNet()
    train(model, images[:150], labels[:150], epochs=1, batch_size=50, progress=False)
    return model.eval()


def _flip_first_table(ir):
    """The IR with node 0 of the last layer inverted (its output bit counts for class 0 in every sample)."""
    last = ir.layers[-1]
    tables = last.tables.copy()
    tables[0] = ~tables[0]
    layers = (*ir.layers[:-1], dataclasses.replace(last, tables=tables))
    return dataclasses.replace(ir, layers=layers)


def test_custom_model_lowers_bit_exactly(trained, mnist):
    images, _ = mnist
    ir = lower(trained)
    codes = images.numpy()
    scores, predicted = evaluate_ir(ir, codes)
    assert np.array_equal(scores, trained.class_scores(images).numpy())
    assert np.array_equal(predicted, trained.predict(images).numpy())
    assert ir.metadata["model"] == "my_net"
    bad_scores, _ = evaluate_ir(_flip_first_table(ir), codes)  # the check sees a flipped table
    assert not np.array_equal(bad_scores, scores)


def test_custom_conv_model_lowers_bit_exactly():
    codes = torch.randint(0, 256, (64, 2, 8, 8), dtype=torch.uint8)
    model = TinyConv().fit_encoder(codes).eval()
    ir = lower(model)
    scores, predicted = evaluate_ir(ir, codes.numpy())
    assert np.array_equal(scores, model.class_scores(codes).numpy())
    assert np.array_equal(predicted, model.predict(codes).numpy())
    assert [layer.name for layer in ir.layers][-2:] == ["pool", "fc"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_custom_model_c_selftest_and_verilog(trained, mnist, tmp_path):
    images, _ = mnist
    manifest = export(trained, "c", tmp_path / "c", vector_codes=images[:64].float() / 255, check=True)
    assert manifest["selftest"].splitlines()[-1] == "PASS" and manifest["model"] == "my_net"
    if shutil.which("iverilog") is None:
        pytest.skip("no Icarus Verilog")
    from difflut.hw.sim import run_sim

    export(trained, "verilog", tmp_path / "rtl", vector_codes=images[:16])
    result = run_sim(tmp_path / "rtl", simulator="icarus")
    assert result.passed, result.summary()


def test_custom_model_checkpoint_names_its_class(trained, mnist, tmp_path):
    images, _ = mnist
    path = tmp_path / "my.pt"
    trained.save_checkpoint(path)
    assert torch.load(path, weights_only=True)["model_class"] == f"{__name__}:MyNet"
    again = difflut.load(path)  # this module is imported: found without importing anything
    assert type(again) is MyNet and torch.equal(again.class_scores(images), trained.class_scores(images))

    here = Path(__file__).parent
    cmd = [sys.executable, "-m", "difflut", "eval", str(path), "--limit", "50"]
    refused = subprocess.run(cmd, cwd=here, capture_output=True, text=True)
    assert refused.returncode == 2 and f"--import {__name__}" in refused.stderr
    assert "never imports a checkpoint's module" in refused.stderr and "Traceback" not in refused.stderr
    ok = subprocess.run(cmd + ["--import", __name__], cwd=here, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "my_net on mnist test (50 images" in ok.stdout


def test_checkpoint_of_an_unknown_class_is_refused(trained, tmp_path):
    path = tmp_path / "my.pt"
    trained.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["model_class"] = "not_imported_anywhere:MyNet"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="'not_imported_anywhere' is not imported.*--import not_imported"):
        difflut.load(path)
    assert "not_imported_anywhere" not in sys.modules


def test_recipe_arguments_are_checked():
    with pytest.raises(ValueError, match="registered as 'mnist_fc_8k_dwn', not 'other'"):
        type(get_model("mnist_fc_8k_dwn", layer_widths=(60, 30)))(name="other", layer_widths=(60, 30))
    with pytest.raises(ValueError, match=r"declares input_shape=\(2, 8, 8\) \(128 features\), got input_size=100"):
        TinyConv(input_size=100)
    with pytest.raises(ValueError, match="declares num_classes=4"):
        TinyConv(num_classes=10)
    assert MyNet().input_shape == (28, 28) and MyNet().model_name == "my_net"

    class NoTau(TinyConv):
        defaults = dict(TinyConv.defaults, tau=None)

    with pytest.raises(ValueError, match="set tau in defaults"):
        NoTau()


def test_seed_document_names():
    assert get_model("mnist_bitflip_0", layer_widths=(60, 30)).model_name == "mnist_bitflip_none"
    from difflut.models import base

    assert BaseModel is base.BaseModel
    with pytest.raises(KeyError, match="unknown model 'mnist_bitflip_1'"):
        get_model("mnist_bitflip_1")


def test_cifar10_conv_takes_node_type():
    model = get_model("cifar10_conv", conv_channels=(2, 4), layer_widths=(40, 20), encoder_bits=3,
                      node_type="linear_lut", node_input_dim=4)
    assert {layer.node_cls.registry_name for layer in model.lut_layers()} == {"linear_lut"}
    assert get_model("cifar10_conv", conv_channels=(2, 4), layer_widths=(40, 20)).config["node_type"] == "dwn_stable"


def test_single_file_exports(trained, mnist, tmp_path):
    images, _ = mnist
    trained.train()
    h = export_to_c(trained, tmp_path / "model.h", vectors=images[:32].float() / 255)
    assert trained.training  # its mode is restored
    files, _ = render(trained.eval(), "c", name="model", vector_codes=images[:32].numpy())
    assert h.read_bytes() == files["model.h"]
    v = export_to_fpga(trained, tmp_path / "model.v", vectors=images[:32])
    files, _ = render(trained, "verilog", name="model", vector_codes=images[:32].numpy())
    assert v.read_bytes() == files["model.v"] and not trained.training
    with pytest.raises(ExportError, match="exists; pass overwrite=True"):
        export_to_c(trained, h, vectors=images[:32])
    before = h.read_bytes()
    export_to_c(trained, h, vectors=images[:32], overwrite=True)
    assert h.read_bytes() == before
    with pytest.raises(ExportError, match=r"must end in \.h"):
        export_to_c(trained, tmp_path / "model.c", vectors=images[:32])
    with pytest.raises(difflut.errors.InputError, match="look normalised"):
        export_to_c(trained, tmp_path / "other.h", vectors=(images[:32].float() / 255 - 0.5) / 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h", "model.v"]  # no temporary files left
