"""Shipped trained models (difflut/models/pretrained/): every shipped file's recorded accuracy is recomputed on
the whole test set; the mechanism (save, get_model(pretrained=True), metadata, errors, CLI) is tested on a
model trained here on the CPU and written to a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from difflut.checkpoint import CheckpointError, read_checkpoint
from difflut.data import load_dataset, load_mnist
from difflut.models import get_model, model_info, pretrained as shipped
from difflut.models.budget import luts_estimate

RECIPE = "tests/test_pretrained.py: 2 epochs on 3,000 training images, batch 128, seed 1"


def held_out_split(dataset: str, shared: Path):
    """The whole test split of ``dataset`` (as found by DIFFLUT_DATA, else in the folder ``shared``); skip if
    it is in neither place."""
    try:
        return load_dataset(dataset, "test")
    except FileNotFoundError as e:
        if (shared / dataset.replace("_", "-")).is_dir():
            return load_dataset(dataset, "test", data_dir=shared)
        pytest.skip(f"{dataset} test set not available (set DIFFLUT_DATA): {str(e).splitlines()[0]}")


def check_shipped(name: str, shared: Path) -> None:
    """The shipped file of ``name``: compact, small, its metadata consistent and its accuracy reproduced on
    the test split (bundled, or in the folder ``shared``)."""
    info = shipped.pretrained_info(name)
    assert info["compact"] and info["bytes"] <= shipped.MAX_BYTES
    images, labels = held_out_split(info["dataset"], shared)
    assert info["test_images"] == len(labels)
    model = get_model(name, pretrained=True)
    assert not model.training and model.model_name == name
    assert shipped.count_correct(model, images, labels) == info["test_correct"], (
        f"{name}: shipped accuracy {info['test_accuracy']}% is not reproduced")


NO_SHIPPED = pytest.param(None, marks=pytest.mark.skip(
    reason=f"no pretrained model ships yet: {shipped.FOLDER} has no .pt file"), id="none-shipped")


@pytest.mark.parametrize("name", shipped.pretrained_names() or [NO_SHIPPED])
def test_shipped_model_reproduces_its_accuracy(name, shared_datasets):
    check_shipped(name, shared_datasets)


def test_only_registered_models_are_shipped():
    from difflut.models import list_models

    assert set(shipped.pretrained_names()) <= set(list_models())
    assert not [p.name for p in shipped.FOLDER.iterdir() if p.suffix not in (".pt", ".py", ".md")
                and p.name != "__pycache__"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty pretrained folder in place of the shipped one."""
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    return tmp_path


@pytest.fixture
def with_tiny(folder, trained_tiny_lut):
    images, labels = load_mnist("test")
    metadata = shipped.pretrained_metadata(trained_tiny_lut, images, labels, dataset="mnist",
                                           luts=luts_estimate(trained_tiny_lut), recipe=RECIPE, extra={"epoch": 2})
    size = shipped.save_pretrained(trained_tiny_lut, folder / "mnist_lut_tiny.pt", metadata)
    assert size == (folder / "mnist_lut_tiny.pt").stat().st_size < 100_000
    return folder / "mnist_lut_tiny.pt"


def test_get_model_pretrained_loads_the_shipped_model(with_tiny, trained_tiny_lut, shared_datasets):
    check_shipped("mnist_lut_tiny", shared_datasets)
    model = get_model("mnist_lut_tiny", pretrained=True)
    images = load_mnist("test")[0][:2000]
    assert torch.equal(model.class_scores(images), trained_tiny_lut.class_scores(images))
    info = shipped.pretrained_info("mnist_lut_tiny")
    correct = int((trained_tiny_lut.predict(load_mnist("test")[0]) == load_mnist("test")[1]).sum())
    assert (info["test_correct"], info["test_images"], info["dataset"]) == (correct, 10000, "mnist")
    assert info["test_accuracy"] == round(correct / 100, 4) and 30 < info["test_accuracy"] < 100
    assert info["luts"]["source"] == "IR estimate" and info["luts"]["total"] == (
        info["luts"]["layers"] + info["luts"]["popcount"] + info["luts"]["argmax"])
    assert info["recipe"] == RECIPE and info["epoch"] == 2 and info["model"] == "mnist_lut_tiny"
    assert model_info("mnist_lut_tiny")["pretrained"]["test_accuracy"] == info["test_accuracy"]
    assert model_info("mnist_lut_small")["pretrained"] is None


