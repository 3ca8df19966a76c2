"""Checkpoints: self-contained, exact round trips, clear errors for bad files, atomic saving."""

import hashlib
import os
import subprocess
import sys
import zipfile

import pytest
import torch

import difflut.checkpoint as ckpt_mod
from difflut.checkpoint import CheckpointError, as_registered, read_checkpoint
from difflut.data import load_mnist
from difflut.models import get_model, load
from difflut.models.fashion import FashionDWN12k

OVERRIDES = {"layer_widths": (50, 20), "encoder_bits": 5, "flip_probability": 0.05}


@pytest.fixture(scope="module")
def images():
    return load_mnist("test")[0][:200]


@pytest.fixture(scope="module")
def trained(images):
    """A tiny model, encoder fitted, parameters moved away from their seeded init."""
    model = get_model("mnist_fc_8k_dwn", seed=7, **OVERRIDES).fit_encoder(images)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    labels = load_mnist("test")[1][:200]
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_round_trip_reproduces_eval_outputs_exactly(trained, images, tmp_path):
    path = tmp_path / "m.pt"
    trained.save_checkpoint(path, metadata={"epoch": 3, "note": "unit test"})
    fresh = get_model("mnist_fc_8k_dwn", seed=7, **OVERRIDES)
    assert not torch.equal(fresh.layers[0].node.logits, trained.layers[0].node.logits)
    fresh.load_checkpoint(path).eval()
    reloaded = load(path)  # needs no name
    assert not reloaded.training and reloaded.model_name == "mnist_fc_8k_dwn" and reloaded.seed == 7
    expected = trained.class_scores(images)
    for model in (fresh, reloaded):
        assert torch.equal(model.class_scores(images), expected)
        assert torch.equal(model(images), trained(images))
        assert torch.equal(model.encoder.thresholds, trained.encoder.thresholds)
    assert reloaded.checkpoint_metadata == {"epoch": 3, "note": "unit test"}
    file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert reloaded.checkpoint_sha256 == fresh.checkpoint_sha256 == file_hash


def test_checkpoint_is_self_contained_and_weights_only(trained, tmp_path):
    path = tmp_path / "m.pt"
    trained.save_checkpoint(path)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "difflut-checkpoint" and raw["model_name"] == "mnist_fc_8k_dwn"
    assert raw["library_version"] == __import__("difflut").__version__
    assert raw["seed"] == 7 and raw["overrides"] == {"layer_widths": [50, 20], "encoder_bits": 5,
                                                     "flip_probability": 0.05}
    assert "encoder.thresholds" in raw["state_dict"] and "layers.1.wiring" in raw["state_dict"]
    assert read_checkpoint(path)["digest"] == raw["digest"]


def test_an_unfitted_model_round_trips_unfitted(tmp_path, images):
    model = get_model("mnist_fc_8k_linear", layer_widths=(20, 10))
    model.save_checkpoint(tmp_path / "u.pt")
    assert not load(tmp_path / "u.pt").encoder.fitted


def test_corrupt_truncated_and_foreign_files_are_clear_errors(trained, tmp_path):
    good = tmp_path / "m.pt"
    trained.save_checkpoint(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable DiffLUT checkpoint"):
        load(truncated)

    # flip bytes inside a weight tensor's record: caught by the zip CRC or by the SHA-256 digest
    with zipfile.ZipFile(good) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    corrupt = tmp_path / "corrupt.pt"
    buf = bytearray(data)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2
    buf[start:start + 8] = bytes(b ^ 0xFF for b in buf[start:start + 8])
    corrupt.write_bytes(bytes(buf))
    with pytest.raises(CheckpointError, match="corrupt"):
        get_model("mnist_fc_8k_dwn", seed=7, **OVERRIDES).load_checkpoint(corrupt)

    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable DiffLUT checkpoint"):
        load(text)

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a DiffLUT checkpoint"):
        load(foreign)

    whole_module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), whole_module)  # a pickled object: refused by weights_only loading
    with pytest.raises(CheckpointError, match="not a readable DiffLUT checkpoint"):
        load(whole_module)

    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load(tmp_path / "missing.pt")


def test_another_models_checkpoint_is_a_clear_error(trained, tmp_path):
    path = tmp_path / "m.pt"
    trained.save_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds model 'mnist_fc_8k_dwn', not 'mnist_bitflip_5'"):
        get_model("mnist_bitflip_5", **OVERRIDES).load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"another configuration.*layer_widths: saved \[50, 20\]"):
        get_model("mnist_fc_8k_dwn", seed=7, **dict(OVERRIDES, layer_widths=(40, 20))).load_checkpoint(path)


