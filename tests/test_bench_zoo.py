"""benchmarks/bench_zoo.py --table: the seed summary that docs/benchmarks.md quotes."""

import json

import pytest



@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("bench_zoo")


def _run(seed, val, test):
    """A run record of ``len(val)`` epochs with the given validation and test accuracy per epoch."""
    history = [{"epoch": e + 1, "val_accuracy": v, "test_accuracy": t} for e, (v, t) in enumerate(zip(val, test))]
    best = max(history, key=lambda r: r["val_accuracy"])
    return {"model": "mnist_fc_8k_dwn", "dataset": "mnist", "seed": seed, "overrides": {}, "nodes": 8000,
            "epochs": len(val), "keep": "best", "best_epoch": best["epoch"], "train_seconds": 100.0 + seed,
            "test_accuracy": best["test_accuracy"], "history": history}


def _write(path, runs, device="GPU X"):
    path.write_text(json.dumps({"machine": {"device": device, "torch": "2.13.0"}, "runs": runs, "skipped": []}))
    return str(path)


def test_table_merges_seeds_into_mean_std_with_best_val_and_last_epoch_columns(bench, tmp_path, capsys):
    a = _write(tmp_path / "a.json", [_run(0, [0.90, 0.95, 0.94], [0.80, 0.97, 0.98])])
    b = _write(tmp_path / "b.json", [_run(1, [0.96, 0.95, 0.94], [0.99, 0.96, 0.96])])
    merged = tmp_path / "merged.json"
    assert bench.main(["--table", a, b, "--out", str(merged)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| mnist_fc_8k_dwn"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # kept (best val): epoch 2 -> 0.97 and epoch 1 -> 0.99; last epoch: 0.98 and 0.96
    assert cells[4] == "best (2, 1)" and cells[5] == "2" and cells[6] == "100"
    assert cells[7] == "98.00 ± 1.41%" and cells[8] == "98.00 ± 1.41%" and cells[9] == "97.00 ± 1.41%"
    assert cells[10] == "97.00 99.00"
    assert [r["seed"] for r in json.loads(merged.read_text())["runs"]] == [0, 1]


def test_table_refuses_other_machines_and_foreign_files(bench, tmp_path):
    a = _write(tmp_path / "a.json", [_run(0, [0.9], [0.9])])
    other = _write(tmp_path / "other.json", [_run(1, [0.9], [0.9])], device="GPU Y")
    with pytest.raises(SystemExit, match="other.json: measured on GPU Y"):
        bench.main(["--table", a, other])
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"state_dict": {}}')
    with pytest.raises(SystemExit, match="foreign.json: not a bench_zoo result file"):
        bench.main(["--table", str(foreign)])
    broken = tmp_path / "broken.json"
    broken.write_text('{"machine": ')
    with pytest.raises(SystemExit, match="broken.json: cannot read a bench_zoo result file"):
        bench.main(["--table", str(broken)])


def test_a_run_saves_a_compact_checkpoint_with_the_runs_accuracy(bench, tmp_path):
    """--save-checkpoints: the trained model as a compact checkpoint whose eval accuracy is the run's."""
    from difflut import evaluate, load
    from difflut.data import load_mnist

    out, folder = tmp_path / "r.json", tmp_path / "ckpts"
    assert bench.main(["--models", "mnist_lut_tiny", "--epochs", "1", "--train-limit", "600", "--val-images", "0",
                       "--keep", "last", "--device", "cpu", "--save-checkpoints", str(folder),
                       "--out", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    model = load(folder / run["checkpoint"])
    assert run["checkpoint"] == "mnist_lut_tiny-mnist-s0.pt" and model.checkpoint_metadata["dataset"] == "mnist"
    assert "1 epochs on 600 mnist training images" in model.checkpoint_metadata["recipe"]
    test_x, test_y = load_mnist("test")
    assert evaluate(model, test_x, test_y) == run["test_accuracy"]


def test_refine_sweeps_record_each_sweep_and_save_the_refined_model(bench, tmp_path):
    """--refine-sweeps: the trained accuracy kept, each sweep's val/test recorded, the refined model saved."""
    from difflut import evaluate, load
    from difflut.data import load_mnist

    out, folder = tmp_path / "r.json", tmp_path / "ckpts"
    assert bench.main(["--models", "mnist_lut_tiny", "--epochs", "1", "--train-limit", "600", "--val-images", "0",
                       "--keep", "last", "--device", "cpu", "--refine-sweeps", "2", "--refine-shift", "0",
                       "--save-checkpoints", str(folder), "--out", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert [r["sweep"] for r in run["refine"]] == [1, 2] and run["refine_shift"] == 0
    assert run["refine"][0]["train_loss"] > run["refine"][1]["train_loss"]
    assert run["test_accuracy"] == run["refine"][-1]["test_accuracy"] != run["test_accuracy_trained"]
    model = load(folder / run["checkpoint"])
    assert "refined 2 sweeps at shift 0" in model.checkpoint_metadata["recipe"]
    test_x, test_y = load_mnist("test")
    assert evaluate(model, test_x, test_y) == run["test_accuracy"]
