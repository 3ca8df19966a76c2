"""The training loop (it learns) and the ``difflut`` command line."""

import shutil
import subprocess
import sys

import pytest
import torch

import difflut.cli as cli
import difflut.demo as demo
from difflut.checkpoint import read_checkpoint
from difflut.data import load_mnist
from difflut.models import get_model, list_models, load
from difflut.training import evaluate, train

SMALL = ["--set", "layer_widths=[200,100]"]


@pytest.fixture(scope="module")
def data():
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    return train_x[:3000], train_y[:3000], test_x[:1000], test_y[:1000]


def test_a_small_model_learns_in_one_epoch(data, tmp_path):
    train_x, train_y, test_x, test_y = data
    model = get_model("mnist_fc_8k_dwn", layer_widths=(200, 100))
    history = train(model, train_x, train_y, test_x, test_y, epochs=1, batch_size=64, lr=0.01,
                    out=tmp_path / "m.pt", progress=False)
    assert len(history) == 1 and set(history[0]) >= {"loss", "train_accuracy", "val_accuracy", "samples_per_s", "cpu_cores"}
    acc = evaluate(model, test_x, test_y)
    assert acc == history[0]["val_accuracy"] and acc > 0.6  # chance is 0.1
    assert not model.training
    saved = read_checkpoint(tmp_path / "m.pt")
    assert saved["metadata"]["epoch"] == 1 and saved["metadata"]["val_accuracy"] == acc
    assert evaluate(load(tmp_path / "m.pt"), test_x, test_y) == acc


def test_training_is_reproducible_and_keeps_the_best_epoch(data):
    train_x, train_y, test_x, test_y = data
    runs = []
    for _ in range(2):
        model = get_model("mnist_fc_8k_linear", layer_widths=(40, 20))
        history = train(model, train_x[:500], train_y[:500], test_x[:300], test_y[:300], epochs=3,
                        batch_size=100, lr=0.05, progress=False)
        runs.append((history, model.class_scores(test_x[:300])))
    (h1, s1), (h2, s2) = runs
    assert [r["val_accuracy"] for r in h1] == [r["val_accuracy"] for r in h2] and torch.equal(s1, s2)
    best = max(r["val_accuracy"] for r in h1)
    assert (s1.argmax(1) == test_y[:300]).float().mean().item() == best  # the model holds the best epoch


def test_keep_last_ends_with_the_final_epoch_and_saves_it(data, tmp_path):
    train_x, train_y, test_x, test_y = data
    model = get_model("mnist_fc_8k_linear", layer_widths=(40, 20))
    per_epoch = []
    history = train(model, train_x[:500], train_y[:500], test_x[:300], test_y[:300], epochs=3, batch_size=100,
                    lr=0.05, progress=False, keep="last", out=tmp_path / "m.pt",
                    on_epoch=lambda r: per_epoch.append(model.class_scores(test_x[:300])))
    assert len(per_epoch) == 3 and not torch.equal(per_epoch[-1], per_epoch[-2])
    assert torch.equal(model.class_scores(test_x[:300]), per_epoch[-1])
    saved = read_checkpoint(tmp_path / "m.pt")
    assert saved["metadata"]["epoch"] == 3 and saved["metadata"]["val_accuracy"] == history[-1]["val_accuracy"]
    assert torch.equal(load(tmp_path / "m.pt").class_scores(test_x[:300]), per_epoch[-1])