def test_saving_is_atomic(trained, tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    trained.save_checkpoint(path, metadata={"version": 1})
    trained.save_checkpoint(path, metadata={"version": 2})  # overwrite in place
    assert read_checkpoint(path)["metadata"] == {"version": 2}
    before = path.read_bytes()

    def failing_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        trained.save_checkpoint(path, metadata={"version": 3})
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["m.pt"]  # and no temporary file is left behind


def test_metadata_must_be_plain(trained, tmp_path):
    with pytest.raises(TypeError, match="metadata.bad"):
        trained.save_checkpoint(tmp_path / "m.pt", metadata={"bad": object()})
    assert not (tmp_path / "m.pt").exists()


def _budget_model(images, **overrides):
    model = get_model("mnist_lut_tiny", layer_widths=(40, 20), encoder_budget=200, **overrides)
    model.fit_encoder(images[:200])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    return model.eval()


def test_a_file_of_an_earlier_registration_loads_as_it_was(images, tmp_path, monkeypatch):
    """The model's defaults changed after the file was written: the saved configuration wins."""
    from difflut.models.lut_zoo import MNISTLUTTiny

    model = _budget_model(images)
    path = tmp_path / "m.pt"
    model.save_checkpoint(path)
    # a re-registration: other defaults for keys the file did not override
    monkeypatch.setattr(MNISTLUTTiny, "defaults", dict(MNISTLUTTiny.defaults, reduction_widths=(10,), tau=2.0,
                                                         encoder_bits=3))
    again = load(path)
    assert again.config["reduction_widths"] == () and again.config["tau"] == 1.0
    assert again.config["encoder_bits"] == 4 and again.config["layer_widths"] == (40, 20)
    assert torch.equal(again.class_scores(images[:64]), model.class_scores(images[:64]))


def test_a_key_the_model_gained_later_counts_at_its_default(images, tmp_path):
    model = _budget_model(images)
    path = tmp_path / "m.pt"
    model.save_checkpoint(path)
    raw = torch.load(path, weights_only=True)
    del raw["config"]["learnable_layers"]  # as written before the key existed
    torch.save(raw, path)
    assert torch.equal(load(path).class_scores(images[:64]), model.class_scores(images[:64]))
    other = _budget_model(images, learnable_layers=2)  # not the default: a real difference
    with pytest.raises(CheckpointError, match="learnable_layers: saved None, model 2"):
        ckpt_mod.load_into(other, path)


# -- a network trained under another name, stored as the registered model ----------------------------
FASHION_12K_AS_8K = {"encoder": "distributive_thermometer", "encoder_bits": 6, "layer_widths": (3000, 9000),
                     "tau": 12.0}


def test_a_run_under_overrides_is_stored_as_the_registered_model(images, tmp_path, monkeypatch):
    """difflut compact RUN.pt OUT.pt --model NAME: the same seed, state and eval function under NAME; another
    configuration, or a class computing another function, is refused."""
    def compact_as(name, out):
        return subprocess.run([sys.executable, "-m", "difflut", "compact", str(tmp_path / "run.pt"), str(out),
                               "--model", name], capture_output=True, text=True, timeout=300)

    run = get_model("mnist_fc_8k_dwn", seed=3, **FASHION_12K_AS_8K).fit_encoder(images).eval()
    with torch.no_grad():
        run.layers[1].node.logits.normal_(generator=torch.Generator().manual_seed(1))  # away from the seeded init
    run.save_checkpoint(tmp_path / "run.pt", metadata={"dataset": "fashion_mnist", "epoch": 30})
    r = compact_as("fashion_fc_12k_dwn", tmp_path / "out.pt")
    assert r.returncode == 0, r.stderr
    stored = load(tmp_path / "out.pt")
    assert (stored.model_name, stored.seed, stored.checkpoint_metadata["epoch"]) == ("fashion_fc_12k_dwn", 3, 30)
    assert read_checkpoint(tmp_path / "out.pt")["overrides"] == {}
    assert stored.checkpoint_metadata["trained_as"] == {
        "model": "mnist_fc_8k_dwn", "overrides": {**FASHION_12K_AS_8K, "layer_widths": [3000, 9000]}}
    assert torch.equal(stored.class_scores(images), run.class_scores(images))

    with pytest.raises(CheckpointError, match="is not 'fashion_fc_16k_dwn': layer_widths: checkpoint \\[3000, 9000\\], "
                                              "fashion_fc_16k_dwn \\[4000, 12000\\], tau"):
        as_registered(run, "fashion_fc_16k_dwn")
    r = compact_as("fashion_fc_16k_dwn", tmp_path / "x.pt")
    assert r.returncode != 0 and "is not 'fashion_fc_16k_dwn'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.pt").exists()
    wrong = FashionDWN12k.class_scores
    monkeypatch.setattr(FashionDWN12k, "class_scores", lambda self, x, **kw: wrong(self, x, **kw) + 1)
    with pytest.raises(CheckpointError, match="computes another function"):
        as_registered(run, "fashion_fc_12k_dwn")
