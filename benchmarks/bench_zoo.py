"""Test accuracy of the MNIST zoo models (and mnist_fc_8k_dwn on Fashion-MNIST), with epochs and wall time.

For each model and seed: train on the first 55,000 training images (the last 5,000 are the validation
split; ``--val-images 0`` trains on all 60,000 and keeps the last epoch), Adam with a cosine learning-rate
schedule, keep the best-validation or the last epoch (--keep), then measure eval-mode (hardware) accuracy
on the 10,000 test images. The bit-flip models are also evaluated under inference-time input-bit flips
(fault injection) at several rates; every model's
per-epoch history is kept (for the gradnorm training curves). Results go to a JSON file, rewritten
atomically after every run, and a table is printed: mean and standard deviation over the seeds, and
with --test-every-epoch the test accuracy at the best-validation epoch and at the last epoch side by side.

    python benchmarks/bench_zoo.py --device cuda --epochs 10 --epochs-main 30 --fashion --out zoo.json
    python benchmarks/bench_zoo.py --table zoo.json more.json --out merged.json   # table of saved runs
    python benchmarks/plot_zoo.py zoo.json --out-dir docs/img
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time

import torch

from difflut import evaluate, get_model, list_models, train
from difflut.training import kept_record
from difflut.cli import parse_override
from difflut.data import load_dataset
from difflut.files import write_atomic
from difflut.refine import refine_tables

MAIN_MODELS = ("mnist_fc_8k_dwn", "mnist_fc_8k_linear")
FLIP_RATES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2)
VAL_SIZE = 5000


def write_json_atomic(path: str, data) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1).encode())


@functools.cache
def _splits(dataset: str, data_dir) -> tuple:
    """(train images, train labels, test images, test labels), read once per dataset."""
    return (*load_dataset(dataset, "train", data_dir=data_dir), *load_dataset(dataset, "test", data_dir=data_dir))


def run_one(name: str, dataset: str, epochs: int, seed: int, args, device) -> dict:
    train_x, train_y, test_x, test_y = _splits(dataset, args.data_dir)
    if args.train_limit:
        train_x, train_y = train_x[: args.train_limit], train_y[: args.train_limit]
    if args.val_images:
        val_size = min(args.val_images, len(train_x) // 10)
        fit_x, fit_y = train_x[:-val_size], train_y[:-val_size]
    else:  # every image trains; "val" then reads the last training images (not held out), and --keep is last
        val_size = min(VAL_SIZE, len(train_x) // 10)
        fit_x, fit_y = train_x, train_y
    val_x, val_y = train_x[-val_size:], train_y[-val_size:]
    model = get_model(name, seed=seed, **dict(args.set or []))

    def log_test(record):
        record["test_accuracy"] = evaluate(model, test_x, test_y)
        print(f"{name} ({dataset}) epoch {record['epoch']}: val {record['val_accuracy']:.4f} "
              f"test {record['test_accuracy']:.4f} ({record['seconds']:.1f} s)", flush=True)

    start = time.perf_counter()
    history = train(model, fit_x, fit_y, val_x, val_y, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                    schedule="cosine", device=device, seed=seed, progress=args.verbose,
                    augment_shift=args.augment_shift, augment_flip=args.augment_flip, cuda_graph=args.cuda_graph,
                    on_epoch=log_test if args.test_every_epoch else None, keep=args.keep)
    seconds = time.perf_counter() - start
    result = {
        "model": name, "dataset": dataset, "seed": seed, "overrides": model.overrides, "nodes": model.num_nodes,
        "epochs": epochs, "batch_size": args.batch_size, "augment_shift": args.augment_shift,
        "augment_flip": args.augment_flip,
        "lr": args.lr or model.default_lr, "schedule": "cosine",
        "train_images": len(fit_x), "val_images": len(val_x), "val_held_out": bool(args.val_images),
        "test_images": len(test_x),
        "train_seconds": seconds, "device": str(device),
        "keep": args.keep, "best_epoch": kept_record(history, "best")["epoch"],
        "test_accuracy": evaluate(model, test_x, test_y), "history": history, "cuda_graph": args.cuda_graph,
    }
    if args.refine_sweeps:
        refine_runs(model, fit_x, fit_y, val_x, val_y, test_x, test_y, result, args)
    if args.save_checkpoints:  # compact: the eval function, for export, synthesis and `difflut compact --pretrained`
        path = os.path.join(args.save_checkpoints, f"{name}-{dataset}-s{seed}.pt")
        os.makedirs(args.save_checkpoints, exist_ok=True)
        recipe = ", ".join([f"bench_zoo.py {name} seed {seed}: {epochs} epochs on {len(fit_x)} {dataset} training "
                            f"images", f"batch {args.batch_size}", f"shift {args.augment_shift}"]
                           + ["flips"] * args.augment_flip + [f"Adam lr {result['lr']}", "cosine", f"keep {args.keep}"]
                           + ["graphed step"] * args.cuda_graph + [f"{k}={v}" for k, v in model.overrides.items()]
                           + [f"refined {args.refine_sweeps} sweeps at shift {result.get('refine_shift')}"
                              + " with rewiring" * args.refine_rewire]
                           * bool(args.refine_sweeps))
        model.save_checkpoint(path, metadata={"dataset": dataset, "recipe": recipe,
                                              "test_accuracy_percent": round(100 * result["test_accuracy"], 4)},
                              compact=True)
        result["checkpoint"] = os.path.basename(path)
    if name.startswith("mnist_bitflip"):
        result["flip_curve"] = {str(q): evaluate(model, test_x, test_y, flip_rate=q, seed=0) for q in FLIP_RATES}
    return result


def refine_runs(model, fit_x, fit_y, val_x, val_y, test_x, test_y, result: dict, args) -> None:
    """Refine the trained tables (difflut.refine) on the training images; record the trained model's test
    accuracy and, after each sweep, the validation and test accuracy."""
    shift = args.augment_shift if args.refine_shift is None else args.refine_shift
    result["test_accuracy_trained"] = result["test_accuracy"]
    result["val_accuracy_trained"] = evaluate(model, val_x, val_y)
    result["refine_shift"], result["refine"] = shift, []

    def after_sweep(entry):
        record = {"sweep": entry["sweep"], "flips": entry["flips"], "train_loss": entry["loss"],
                  "seconds": entry["seconds"],
                  "val_accuracy": evaluate(model, val_x, val_y), "test_accuracy": evaluate(model, test_x, test_y)}
        result["refine"].append(record)
        print(f"{result['model']} s{result['seed']} refine sweep {record['sweep']}: flips {record['flips']}, val "
              f"{record['val_accuracy']:.4f} test {record['test_accuracy']:.4f} ({record['seconds']:.1f} s)",
              flush=True)

    refine_tables(model, fit_x, fit_y, max_shift=shift, sweeps=args.refine_sweeps, rewire=args.refine_rewire,
                  on_sweep=after_sweep)
    result["test_accuracy"] = result["refine"][-1]["test_accuracy"]


def _test_at(run: dict, which: str):
    """Test accuracy at the best-validation ("best") or the last ("last") epoch, if the history has it."""
    return kept_record(run["history"], which).get("test_accuracy")


def _mean_std(values: list[float]) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f}%"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}%"


def print_table(machine: dict, runs: list[dict], skipped: list[dict] = ()) -> None:
    """One row per (model, dataset, overrides, epochs, keep): mean ± std over its seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        key = (r["model"], r["dataset"], json.dumps(r.get("overrides", {}), sort_keys=True), r["epochs"], r.get("keep", "best"))
        groups.setdefault(key, []).append(r)
    print(f"\nmachine: {machine}")
    print("| model | dataset | nodes | epochs | kept epoch | seeds | train time (s) | test accuracy "
          "| at best val | at last epoch | per seed (kept epoch) |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for (model, dataset, overrides, epochs, keep), rs in groups.items():
        label = model if overrides == "{}" else f"{model} {overrides}"
        at = {w: [_test_at(r, w) for r in rs] for w in ("best", "last")}
        cols = [_mean_std(v) if None not in v else "-" for v in (at["best"], at["last"])]
        per_seed = " ".join(f"{100 * r['test_accuracy']:.2f}" for r in rs)
        kept = ", ".join(str(r["best_epoch"] if keep == "best" else r["epochs"]) for r in rs)
        print(f"| {label} | {dataset} | {rs[0]['nodes']:,} | {epochs} | {keep} ({kept}) | {len(rs)} | "
              f"{statistics.mean(r['train_seconds'] for r in rs):.0f} | {_mean_std([r['test_accuracy'] for r in rs])} | "
              f"{cols[0]} | {cols[1]} | {per_seed} |")
    for s in skipped:
        print(f"| {s['model']} | {s['dataset']} | skipped ({s['reason']}) |")


def merge_results(paths: list[str]) -> dict:
    """The runs of several result files of one machine (device, torch) as one result."""
    merged = None
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise SystemExit(f"{path}: cannot read a bench_zoo result file ({e})")
        if not isinstance(data, dict) or "runs" not in data or "machine" not in data:
            raise SystemExit(f"{path}: not a bench_zoo result file (no 'machine' and 'runs')")
        if merged is None:
            merged = {"machine": data["machine"], "runs": [], "skipped": []}
        elif (data["machine"]["device"], data["machine"]["torch"]) != (merged["machine"]["device"],
                                                                         merged["machine"]["torch"]):
            raise SystemExit(f"{path}: measured on {data['machine']['device']} / torch {data['machine']['torch']}, "
                             f"not {merged['machine']['device']} / torch {merged['machine']['torch']}")
        merged["runs"] += data["runs"]
        merged["skipped"] += data.get("skipped", [])
    return merged


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=None, help="default: every MNIST zoo model")
    p.add_argument("--epochs", type=int, default=10, help="epochs for the ablation models")
    p.add_argument("--epochs-main", type=int, default=30, help="epochs for " + " and ".join(MAIN_MODELS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: each model's)")
    p.add_argument("--augment-shift", type=int, default=0, help="random image shifts of up to N pixels")
    p.add_argument("--augment-flip", action="store_true", help="random left-right mirroring of training images")
    p.add_argument("--keep", default="best", choices=["best", "last"],
                   help="evaluate the best-validation epoch (default) or the last one")
    p.add_argument("--val-images", type=int, default=VAL_SIZE,
                   help=f"last N training images held out to validate (default {VAL_SIZE}); 0: train on every "
                        "image (needs --keep last)")
    p.add_argument("--set", action="append", type=parse_override, metavar="KEY=VALUE",
                   help="override for every model, e.g. --set node_type=dwn --set mapping=learnable")
    p.add_argument("--verbose", action="store_true", help="print every epoch")
    p.add_argument("--test-every-epoch", action="store_true",
                   help="also record (and print) test accuracy after every epoch")
    p.add_argument("--fashion", action="store_true", help="also train mnist_fc_8k_dwn on Fashion-MNIST")
    p.add_argument("--fashion-only", action="store_true", help="only train mnist_fc_8k_dwn on Fashion-MNIST")
    p.add_argument("--data-dir", default=None, help="folder holding fashion-mnist/ (or $DIFFLUT_DATA)")
    p.add_argument("--train-limit", type=int, default=None, help="first N training images (smoke runs)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cuda-graph", action="store_true", help="train through the CUDA-graphed step")
    p.add_argument("--save-checkpoints", metavar="DIR", default=None,
                   help="save each run's model as a compact checkpoint DIR/MODEL-DATASET-sSEED.pt")
    p.add_argument("--refine-sweeps", type=int, default=0,
                   help="after training, refine the tables on the training images (difflut.refine), N sweeps")
    p.add_argument("--refine-shift", type=int, default=None, help="refinement's shifts (default --augment-shift)")
    p.add_argument("--refine-rewire", action="store_true", help="refinement also re-chooses node inputs")
    p.add_argument("--dataset", default=None, help="train every model on this dataset (default: each model's own)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (model and batch order)")
    p.add_argument("--deadline", type=float, default=None, help="skip runs that would start after this many s")
    p.add_argument("--table", nargs="+", metavar="RESULT.json", default=None,
                   help="train nothing: print the table of saved result files (and merge them into --out if given)")
    p.add_argument("--out", default=None, help="result JSON (default zoo_results.json when training)")
    args = p.parse_args(argv)

    if args.table:
        merged = merge_results(args.table)
        if args.out:
            write_json_atomic(args.out, merged)
        print_table(merged["machine"], merged["runs"], merged["skipped"])
        return 0
    if args.val_images < 0 or (args.val_images == 0 and args.keep != "last"):
        p.error("--val-images must be >= 0, and 0 (no held-out images) needs --keep last")
    out = args.out or "zoo_results.json"
    device = torch.device(args.device)
    models = args.models or [m for m in list_models() if m.startswith("mnist_")]
    # the main models (and Fashion-MNIST) first, so that a --deadline cuts the ablations
    fashion = [("mnist_fc_8k_dwn", "fashion_mnist", args.epochs_main)]
    if args.fashion_only:
        jobs = fashion
    else:
        def dataset(m):
            return args.dataset or get_model(m).dataset
        jobs = [(m, dataset(m), args.epochs_main) for m in models if m in MAIN_MODELS]
        jobs += fashion if args.fashion else []
        jobs += [(m, dataset(m), args.epochs) for m in models if m not in MAIN_MODELS]
    machine = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d"),
    }
    results = {"machine": machine, "runs": [], "skipped": []}
    start = time.perf_counter()
    for name, dataset, epochs in jobs:
        for seed in args.seeds:
            if args.deadline is not None and time.perf_counter() - start > args.deadline:
                results["skipped"].append({"model": name, "dataset": dataset, "seed": seed, "reason": "deadline"})
                continue
            r = run_one(name, dataset, epochs, seed, args, device)
            results["runs"].append(r)
            write_json_atomic(out, results)
            print(f"{name:32s} {dataset:14s} seed {seed} {r['epochs']:3d} ep  {r['train_seconds']:7.1f} s  "
                  f"test {r['test_accuracy']:.4f}", flush=True)
    write_json_atomic(out, results)
    print_table(machine, results["runs"], results["skipped"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