def test_a_wrong_recorded_accuracy_is_caught(with_tiny, shared_datasets):
    ckpt = torch.load(with_tiny, weights_only=True)
    ckpt["metadata"].update(test_correct=ckpt["metadata"]["test_correct"] + 1,
                            test_accuracy=round((ckpt["metadata"]["test_correct"] + 1) / 100, 4))
    torch.save(ckpt, with_tiny)
    with pytest.raises(AssertionError, match="shipped accuracy .* is not reproduced"):
        check_shipped("mnist_lut_tiny", shared_datasets)


@pytest.mark.parametrize("change,message", [
    (lambda m: m.pop("recipe"), "pretrained metadata lacks recipe"),
    (lambda m: m.update(test_accuracy=99.99), "test_accuracy 99.99 is not 100 \\*"),
    (lambda m: m.update(test_correct=-1), "test_correct / test_images must be"),
    (lambda m: m["luts"].update(total=1), "luts total must be layers \\+ popcount \\+ argmax"),
    (lambda m: m["luts"].update(source="guess"), "source one of"),
    (lambda m: m["luts"].pop("encoder"), "luts must be a dict of"),
    (lambda m: m["luts"].update(layers=-5), "non-negative integers"),
])
def test_bad_metadata_is_a_checkpoint_error(with_tiny, change, message):
    ckpt = torch.load(with_tiny, weights_only=True)
    change(ckpt["metadata"])
    torch.save(ckpt, with_tiny)
    with pytest.raises(CheckpointError, match=message):
        shipped.pretrained_info("mnist_lut_tiny")
    with pytest.raises(CheckpointError, match=message):
        get_model("mnist_lut_tiny", pretrained=True)


def test_a_file_under_another_models_name_is_refused(with_tiny):
    with_tiny.rename(with_tiny.with_name("mnist_lut_small.pt"))
    with pytest.raises(CheckpointError, match="holds model 'mnist_lut_tiny', not 'mnist_lut_small'"):
        get_model("mnist_lut_small", pretrained=True)


def test_a_model_without_a_shipped_file_is_a_clear_error(with_tiny):
    with pytest.raises(KeyError, match="'mnist_lut_large' has no pretrained checkpoint; models with one: "
                                       "mnist_lut_tiny"):
        get_model("mnist_lut_large", pretrained=True)
    with pytest.raises(KeyError, match="unknown|nope"):
        get_model("nope", pretrained=True)
    with pytest.raises(ValueError, match="takes no seed or overrides"):
        get_model("mnist_lut_tiny", pretrained=True, layer_widths=(10,))


def test_no_shipped_files_is_said(folder):
    with pytest.raises(KeyError, match="models with one: none in this installation"):
        get_model("mnist_lut_tiny", pretrained=True)


def test_a_file_over_the_size_limit_is_not_written(folder, trained_tiny_lut, monkeypatch):
    images, labels = load_mnist("test")
    metadata = shipped.pretrained_metadata(trained_tiny_lut, images[:100], labels[:100], dataset="mnist",
                                           luts=luts_estimate(trained_tiny_lut), recipe=RECIPE)
    monkeypatch.setattr(shipped, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="over the 1,000 that may ship"):
        shipped.save_pretrained(trained_tiny_lut, folder / "mnist_lut_tiny.pt", metadata)
    assert list(folder.iterdir()) == []


def test_luts_from_a_synth_report():
    report = {"format": "difflut-synth-report", "target": "xilinx",
              "roles": {"encoder": {"luts": 400}, "layers": {"luts": 530}, "popcount": {"luts": 88},
                        "argmax": {"luts": 60}, "registers": {"luts": 0}}}
    assert shipped.luts_from_synth(report) == {"layers": 530, "popcount": 88, "argmax": 60, "encoder": 400,
                                               "total": 678, "source": "difflut synth --target xilinx"}
    with pytest.raises(ValueError, match="come from --target xilinx"):
        shipped.luts_from_synth(dict(report, target="ecp5"))


