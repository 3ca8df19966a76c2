"""Test accuracy of the MNIST zoo models (and mnist_fc_8k_dwn on Fashion-MNIST), with epochs and wall time.

For each model: train on the first 55,000 training images (the last 5,000 pick the best epoch), Adam
with a cosine learning-rate schedule, then measure eval-mode (hardware) accuracy on the 10,000 test
images. The bit-flip models are also evaluated under inference-time input-bit flips (fault injection)
at several rates; every model's per-epoch history is kept (for the gradnorm training curves).
Results go to a JSON file, rewritten atomically after every model, and a table is printed.

    python benchmarks/bench_zoo.py --device cuda --epochs 10 --epochs-main 30 --fashion --out zoo.json
    python benchmarks/plot_zoo.py zoo.json --out-dir docs/img
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import torch

from difflut import evaluate, get_model, list_models, train
from difflut.cli import parse_override
from difflut.data import load_dataset

MAIN_MODELS = ("mnist_fc_8k_dwn", "mnist_fc_8k_linear")
FLIP_RATES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2)
VAL_SIZE = 5000


def write_json_atomic(path: str, data) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def run_one(name: str, dataset: str, epochs: int, args, device) -> dict:
    train_x, train_y = load_dataset(dataset, "train", data_dir=args.data_dir)
    test_x, test_y = load_dataset(dataset, "test", data_dir=args.data_dir)
    if args.train_limit:
        train_x, train_y = train_x[: args.train_limit], train_y[: args.train_limit]
    val_size = min(VAL_SIZE, len(train_x) // 10)
    fit_x, fit_y, val_x, val_y = train_x[:-val_size], train_y[:-val_size], train_x[-val_size:], train_y[-val_size:]
    model = get_model(name, seed=args.seed, **dict(args.set or []))
    def on_epoch(record):
        if args.test_every_epoch:
            record["test_accuracy"] = evaluate(model, test_x, test_y)
            print(f"{name} ({dataset}) epoch {record['epoch']}: val {record['val_accuracy']:.4f} "
                  f"test {record['test_accuracy']:.4f} ({record['seconds']:.1f} s)", flush=True)

    start = time.perf_counter()
    history = train(model, fit_x, fit_y, val_x, val_y, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                    schedule="cosine", device=device, seed=args.seed, progress=args.verbose,
                    augment_shift=args.augment_shift, on_epoch=on_epoch)
    seconds = time.perf_counter() - start
    result = {
        "model": name, "dataset": dataset, "overrides": model.overrides, "nodes": model.num_nodes,
        "epochs": epochs, "batch_size": args.batch_size, "augment_shift": args.augment_shift,
        "lr": args.lr or model.default_lr, "schedule": "cosine",
        "train_images": len(fit_x), "val_images": len(val_x), "test_images": len(test_x),
        "train_seconds": seconds, "device": str(device),
        "best_epoch": max(history, key=lambda r: r["val_accuracy"])["epoch"],
        "test_accuracy": evaluate(model, test_x, test_y), "history": history,
    }
    if name.startswith("mnist_bitflip"):
        result["flip_curve"] = {str(q): evaluate(model, test_x, test_y, flip_rate=q, seed=0) for q in FLIP_RATES}
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=None, help="default: every MNIST zoo model")
    p.add_argument("--epochs", type=int, default=10, help="epochs for the ablation models")
    p.add_argument("--epochs-main", type=int, default=30, help="epochs for " + " and ".join(MAIN_MODELS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: each model's)")
    p.add_argument("--augment-shift", type=int, default=0, help="random image shifts of up to N pixels")
    p.add_argument("--set", action="append", type=parse_override, metavar="KEY=VALUE",
                   help="override for every model, e.g. --set node_type=dwn --set mapping=learnable")
    p.add_argument("--verbose", action="store_true", help="print every epoch")
    p.add_argument("--test-every-epoch", action="store_true",
                   help="also record (and print) test accuracy after every epoch (the best epoch is still "
                        "picked on the validation split)")
    p.add_argument("--fashion", action="store_true", help="also train mnist_fc_8k_dwn on Fashion-MNIST")
    p.add_argument("--fashion-only", action="store_true", help="only train mnist_fc_8k_dwn on Fashion-MNIST")
    p.add_argument("--data-dir", default=None, help="folder holding fashion-mnist/ (or $DIFFLUT_DATA)")
    p.add_argument("--train-limit", type=int, default=None, help="first N training images (smoke runs)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deadline", type=float, default=None, help="skip models that would start after this many s")
    p.add_argument("--out", default="zoo_results.json")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    models = args.models or [m for m in list_models() if m.startswith("mnist_")]
    # the main models (and Fashion-MNIST) first, so that a --deadline cuts the ablations
    jobs = [(m, "mnist", args.epochs_main) for m in models if m in MAIN_MODELS]
    if args.fashion or args.fashion_only:
        jobs.append(("mnist_fc_8k_dwn", "fashion_mnist", args.epochs_main))
    jobs += [(m, "mnist", args.epochs) for m in models if m not in MAIN_MODELS]
    if args.fashion_only:
        jobs = [job for job in jobs if job[1] == "fashion_mnist"]
    machine = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    results = {"machine": machine, "runs": [], "skipped": []}
    start = time.perf_counter()
    for name, dataset, epochs in jobs:
        if args.deadline is not None and time.perf_counter() - start > args.deadline:
            results["skipped"].append({"model": name, "dataset": dataset, "reason": "deadline"})
            continue
        r = run_one(name, dataset, epochs, args, device)
        results["runs"].append(r)
        write_json_atomic(args.out, results)
        print(f"{name:32s} {dataset:14s} {r['epochs']:3d} ep  {r['train_seconds']:7.1f} s  "
              f"test {r['test_accuracy']:.4f}", flush=True)
    write_json_atomic(args.out, results)

    print(f"\nmachine: {machine}")
    print("| model | dataset | nodes | epochs | best epoch | train time (s) | test accuracy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        print(f"| {r['model']} | {r['dataset']} | {r['nodes']:,} | {r['epochs']} | {r['best_epoch']} | "
              f"{r['train_seconds']:.0f} | {100 * r['test_accuracy']:.2f}% |")
    for s in results["skipped"]:
        print(f"| {s['model']} | {s['dataset']} | skipped ({s['reason']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
