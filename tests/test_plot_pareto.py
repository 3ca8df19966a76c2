"""benchmarks/plot_pareto.py: result files -> accuracy-vs-LUT plots and the markdown table."""

import json
import re

import pytest

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def plot_pareto(load_benchmark):
    return load_benchmark("plot_pareto")


def _run(model, dataset, seed, acc, layers, encoder=400, source="difflut synth --target xilinx"):
    return {"model": model, "dataset": dataset, "seed": seed, "test_accuracy": acc, "recipe": "test",
            "luts": {"layers": layers, "popcount": 88, "argmax": 60, "encoder": encoder,
                     "total": layers + 148, "source": source}}


def _write(path, runs, **fields):
    doc = {"format": "difflut-pareto-results", "version": 1, "machine": "GPU X", "torch": "2.13.0",
           "date": "2026-12-01", "runs": runs, **fields}
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def results(tmp_path):
    a = _write(tmp_path / "a.json", [_run("mnist_lut_tiny", "mnist", s, acc, 530 + s)
                                     for s, acc in enumerate((97.0, 97.2, 97.4))])
    b = _write(tmp_path / "b.json", [_run("mnist_lut_small", "mnist", 0, 98.1, 1200, encoder=None,
                                          source="IR estimate"),
                                     _run("fashion_lut_small", "fashion_mnist", 0, 89.6, 1190)])
    return a, b


def test_plots_and_table(plot_pareto, results, tmp_path, capsys):
    out = tmp_path / "img"
    assert plot_pareto.main([*results, "--out-dir", str(out)]) == 0
    for name in ("pareto_mnist.png", "pareto_fashion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    tiny = next(line for line in text.splitlines() if line.startswith("| `mnist_lut_tiny`"))
    cells = [c.strip() for c in tiny.strip("|").split("|")]
    assert cells == ["`mnist_lut_tiny`", "3", "97.20 ± 0.20", "679", "531", "88", "60", "400",
                     "difflut synth --target xilinx"]
    small = next(line for line in text.splitlines() if line.startswith("| `mnist_lut_small`"))
    assert "| 98.10 |" in small and "| n/a | IR estimate |" in small
    mnist = text[text.index("### MNIST"):text.index("### Fashion-MNIST")]
    assert mnist.index("mnist_lut_tiny") < mnist.index("mnist_lut_small") < mnist.index("DWN (published)")
    for point in ("| 97.1 | 692 |", "| 97.9 | 1,413 |", "| 98.3 | 4,082 |", "TreeLUT (published) | | 97.0 | 4,478",
                  "PolyLUT-Add (published) | | 96.0 | 14,810", "NeuraLUT (published) | | 96.0 | 54,798"):
        assert point in mnist
    fashion = text[text.index("### Fashion-MNIST"):]
    assert "fashion_lut_small" in fashion and "DWN (published) | | 89.0 | not published" in fashion
    assert "mnist_lut_tiny" not in fashion
    first = (out / "pareto_mnist.png").read_bytes()
    assert plot_pareto.main([*results, "--out-dir", str(out)]) == 0
    assert (out / "pareto_mnist.png").read_bytes() == first  # same results, same bytes


def test_a_later_file_replaces_a_models_runs(plot_pareto, results, tmp_path):
    a, b = results
    newer = _write(tmp_path / "c.json", [_run("mnist_lut_tiny", "mnist", 5, 95.0, 500)])
    runs = plot_pareto.load_results([a, b, newer])
    assert sorted((r["model"], r["seed"]) for r in runs) == [("fashion_lut_small", 0), ("mnist_lut_small", 0),
                                                             ("mnist_lut_tiny", 5)]
    runs = plot_pareto.load_results([newer, a, b])  # order decides: the last file's record is kept
    assert sorted(r["seed"] for r in runs if r["model"] == "mnist_lut_tiny") == [0, 1, 2]


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(format="other"), "not a difflut-pareto-results file"),
    (lambda d: d.update(version=2), "version 2"),
    (lambda d: d.pop("machine"), "'machine' must be a string"),
    (lambda d: d["runs"][0].pop("seed"), r"runs\[0\].seed is missing"),
    (lambda d: d["runs"][0].update(dataset="cifar10"), "dataset 'cifar10' is not one of"),
    (lambda d: d["runs"][0].update(test_accuracy=0.97e3), "must be a percentage"),
    (lambda d: d["runs"][0]["luts"].update(total=5), "total must be layers"),
    (lambda d: d["runs"].append(dict(d["runs"][0])), "recorded twice"),
])
def test_bad_result_files_are_named(plot_pareto, tmp_path, capsys, change, message):
    doc = {"format": "difflut-pareto-results", "version": 1, "machine": "m", "torch": "t", "date": "d",
           "runs": [_run("mnist_lut_tiny", "mnist", 0, 97.0, 530)]}
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert plot_pareto.main([str(path), "--out-dir", str(tmp_path / "img")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "img").exists()