def test_cli_compact_and_pretrained(trained_tiny_lut, tmp_path):
    trained_tiny_lut.save_checkpoint(tmp_path / "full.pt", metadata={"dataset": "mnist", "epoch": 2})
    run = lambda *a: subprocess.run([sys.executable, "-m", "difflut", *a], capture_output=True, text=True,
                                    timeout=300)
    r = run("compact", str(tmp_path / "full.pt"), str(tmp_path / "c.pt"))
    assert r.returncode == 0, r.stderr
    assert "compact checkpoint" in r.stdout and read_checkpoint(tmp_path / "c.pt")["compact"]
    r = run("compact", str(tmp_path / "full.pt"), str(tmp_path / "p.pt"), "--pretrained", "--estimate",
            "--recipe", RECIPE)
    assert r.returncode == 0, r.stderr
    meta = read_checkpoint(tmp_path / "p.pt")["metadata"]
    assert meta["epoch"] == 2 and meta["recipe"] == RECIPE and f"{meta['test_accuracy']:.2f}%" in r.stdout
    r = run("compact", str(tmp_path / "full.pt"), str(tmp_path / "q.pt"), "--pretrained", "--estimate")
    assert r.returncode == 2 and "needs --recipe" in r.stderr and not (tmp_path / "q.pt").exists()
    (tmp_path / "notes.txt").write_text("mine")
    r = run("compact", str(tmp_path / "full.pt"), str(tmp_path / "notes.txt"))
    assert r.returncode == 2 and (tmp_path / "notes.txt").read_text() == "mine"
    r = run("list-models")
    assert r.returncode == 0 and "pretrained" in r.stdout.splitlines()[0]


def test_a_dataset_that_is_not_here_skips_with_its_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFLUT_DATA", str(tmp_path))  # an empty folder: no Fashion-MNIST (not bundled)
    with pytest.raises(pytest.skip.Exception, match="fashion_mnist test set not available"):
        held_out_split("fashion_mnist", tmp_path)


def test_bench_pareto_records_a_trained_checkpoint_with_its_synth_report(trained_tiny_lut, tmp_path):
    """benchmarks/bench_pareto.py --record: accuracy recomputed on the whole test split, LUTs from the report."""
    import json

    trained_tiny_lut.save_checkpoint(tmp_path / "m.pt", metadata={"dataset": "mnist", "recipe": RECIPE}, compact=True)
    report = {"format": "difflut-synth-report", "target": "xilinx", "design": {"top": "mnist_lut_tiny"},
              "roles": {"encoder": {"luts": 300}, "layers": {"luts": 80}, "popcount": {"luts": 20},
                        "argmax": {"luts": 30}}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pareto.py"
    run = lambda *a: subprocess.run([sys.executable, str(script), "--record", *a], capture_output=True, text=True,
                                    timeout=300)
    r = run(str(tmp_path / "m.pt"), str(tmp_path / "report.json"), "--json", str(tmp_path / "p.json"))
    assert r.returncode == 0, r.stderr
    (entry,) = json.loads((tmp_path / "p.json").read_text())["runs"]
    images, labels = load_mnist("test")
    assert entry["test_accuracy"] == round(100 * shipped.count_correct(trained_tiny_lut, images, labels) / 10000, 4)
    assert entry["luts"]["total"] == 130 and entry["luts"]["encoder"] == 300 and entry["recipe"] == RECIPE
    assert entry["checkpoint"] == (tmp_path / "m.pt").as_posix()
    report["design"]["top"] = "mnist_fc_8k_dwn"
    (tmp_path / "report.json").write_text(json.dumps(report))
    r = run(str(tmp_path / "m.pt"), str(tmp_path / "report.json"), "--json", str(tmp_path / "q.json"))
    assert r.returncode != 0 and "synthesis of 'mnist_fc_8k_dwn', not of 'mnist_lut_tiny'" in r.stderr
    assert not (tmp_path / "q.json").exists()
    # a file stored under its registered name by difflut compact --model: the report of its training name fits
    trained_tiny_lut.save_checkpoint(tmp_path / "r.pt", compact=True, metadata={
        "dataset": "mnist", "recipe": RECIPE, "trained_as": {"model": "mnist_fc_8k_dwn", "overrides": {}}})
    r = run(str(tmp_path / "r.pt"), str(tmp_path / "report.json"), "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
