"""Accuracy vs LUTs of our models beside the published points, from recorded results.

    python benchmarks/plot_pareto.py benchmarks/results/pareto_*.json --out-dir docs/img

writes ``pareto_mnist.png`` / ``pareto_fashion.png`` (one per dataset in the results) and prints a markdown
table. A model that a later file records again is drawn from that file alone (a re-registered model's runs
supersede its old ones). LUTs = layers + popcount + argmax (the field's figures exclude the encoder; ours is in the table),
log x axis; our models as the mean over seeds (error bar: sample standard deviation) with every seed's
point beside it.

Result format (``bench_pareto.py --json`` writes it), one JSON file::

    {"format": "difflut-pareto-results", "version": 1,
     "machine": "NVIDIA H200", "torch": "2.13.0", "date": "2026-12-01", "command": "...",   # provenance
     "runs": [{"model": "mnist_lut_tiny", "dataset": "mnist" | "fashion_mnist", "seed": 0,
               "test_accuracy": 97.31,     # %, eval (hardware) function, on the first test_images of the test split
               "test_images": 10000,       # optional; recorded results use the whole split
               "luts": {"layers": 530, "popcount": 88, "argmax": 60, "encoder": 410 | null, "total": 678,
                        "source": "difflut synth --target xilinx" | "IR estimate"},
               ...}]}                                      # other keys (recipe, epochs, ...) are kept, not read

``luts`` as in :func:`difflut.models.pretrained.check_luts` (total = layers + popcount + argmax). Published
points (MNIST; Vivado, DWN's on xcvu9p; encoder excluded) are :data:`PUBLISHED`; Fashion-MNIST's DWN accuracy has no
LUT figure we know of, so it is drawn as a horizontal line.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
from pathlib import Path

from difflut.files import write_atomic

FORMAT, VERSION = "difflut-pareto-results", 1
DATASETS = {"mnist": ("MNIST", "pareto_mnist.png"), "fashion_mnist": ("Fashion-MNIST", "pareto_fashion.png")}
#: published (name, test accuracy %, LUTs, how counted) per dataset; encoder excluded in every one
_DWN = "Vivado, xcvu9p (DWN, ICML 2024)"
PUBLISHED = {
    "mnist": [("DWN", 97.1, 692, _DWN), ("DWN", 97.9, 1413, _DWN), ("DWN", 98.3, 4082, _DWN),
              ("TreeLUT", 97.0, 4478, "Vivado"), ("PolyLUT-Add", 96.0, 14810, "Vivado"),
              ("NeuraLUT", 96.0, 54798, "Vivado")],
    "fashion_mnist": [],
}
#: published accuracies without a LUT figure: (name, test accuracy %)
PUBLISHED_ACCURACY_ONLY = {"mnist": [], "fashion_mnist": [("DWN", 89.0)]}
_RUN_KEYS = {"model": str, "dataset": str, "seed": int, "test_accuracy": (int, float), "luts": dict}


def check_results(doc, where: str) -> None:
    """Raise ValueError naming the first problem of a ``difflut-pareto-results`` document."""
    from difflut.models.pretrained import check_luts

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{where}: not a {FORMAT} file (no format={FORMAT!r} entry)")
    if doc.get("version") != VERSION:
        raise ValueError(f"{where}: version {doc.get('version')!r}; this script reads version {VERSION}")
    for key in ("machine", "torch", "date"):
        if not isinstance(doc.get(key), str):
            raise ValueError(f"{where}: {key!r} must be a string (provenance of the runs)")
    if not isinstance(doc.get("runs"), list):
        raise ValueError(f"{where}: 'runs' must be a list")
    for i, run in enumerate(doc["runs"]):
        at = f"{where}: runs[{i}]"
        if not isinstance(run, dict):
            raise ValueError(f"{at} must be an object")
        for key, kind in _RUN_KEYS.items():
            if not isinstance(run.get(key), kind) or isinstance(run.get(key), bool):
                raise ValueError(f"{at}.{key} is missing or not {getattr(kind, '__name__', 'a number')}")
        if run["dataset"] not in DATASETS:
            raise ValueError(f"{at}.dataset {run['dataset']!r} is not one of {', '.join(DATASETS)}")
        if not (math.isfinite(run["test_accuracy"]) and 0 <= run["test_accuracy"] <= 100):
            raise ValueError(f"{at}.test_accuracy must be a percentage, got {run['test_accuracy']!r}")
        check_luts(run["luts"], f"{at}.luts")


def load_results(paths) -> list[dict]:
    """The runs of every file, each checked. A (model, dataset) that a later file records replaces that
    model's runs of the earlier files (a re-registered model's new results supersede the old: pass the files
    oldest first, as ``pareto_<date>.json`` sorts); a (model, dataset, seed) twice in one file is an error."""
    by_model: dict[tuple, tuple[str, list]] = {}
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read it as JSON: {e}") from None
        check_results(doc, str(path))
        mine: dict[tuple, list] = {}
        for run in doc["runs"]:
            group = mine.setdefault((run["model"], run["dataset"]), [])
            if any(r["seed"] == run["seed"] for r in group):
                raise ValueError(f"{path}: {(run['model'], run['dataset'], run['seed'])} is recorded twice")
            group.append(run)
        by_model.update({key: (str(path), group) for key, group in mine.items()})
    return [run for _, group in by_model.values() for run in group]


def summarise(runs) -> list[dict]:
    """One row per (dataset, model): seeds, mean / sample std of accuracy, mean LUTs by part, the runs."""
    groups: dict[tuple, list] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["model"]), []).append(run)
    rows = []
    for (dataset, model), group in sorted(groups.items()):
        acc = [r["test_accuracy"] for r in group]
        encoders = [r["luts"]["encoder"] for r in group]
        rows.append({
            "dataset": dataset, "model": model, "seeds": sorted(r["seed"] for r in group),
            "accuracy": statistics.fmean(acc), "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            **{part: statistics.fmean(r["luts"][part] for r in group)
               for part in ("layers", "popcount", "argmax", "total")},
            "encoder": None if None in encoders else statistics.fmean(encoders),
            "sources": sorted({r["luts"]["source"] for r in group}), "runs": group,
        })
    return sorted(rows, key=lambda r: (r["dataset"], r["total"]))


def _luts(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def markdown_table(rows, dataset: str) -> str:
    """Our rows of ``dataset`` (LUT total ascending), then the published points."""
    lines = [f"### {DATASETS[dataset][0]}", "",
             "| model | seeds | test accuracy % | LUTs (layers + popcount + argmax) | layers | popcount | argmax "
             "| encoder | LUT source |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in (r for r in rows if r["dataset"] == dataset):
        spread = f" ± {r['std']:.2f}" if len(r["seeds"]) > 1 else ""
        lines.append(f"| `{r['model']}` | {len(r['seeds'])} | {r['accuracy']:.2f}{spread} | {_luts(r['total'])} | "
                     f"{_luts(r['layers'])} | {_luts(r['popcount'])} | {_luts(r['argmax'])} | "
                     f"{_luts(r['encoder'])} | {', '.join(r['sources'])} |")
    for name, acc, luts, how in PUBLISHED[dataset]:
        lines.append(f"| {name} (published) | | {acc:.1f} | {luts:,} | | | | excluded | {how} |")
    for name, acc in PUBLISHED_ACCURACY_ONLY[dataset]:
        lines.append(f"| {name} (published) | | {acc:.1f} | not published | | | | | |")
    return "\n".join(lines)


def plot(rows, dataset: str, path) -> None:
    """Accuracy vs LUTs of ``dataset``: ours (per seed and mean ± std) and the published points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = [r for r in rows if r["dataset"] == dataset]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in ours:
        ax.scatter([run["luts"]["total"] for run in r["runs"]], [run["test_accuracy"] for run in r["runs"]],
                   s=14, alpha=0.45, color="tab:blue", zorder=2)
        ax.errorbar([r["total"]], [r["accuracy"]], yerr=[r["std"]], fmt="o", ms=7, color="tab:blue", capsize=3,
                    zorder=3)
        ax.annotate(r["model"], (r["total"], r["accuracy"]), textcoords="offset points", xytext=(-6, 7),
                    ha="right", fontsize=8, color="tab:blue")
    published = PUBLISHED[dataset]
    if published:
        ax.scatter([p[2] for p in published], [p[1] for p in published], marker="s", s=30, color="tab:gray",
                   zorder=2, label="published (Vivado, encoder excluded)")
        for name, acc, luts, _ in published:
            ax.annotate(name, (luts, acc), textcoords="offset points", xytext=(6, -10), fontsize=8, color="dimgray")
    for name, acc in PUBLISHED_ACCURACY_ONLY[dataset]:
        ax.axhline(acc, color="tab:gray", linestyle="--", linewidth=1,
                   label=f"{name} {acc:.1f}% (published, no LUT figure)")
    sources = sorted({s for r in ours for s in r["sources"]})
    ax.scatter([], [], color="tab:blue", label=f"ours: mean ± std (large), seeds (small); LUTs: {'; '.join(sources)}")
    ax.set_xscale("log")
    xs = [run["luts"]["total"] for r in ours for run in r["runs"]] + [p[2] for p in published]
    if xs:  # room on the left for the labels of the smallest models
        ax.set_xlim(max(1, min(xs)) / 3.2, max(xs) * 1.8)
    ax.set_xlabel("LUTs (layers + popcount + argmax)")
    ax.set_ylabel(f"{DATASETS[dataset][0]} test accuracy (%)")
    ax.set_title(f"{DATASETS[dataset][0]}: accuracy per LUT")
    ax.grid(alpha=0.3, which="both")
    low, high = ax.get_ylim()
    ax.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120, bbox_inches="tight",
                metadata={"Software": None})  # no version stamp: same results, same bytes
    plt.close(fig)
    write_atomic(path, png.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help=f"{FORMAT} JSON files (bench_pareto.py --json)")
    p.add_argument("--out-dir", default="docs/img", help="where the PNGs go (default docs/img)")
    args = p.parse_args(argv)
    try:
        rows = summarise(load_results(args.results))
    except ValueError as e:
        print(f"plot_pareto.py: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for dataset in [d for d in DATASETS if any(r["dataset"] == d for r in rows)]:
        plot(rows, dataset, out / DATASETS[dataset][1])
        print(markdown_table(rows, dataset) + "\n")
        print(f"plot: {out / DATASETS[dataset][1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
