"""Exact table refinement (difflut.refine): the loss change it predicts for a flip is the model's own, the
loss never rises, the refined model's eval == its IR, the tables are written back exactly; the CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from difflut import get_model
from difflut.augment import shift_images
from difflut.checkpoint import load, save_checkpoint
from difflut.data import load_mnist
from difflut.hw.lower import lower
from difflut.registry import get_node
from difflut.refine import _State, _shifted_bits, refinable_layers, refine_tables
from tests.irtools import reference_eval


@pytest.fixture(scope="module")
def mnist():
    x, y = load_mnist("train")
    return x[:600], y[:600]


def small_model(images, widths=(40, 20), seed=0):
    """A budget network with random tables (a non-trivial function), fitted encoder, eval mode."""
    model = get_model("mnist_lut_tiny", seed=seed, encoder_budget=300, layer_widths=widths)
    model.fit_encoder(images)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            layer.node.table.copy_(torch.rand(layer.node.table.shape, generator=gen) * 2 - 1)
    return model.eval()


def cross_entropy(model, images, labels, tau):
    scores = model.class_scores(images).double() / tau
    return (torch.logsumexp(scores, 1) - scores[torch.arange(len(labels)), labels]).numpy()


@pytest.mark.parametrize("widths", [(40, 20), (40, 30, 20)])
def test_predicted_loss_change_of_a_flip_is_the_models(mnist, widths):
    """For nodes of every layer: the per-sample loss change _State predicts for flipping one table entry
    equals re-evaluating the model with that entry flipped (through every downstream layer)."""
    images, labels = mnist[0][:200], mnist[1][:200]
    model = small_model(images, widths)
    layers = refinable_layers(model)
    tau = model.head.tau
    state = _State(model, layers, _shifted_bits(model, images, 0, 4096), labels, tau)
    base = cross_entropy(model, images, labels, tau)
    assert np.allclose(state.loss().numpy(), base)
    rng = np.random.default_rng(0)
    checked = moved = 0
    for l, layer in enumerate(layers):
        for n in rng.choice(layer.node.num_nodes, 3, replace=False):
            updates, change = state.toggle(l, int(n))
            if change is None:
                continue
            addr = state.addr[l][:, n].long()
            entry = int(addr[0])  # an entry some sample reaches
            predicted = torch.where(addr == entry, state.loss_change(*change), 0.0).numpy()
            table = layer.node.truth_table().clone()
            table[n, entry] ^= True
            original = layer.node.truth_table().clone()
            layer.node.set_truth_table_(table)
            actual = cross_entropy(model, images, labels, tau) - base
            layer.node.set_truth_table_(original)
            assert np.allclose(predicted, actual, atol=1e-9), (l, n)
            checked += 1
            moved += bool(np.abs(actual).max() > 0)
    assert checked >= len(layers) * 2 and moved > 0


@pytest.mark.parametrize("rewire", [False, True])
def test_refinement_lowers_the_loss_and_the_model_computes_what_it_optimised(mnist, rewire):
    images, labels = mnist
    model = small_model(images, (40, 30, 20), seed=1)
    tau = model.head.tau
    wiring = [layer.connections().clone() for layer in model.layers]
    before = cross_entropy(model, images, labels, tau).mean()
    seen = []  # after each sweep the model holds that sweep's tables: its accuracy is the sweep's
    report = refine_tables(model, images, labels, max_shift=0, sweeps=3, rewire=rewire, on_sweep=lambda e: seen.append(
        (e["sweep"], e["accuracy"], 100.0 * (model.predict(images) == labels).double().mean().item())))
    assert [s[0] for s in seen] == [1, 2, 3] and all(s[1] == pytest.approx(s[2]) for s in seen)
    losses = [report.before["loss"]] + [s["loss"] for s in report.sweeps]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 0.1
    assert report.before["loss"] == pytest.approx(before)
    # the model's eval function is the refined state: same loss and accuracy on the same samples
    assert cross_entropy(model, images, labels, tau).mean() == pytest.approx(losses[-1])
    accuracy = 100.0 * (model.predict(images) == labels).double().mean().item()
    assert accuracy == pytest.approx(report.sweeps[-1]["accuracy"])
    assert sum(report.sweeps[0]["flips"]) > 0 and report.samples == len(images)
    moved = [not torch.equal(layer.connections(), w) for layer, w in zip(model.layers, wiring)]
    assert moved == [rewire] * 3 and ("rewired" in report.sweeps[0]) == rewire
    if rewire:  # the random layers still read distinct inputs
        for layer in model.layers[1:]:
            assert all(row.unique().numel() == layer.k for row in layer.connections())


@pytest.mark.parametrize("rewire", [False, True])
def test_refined_model_lowers_bit_exactly(mnist, tmp_path, rewire):
    images, labels = mnist
    model = small_model(images)
    refine_tables(model, images[:300], labels[:300], max_shift=1, sweeps=1, rewire=rewire)
    ir = lower(model)
    scores, classes = reference_eval(ir, images[300:].numpy())
    assert np.array_equal(scores, model.class_scores(images[300:]).numpy())
    assert np.array_equal(classes, model.predict(images[300:]).numpy())
    # a saved refined model (compact form) keeps the function
    save_checkpoint(model, tmp_path / "r.pt", compact=True)
    assert torch.equal(load(tmp_path / "r.pt").class_scores(images[300:]), model.class_scores(images[300:]))


def test_shifted_samples_are_the_shifted_images(mnist):
    images, labels = mnist[0][:50], mnist[1][:50]
    model = small_model(images)
    bits = _shifted_bits(model, images, 1, 4096)
    assert bits.shape[0] == 9 * 50
    moved = shift_images(images, 1, -1)  # copy (dy, dx) = (1, -1): index 6 of the row-major 3 x 3
    assert torch.equal(bits[6 * 50:7 * 50].float(), model.select(model.encode(moved)))


def test_shift_images():
    x = torch.arange(2 * 4 * 5).view(2, 4, 5)
    out = shift_images(x, 1, -2)
    assert out.shape == x.shape
    for i in range(4):
        for j in range(5):
            src = (i - 1, j + 2)
            expected = x[:, src[0], src[1]] if 0 <= src[0] < 4 and 0 <= src[1] < 5 else torch.zeros(2)
            assert torch.equal(out[:, i, j], expected.to(x.dtype))
    assert torch.equal(shift_images(x, 0, 0), x) and not shift_images(x, 4, 0).any()


@pytest.mark.parametrize("node_type", ["dwn", "dwn_stable"])
def test_set_truth_table_writes_exactly(node_type):
    node = get_node(node_type)(7, 6)
    target = torch.rand(7, 64, generator=torch.Generator().manual_seed(2)) < 0.5
    with torch.no_grad():
        node.corner_scores()[0, :5] = 0.0  # zero scores must turn negative where the table says 0
    node.set_truth_table_(target)
    assert torch.equal(node.truth_table(), target)
    with pytest.raises(ValueError, match="bool tensor of shape"):
        node.set_truth_table_(target[:3])


def test_unwritable_node_and_unsupported_model_are_clear_errors(mnist):
    with pytest.raises(ValueError, match="DiffLogicNode tables cannot be written"):
        get_node("difflogic")(4, 2).check_table_writable()
    conv = get_model("cifar10_conv")
    with pytest.raises(ValueError, match="supports flat LUT layers"):
        refinable_layers(conv)
    model = small_model(mnist[0])
    with pytest.raises(ValueError, match="as many labels as images"):
        refine_tables(model, mnist[0][:10], mnist[1][:9])
    with pytest.raises(ValueError, match="sweeps must be a positive int"):
        refine_tables(model, mnist[0][:10], mnist[1][:10], sweeps=0)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "difflut", *map(str, args)], capture_output=True, text=True)


def test_cli_refine_round_trip_and_errors(mnist, tmp_path):
    model = small_model(mnist[0])
    model.checkpoint_metadata = {"dataset": "mnist"}
    src = tmp_path / "m.pt"
    save_checkpoint(model, src, {"dataset": "mnist"}, compact=True)
    out = tmp_path / "r.pt"
    r = run_cli("refine", src, out, "--train-limit", 300, "--shift", 0, "--rewire")
    assert r.returncode == 0, r.stderr
    assert "sweep 1:" in r.stdout and "wrote" in r.stdout
    refined = load(out)
    info = refined.checkpoint_metadata["refined"]
    assert info["train_images"] == 300 and info["max_shift"] == 0 and len(info["sweeps"]) == 1 and info["rewire"]
    assert not torch.equal(refined.layers[1].connections(), model.layers[1].connections())
    assert not torch.equal(refined.class_scores(mnist[0][:300]), model.class_scores(mnist[0][:300]))
    before = src.read_bytes()
    r = run_cli("refine", src, src)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "OUT must differ" in r.stderr
    assert src.read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    r = run_cli("refine", src, notes)
    assert r.returncode == 2 and "Traceback" not in r.stderr and notes.read_text() == "mine"


def test_set_connections_checks_and_writes():
    from difflut.layers import GroupedLayer, LearnableLayer, RandomLayer

    layer = RandomLayer(20, 5, k=3, seed=0)
    new = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11], [19, 18, 17]])
    layer.set_connections_(new)
    assert torch.equal(layer.connections(), new)
    with pytest.raises(ValueError, match="reads an input twice"):
        layer.set_connections_(torch.tensor([[0, 0, 1]] * 5))
    with pytest.raises(ValueError, match=r"lie in 0..19"):
        layer.set_connections_(new + 1)
    with pytest.raises(ValueError, match="integer tensor of shape"):
        layer.set_connections_(new[:2])
    learnable = LearnableLayer(20, 5, k=3, seed=0)
    learnable.set_connections_(new)
    assert torch.equal(learnable.connections(), new)
    grouped = GroupedLayer(20, 10, 2, k=3, seed=0)
    with pytest.raises(ValueError, match="outside its group"):
        grouped.set_connections_(torch.tensor([[0, 1, 12]] + [[0, 1, 2]] * 4 + [[10, 11, 12]] * 5))
