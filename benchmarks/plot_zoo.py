"""Plots from bench_zoo.py results: accuracy vs inference-time flip rate, and gradnorm training curves.

    python benchmarks/plot_zoo.py zoo.json --out-dir docs/img
writes flip_robustness.png (the four mnist_bitflip_* models), gradnorm_curves.png (the four
mnist_gradnorm_* models: validation accuracy and training loss per epoch) and, for runs recorded with
``--test-every-epoch``, main_curves.png (test accuracy per epoch of every seed, and the seeds' mean).
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
    """One panel per (model, dataset): test accuracy per epoch of each seed, and the seeds' mean test
    and validation accuracy."""
    groups: dict[tuple, list] = {}
    for r in runs:
        if r["history"] and all("test_accuracy" in h for h in r["history"]):
            groups.setdefault((r["model"], r["dataset"]), []).append(r)
    if not groups:
        return False
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, ((model, dataset), rs) in zip(axes[0], groups.items()):
        n = min(len(r["history"]) for r in rs)
        epochs = [h["epoch"] for h in rs[0]["history"][:n]]
        mean = {k: [100 * sum(r["history"][i][k] for r in rs) / len(rs) for i in range(n)]
                for k in ("val_accuracy", "test_accuracy")}
        for r in rs:
            ax.plot(epochs, [100 * h["test_accuracy"] for h in r["history"][:n]], color="tab:orange", lw=0.8, alpha=0.35)
        ax.plot(epochs, mean["val_accuracy"], color="tab:blue", marker="o", ms=3, label="validation (mean)")
        ax.plot(epochs, mean["test_accuracy"], color="tab:orange", marker="o", ms=3, label="test (mean)")
        ax.text(0.97, 0.04, f"last epoch, mean test {mean['test_accuracy'][-1]:.2f}%", transform=ax.transAxes,
                ha="right", va="bottom")
        low = min(mean["test_accuracy"][n // 3:])
        ax.set_ylim(low - 1.0, max(max(mean["val_accuracy"]), max(mean["test_accuracy"])) + 0.5)
        ax.set_title(f"{model} on {dataset} ({len(rs)} seed{'s' * (len(rs) > 1)})")
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
