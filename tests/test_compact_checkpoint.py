"""Compact checkpoints: connections instead of mapping logits, float16 node parameters only where the truth
tables stay equal; the same eval function and IR as the full checkpoint; malformed entries are refused."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difflut.checkpoint import CheckpointError, load, read_checkpoint, state_digest
from difflut.data import load_mnist
from difflut.hw.lower import lower
from difflut.models import get_model, list_models
from difflut.models.pretrained import MAX_BYTES
from irtools import corrupted

#: provenance in the IR metadata: names the file / state the IR came from, not the function
PROVENANCE = ("checkpoint_sha256", "state_digest")
TABLE = "table"  # the parameter of mnist_lut_tiny's node (dwn) that holds its corner scores
#: registered models whose compact checkpoint is over the shipping limit (docs/MODEL_ZOO.md names them)
OVER_SHIPPING_LIMIT = {"fashion_fc_16k_dwn"}


def ir_function(model) -> dict:
    """The model's IR as a JSON document, provenance left out."""
    doc = json.loads(lower(model).to_json())
    for key in PROVENANCE:
        doc["metadata"].pop(key, None)
    return doc


@pytest.fixture(scope="module")
def test_set():
    return load_mnist("test")


@pytest.fixture(scope="module")
def saved(trained_tiny_lut, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compact")
    trained_tiny_lut.save_checkpoint(folder / "full.pt", metadata={"epoch": 2})
    trained_tiny_lut.save_checkpoint(folder / "compact.pt", metadata={"epoch": 2}, compact=True)
    return folder / "full.pt", folder / "compact.pt"


def test_compact_checkpoint_has_the_full_ones_eval_function_and_ir(saved, test_set):
    full_path, compact_path = saved
    full, compact = load(full_path), load(compact_path)
    images = test_set[0]
    assert torch.equal(compact.class_scores(images), full.class_scores(images))  # all 10,000 test images
    assert ir_function(compact) == ir_function(full)
    assert compact.checkpoint_metadata == {"epoch": 2}
    ckpt = read_checkpoint(compact_path)
    assert ckpt["compact"]["layers.0.logits"] == "one_hot"
    assert ckpt["state_dict"]["layers.0.logits"].shape == (60, 6)
    assert ckpt["state_dict"][f"layers.0.node.{TABLE}"].dtype == torch.float16
    assert ckpt["state_dict"]["layers.1.wiring"].dtype == torch.int16
    assert compact_path.stat().st_size * 10 < full_path.stat().st_size
    # restored as one-hot logits whose argmax is the saved connection
    logits = compact.layers[0].logits
    assert torch.equal(logits.sum(-1), torch.ones(60, 6)) and torch.equal(logits.argmax(-1),
                                                                           full.layers[0].connections())


def test_a_changed_connection_is_caught(saved, tmp_path, test_set):
    full_path, compact_path = saved
    ckpt = torch.load(compact_path, weights_only=True)
    conn = ckpt["state_dict"]["layers.0.logits"]
    conn[3, 2] = (conn[3, 2] + 1) % 300
    ckpt["digest"] = state_digest(ckpt["state_dict"])
    torch.save(ckpt, tmp_path / "moved.pt")
    moved, full = load(tmp_path / "moved.pt"), load(full_path)
    assert ir_function(moved) != ir_function(full)
    assert not torch.equal(moved.layers[0].connections(), full.layers[0].connections())


def test_rounding_only_where_the_truth_tables_stay_equal(trained_tiny_lut, tmp_path, test_set):
    """A table entry of -1e-9 rounds to float16 -0.0, whose decision (>= 0) differs: that layer goes
    bfloat16; -1e-45 rounds to -0.0 in both: that layer stays float32."""
    model = copy.deepcopy(trained_tiny_lut)
    with torch.no_grad():
        model.layers[1].node.corner_scores()[4, 7] = -1e-9
        model.layers[0].node.corner_scores()[2, 3] = -1e-45
    assert not bool(model.layers[1].node.truth_table()[4, 7]) and not bool(model.layers[0].node.truth_table()[2, 3])
    model.eval().save_checkpoint(tmp_path / "c.pt", compact=True)
    ckpt = read_checkpoint(tmp_path / "c.pt")
    assert f"layers.0.node.{TABLE}" not in ckpt["compact"] and ckpt["compact"][f"layers.1.node.{TABLE}"] == "cast"
    assert ckpt["state_dict"][f"layers.0.node.{TABLE}"].dtype == torch.float32
    assert ckpt["state_dict"][f"layers.1.node.{TABLE}"].dtype == torch.bfloat16
    loaded = load(tmp_path / "c.pt")
    for i in (0, 1):
        assert torch.equal(loaded.layers[i].node.truth_table(), model.layers[i].node.truth_table())
    assert torch.equal(loaded.class_scores(test_set[0][:2000]), model.class_scores(test_set[0][:2000]))
    assert ir_function(loaded) == ir_function(model)
    # negative: the float16 rounding would have flipped exactly that bit
    rounded = copy.deepcopy(model.layers[1].node)
    with torch.no_grad():
        rounded.corner_scores().copy_(rounded.corner_scores().to(torch.float16).float())
    assert bool(rounded.truth_table()[4, 7])


def test_a_dwn_model_with_a_learnable_first_layer_compacts_exactly(tmp_path, test_set):
    images = test_set[0][:500]
    model = get_model("mnist_fc_8k_dwn", seed=2, layer_widths=(40, 20), encoder_bits=3).fit_encoder(images).eval()
    model.save_checkpoint(tmp_path / "c.pt", compact=True)
    loaded = load(tmp_path / "c.pt")
    assert torch.equal(loaded.class_scores(images), model.class_scores(images))
    assert ir_function(loaded) == ir_function(model)


def _rewrite(path, source, change):
    ckpt = torch.load(source, weights_only=True)
    change(ckpt)
    ckpt["digest"] = state_digest(ckpt["state_dict"])
    torch.save(ckpt, path)


def _set(name, value):
    return lambda c: c["state_dict"].__setitem__(name, value)


@pytest.mark.parametrize("change,message", [
    (lambda c: c.update(compact=["layers.0.logits"]), r"entry 'compact' must be a dict, got list"),
    (lambda c: c["compact"].update({"layers.9.logits": "one_hot"}), r"'layers.9.logits' names no state_dict"),
    (lambda c: c["compact"].update({"layers.0.logits": "zip"}), r"form 'zip'; known: one_hot, cast"),
    (lambda c: c["compact"].update({"encoder.thresholds": "one_hot"}), r"'encoder.thresholds' \(one_hot\) cannot"),
    (lambda c: c["compact"].update({"encoder.thresholds": "cast"}), r"'encoder.thresholds' \(cast\) cannot be"),
    (_set("layers.0.logits", torch.zeros(60, 6)), r"'layers.0.logits' \(one_hot\) cannot be stored as torch.float"),
    (_set("layers.0.logits", torch.zeros(60, 5, dtype=torch.int16)), r"does not fit the model's torch.float32"),
    (_set("layers.0.logits", torch.full((60, 6), 300, dtype=torch.int16)), r"connections outside 0..299"),
    (_set("layers.0.logits", torch.full((60, 6), -1, dtype=torch.int16)), r"connections outside 0..299"),
    (_set("layers.1.wiring", torch.zeros(20, 6, dtype=torch.float16)), r"'layers.1.wiring' \(cast, torch.float16"),
    (_set(f"layers.0.node.{TABLE}", torch.zeros(60, 6, dtype=torch.float16)), r"does not fit 'mnist_lut_tiny'"),
    (lambda c: c["compact"].update({"nonexistent": "cast"}) or c["state_dict"].update(
        nonexistent=torch.zeros(2, dtype=torch.int16)), r"'nonexistent' is not a tensor of the model"),
])
def test_malformed_compact_entries_are_checkpoint_errors(saved, tmp_path, change, message):
    _rewrite(tmp_path / "bad.pt", saved[1], change)
    with pytest.raises(CheckpointError, match=message):
        load(tmp_path / "bad.pt")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(["truncate", "flip"]), where=st.floats(0, 1), byte=st.integers(1, 255),
       count=st.integers(1, 4))
