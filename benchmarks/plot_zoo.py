"""Plots from bench_zoo.py results: accuracy vs inference-time flip rate, and gradnorm training curves.

    python benchmarks/plot_zoo.py zoo.json --out-dir docs/img
writes flip_robustness.png (the four mnist_bitflip_* models), gradnorm_curves.png (the four
mnist_gradnorm_* models: validation accuracy and training loss per epoch) and, for runs recorded with
``--test-every-epoch``, main_curves.png (validation and test accuracy per epoch, the picked epoch marked).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _train_flip_rate(run) -> float:
    suffix = run["model"].rsplit("_", 1)[-1]
    return 0.0 if suffix == "none" else float(suffix)


def plot_flips(runs, path) -> bool:
    runs = [r for r in runs if "flip_curve" in r]
    if not runs:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in sorted(runs, key=_train_flip_rate):
        rates = sorted(r["flip_curve"], key=float)
        ax.plot([100 * float(q) for q in rates], [100 * r["flip_curve"][q] for q in rates], marker="o",
                label=f"{r['model']} (train flips {_train_flip_rate(r):.0f}%)")
    ax.set_xlabel("inference-time flip rate of LUT-layer input bits (%)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("Bit-flip robustness (eval mode, seeded faults)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_gradnorm(runs, path) -> bool:
    runs = [r for r in runs if r["model"].startswith("mnist_gradnorm")]
    if not runs:
        return False
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for r in sorted(runs, key=lambda r: r["model"]):
        epochs = [h["epoch"] for h in r["history"]]
        label = r["model"].replace("mnist_gradnorm_", "")
        a1.plot(epochs, [100 * h["val_accuracy"] for h in r["history"]], marker="o", label=label)
        a2.plot(epochs, [h["loss"] for h in r["history"]], marker="o", label=label)
    a1.set_xlabel("epoch"), a1.set_ylabel("validation accuracy (%)"), a1.grid(alpha=0.3), a1.legend()
    a2.set_xlabel("epoch"), a2.set_ylabel("training loss"), a2.grid(alpha=0.3), a2.legend()
    fig.suptitle("Gradient stabilisation modes (mnist_gradnorm_*)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_main(runs, path) -> bool:
    runs = [r for r in runs if r["history"] and all("test_accuracy" in h for h in r["history"])]
    if not runs:
        return False
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    for ax, r in zip(axes[0], runs):
        epochs = [h["epoch"] for h in r["history"]]
        ax.plot(epochs, [100 * h["val_accuracy"] for h in r["history"]], marker="o", label="validation")
        ax.plot(epochs, [100 * h["test_accuracy"] for h in r["history"]], marker="o", label="test")
        best = next(h for h in r["history"] if h["epoch"] == r["best_epoch"])
        ax.axvline(r["best_epoch"], color="grey", ls="--", lw=1)
        ax.annotate(f"picked: test {100 * best['test_accuracy']:.2f}%", (r["best_epoch"], 100 * best["test_accuracy"]),
                    textcoords="offset points", xytext=(-120, -25))
        ax.set_title(f"{r['model']} on {r['dataset']}")
        ax.set_xlabel("epoch"), ax.set_ylabel("eval-mode accuracy (%)"), ax.grid(alpha=0.3), ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--out-dir", default=".")
    args = p.parse_args(argv)
    with open(args.results) as f:
        runs = json.load(f)["runs"]
    os.makedirs(args.out_dir, exist_ok=True)
    for name, fn in (("flip_robustness.png", plot_flips), ("gradnorm_curves.png", plot_gradnorm),
                     ("main_curves.png", plot_main)):
        path = os.path.join(args.out_dir, name)
        print(("wrote " if fn(runs, path) else "no data for ") + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
