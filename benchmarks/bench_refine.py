"""Table refinement (difflut.refine) of trained checkpoints: test accuracy before and after each sweep.

    python benchmarks/bench_refine.py CKPT.pt ... --sweeps 3 --shift 1 --device cuda --out refine.json \\
        [--save DIR]   # DIR/NAME-shiftS-sweepK.pt: each refined model (compact) for synthesis and shipping

Refines each checkpoint on all its dataset's training images (every shift up to --shift; --rewire also
re-chooses node inputs; --val-images N holds the last N out and reports their accuracy), evaluating after
each sweep, and prints a table: the checkpoint's test accuracy, then after each sweep. The widths do not
change, so a refined model has at most the LUTs of the trained one (nodes nothing reads any more are dropped
at export).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_zoo import write_json_atomic

from difflut import evaluate
from difflut.checkpoint import load, save_checkpoint
from difflut.data import load_dataset
from difflut.refine import refine_tables


def refine_one(path: str, args) -> dict:
    model = load(path, device=args.device)
    dataset = model.checkpoint_metadata.get("dataset") or model.dataset
    train_x, train_y = load_dataset(dataset, "train", data_dir=args.data_dir)
    train_x, train_y = train_x[:args.train_limit], train_y[:args.train_limit]
    val_x, val_y = train_x[len(train_x) - args.val_images:], train_y[len(train_x) - args.val_images:]
    train_x, train_y = train_x[:len(train_x) - args.val_images], train_y[:len(train_x) - args.val_images]
    test_x, test_y = load_dataset(dataset, "test", data_dir=args.data_dir)
    run = {"checkpoint": path, "model": model.model_name, "dataset": dataset, "shift": args.shift,
           "rewire": args.rewire, "train_images": len(train_x), "val_images": len(val_x),
           "test_accuracy": [evaluate(model, test_x, test_y)], "sweeps": []}
    if len(val_x):
        run["val_accuracy"] = [evaluate(model, val_x, val_y)]
    stem = os.path.splitext(os.path.basename(path))[0]
    def after_sweep(entry):
        run["sweeps"].append(entry)
        run["test_accuracy"].append(evaluate(model, test_x, test_y))
        val = ""
        if len(val_x):
            run["val_accuracy"].append(evaluate(model, val_x, val_y))
            val = f"val {100 * run['val_accuracy'][-1]:.2f}% "
        print(f"{stem} shift {args.shift} sweep {entry['sweep']}: flips {entry['flips']} rewired "
              f"{entry.get('rewired')}, train loss {entry['loss']:.4f}, {val}test "
              f"{100 * run['test_accuracy'][-1]:.2f}% ({entry['seconds']:.1f} s)", flush=True)
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            refined = dict(max_shift=args.shift, rewire=args.rewire, sweeps=list(run["sweeps"]),
                           train_images=len(train_x))
            metadata = dict(model.checkpoint_metadata, refined=refined,
                            test_accuracy_percent=round(100 * run["test_accuracy"][-1], 4))
            tag = "-rewire" * args.rewire
            save_checkpoint(model, os.path.join(args.save, f"{stem}-shift{args.shift}{tag}-sweep{entry['sweep']}.pt"),
                            metadata, compact=True)

    refine_tables(model, train_x, train_y, max_shift=args.shift, sweeps=args.sweeps, rewire=args.rewire,
                  on_sweep=after_sweep)
    return run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--sweeps", type=int, default=3)
    p.add_argument("--shift", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-limit", type=int, default=None, help="first N training images (smoke runs)")
    p.add_argument("--val-images", type=int, default=0,
                   help="hold out the last N training images (a checkpoint trained without them): val accuracy")
    p.add_argument("--rewire", action="store_true", help="refinement also re-chooses node inputs")
    p.add_argument("--save", metavar="DIR", default=None)
    p.add_argument("--out", default=None, help="result JSON")
    args = p.parse_args(argv)
    machine = {"device": torch.cuda.get_device_name() if str(args.device).startswith("cuda") else "cpu",
               "torch": torch.__version__, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    runs = []
    for path in args.checkpoints:
        runs.append(refine_one(path, args))
        if args.out:
            write_json_atomic(args.out, {"machine": machine, "runs": runs})
    print(f"\nmachine: {machine}")
    header = " | ".join(f"sweep {i}" for i in range(1, args.sweeps + 1))
    print(f"| checkpoint | shift | rewire | trained | {header} |  (test accuracy %; val in parentheses)")
    print("|---|---:|---|---:|" + "---:|" * args.sweeps)
    for r in runs:
        vals = r.get("val_accuracy", [None] * len(r["test_accuracy"]))
        accs = " | ".join(f"{100 * a:.2f}" + (f" ({100 * v:.2f})" if v is not None else "")
                          for a, v in zip(r["test_accuracy"], vals))
        print(f"| {os.path.basename(r['checkpoint'])} | {r['shift']} | {r['rewire']} | {accs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