def test_corrupted_compact_files_are_refused_or_equal(saved, tmp_path, test_set, how, where, byte, count):
    full_path, compact_path = saved
    bad = tmp_path / "bad.pt"
    bad.write_bytes(corrupted(compact_path.read_bytes(), how, where, byte, count))
    try:
        loaded = load(bad)
    except CheckpointError as e:
        assert str(e)
        return
    images = test_set[0][:500]
    assert torch.equal(loaded.class_scores(images), load(full_path).class_scores(images))
    assert ir_function(loaded) == ir_function(load(full_path))


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_compacts_exactly_and_fits_the_shipping_limit(name, tmp_path):
    """Default sizes (untrained: the size does not depend on training, except a float32 fallback)."""
    gen = torch.Generator().manual_seed(0)
    model = get_model(name)
    images = torch.randint(0, 256, (8, *model.input_shape), dtype=torch.uint8, generator=gen)
    model.fit_encoder(images).eval()
    model.save_checkpoint(tmp_path / "c.pt", compact=True)
    assert ((tmp_path / "c.pt").stat().st_size > MAX_BYTES) == (name in OVER_SHIPPING_LIMIT)
    assert torch.equal(load(tmp_path / "c.pt").class_scores(images), model.class_scores(images))


def test_c_export_of_the_compact_checkpoint_differs_only_in_provenance(saved, tmp_path):
    from difflut.hw.export import export

    headers = []
    for path in saved:
        export(path, "c", tmp_path / path.stem, vectors=16)
        lines = (tmp_path / path.stem / "mnist_lut_tiny.h").read_text().splitlines()
        headers.append([line for line in lines if "sha256" not in line])
    assert headers[0] == headers[1] and len(headers[0]) > 100