def test_train_rejects_bad_arguments(data):
    train_x, train_y, _, _ = data
    model = get_model("mnist_fc_8k_dwn", layer_widths=(20, 10))
    with pytest.raises(ValueError, match="labels of shape"):
        train(model, train_x[:10], train_y[:9], progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        train(model, train_x[:10], train_y[:10], epochs=0, progress=False)
    with pytest.raises(ValueError, match="schedule must be one of constant, cosine"):
        train(model, train_x[:10], train_y[:10], schedule="step", progress=False)
    with pytest.raises(ValueError, match="keep must be one of best, last"):
        train(model, train_x[:10], train_y[:10], keep="final", progress=False)


def test_cosine_schedule_anneals_the_learning_rate_to_zero(data, monkeypatch):
    train_x, train_y, _, _ = data
    seen = []
    original = torch.optim.Adam.step

    def step(self, *a, **kw):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    model = get_model("mnist_fc_8k_dwn", layer_widths=(20, 10))
    train(model, train_x[:200], train_y[:200], epochs=2, batch_size=50, lr=0.02, schedule="cosine", progress=False)
    assert len(seen) == 8 and seen[0] == 0.02
    assert all(a > b for a, b in zip(seen, seen[1:])) and seen[-1] < 0.02 * 0.05


def test_cli_list_models_prints_a_table(capsys):
    assert cli.main(["list-models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["name", "nodes", "layers"] and set(out[1]) <= {"-", " "}
    rows = {line.split()[0]: line for line in out[2:]}
    assert set(rows) == set(list_models())
    assert "8,000" in rows["mnist_fc_8k_linear"] and "linear_lut, k=4" in rows["mnist_fc_8k_linear"]
    assert "CIFAR-10" in rows["cifar10_conv"]


def test_cli_train_then_eval_with_fault_injection(tmp_path, capsys):
    path = str(tmp_path / "m.pt")
    rc = cli.main(["train", "mnist_fc_8k_dwn", "--dataset", "mnist", "--epochs", "1", "--batch-size", "64",
                   "--train-limit", "2000", "--test-limit", "500", "--val-size", "200", "--out", path, "--quiet", *SMALL])
    assert rc == 0
    out = capsys.readouterr().out
    assert "1800 train / 200 validation / 500 test images" in out
    assert "best epoch 1 (validation accuracy" in out and path in out
    trained_test_acc = float(out.split("test accuracy (eval mode) ")[1].split(";")[0])
    assert read_checkpoint(path)["overrides"] == {"layer_widths": [200, 100]}

    assert cli.main(["eval", path, "--limit", "500"]) == 0
    clean = float(capsys.readouterr().out.split("accuracy")[-1])
    assert clean > 0.5
    assert clean == trained_test_acc  # the saved checkpoint is the model that was reported
    accs = []
    for _ in range(2):
        assert cli.main(["eval", path, "--limit", "500", "--flip-rate", "0.3", "--seed", "1"]) == 0
        out = capsys.readouterr().out
        assert "input-bit flip rate 0.3 (seed 1)" in out
        accs.append(float(out.split("accuracy")[-1]))
    assert accs[0] == accs[1] and accs[0] < clean  # seeded, and faults hurt


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cli.main(["train", "mnist_nope"]) == 2
    assert "unknown model 'mnist_nope'; registered models:" in capsys.readouterr().err
    assert cli.main(["train", "mnist_fc_8k_dwn", "--set", "encoder_bits=12"]) == 2
    assert "encoder_bits: must be an int in 3..8" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    assert cli.main(["eval", str(bad)]) == 2
    assert "not a readable DiffLUT checkpoint" in capsys.readouterr().err


def test_cli_rejects_a_dataset_of_the_wrong_shape(capsys):
    assert cli.main(["train", "cifar10_conv", "--dataset", "mnist", "--train-limit", "10", "--quiet",
                     "--set", "conv_channels=[2,2]", "--set", "layer_widths=[20,10]"]) == 2
    assert "takes images of shape (3, 32, 32), dataset 'mnist' has (28, 28)" in capsys.readouterr().err


def test_demo_runs_its_steps_and_can_be_extended(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(demo, "DEMO_STEPS", demo.DEMO_STEPS + [("later step", lambda state: seen.append(state))])
    monkeypatch.setattr(demo, "DEMO_OVERRIDES", dict(demo.DEMO_OVERRIDES, layer_widths=(200, 100)))
    rc = cli.main(["demo", "--out-dir", str(tmp_path), "--train-limit", "3000", "--test-limit", "500",
                   "--batch-size", "50", "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "[demo] step: train" in out and "[demo] step: later step" in out
    assert "reloaded checkpoint reproduces the class scores exactly: True" in out
    assert "IR == PyTorch eval on 500 test images" in out
    if shutil.which("cc") or shutil.which("gcc"):
        assert "C selftest (compiled, run): PASS" in out
    assert (tmp_path / "c" / "mnist_fc_8k_dwn.h").is_file()
    assert (tmp_path / "rtl" / "mnist_fc_8k_dwn.v").is_file()
    if shutil.which("iverilog"):
        assert "Verilog simulation (Icarus, cocotb) against PyTorch on 100 test images: PASS" in out
    (state,) = seen
    assert state.data["accuracy"] > 0.5 and (tmp_path / "model.pt").is_file()


def test_python_dash_m_difflut_help():
    result = subprocess.run([sys.executable, "-m", "difflut", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("list-models", "train", "eval", "demo"):
        assert command in result.stdout


def test_cli_train_keep_last_reports_and_saves_the_last_epoch(tmp_path, capsys):
    path = str(tmp_path / "m.pt")
    assert cli.main(["train", "mnist_fc_8k_dwn", "--epochs", "2", "--train-limit", "1000", "--test-limit", "200",
                     "--val-size", "100", "--keep", "last", "--out", path, "--quiet", *SMALL]) == 0
    assert "last epoch 2 (validation accuracy" in capsys.readouterr().out
    assert read_checkpoint(path)["metadata"]["epoch"] == 2
