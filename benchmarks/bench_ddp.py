"""Data-parallel training on several GPUs against one GPU: samples/s and final test accuracy, side by side.

Each configuration runs ``difflut train MODEL --device cuda --gpus N ...`` in its own process (the CLI users
run; DistributedDataParallel over NCCL for N > 1), writing a checkpoint whose history gives the samples/s of
every epoch; the table reports the median over epochs 2.. (epoch 1 holds the graph capture), the speed-up
over the first configuration, the wall time and the test accuracy (eval mode) of the last epoch.

    python benchmarks/bench_ddp.py --gpus 1 2 --batch-size 1024 --epochs 5 --cuda-graph       # same per-GPU batch
    python benchmarks/bench_ddp.py --gpus 1 2 --batch-size 128 --global-batch --epochs 30 --cuda-graph \\
        --train-arg=--augment-shift=1 --seeds 0 1 2                                            # same global batch

With several ``--seeds`` every configuration runs once per seed (speed-up against the first configuration of
the same seed) and a summary follows: per GPU count the mean samples/s, its speed-up and the test accuracy's
mean and standard deviation over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from difflut import evaluate
from difflut.checkpoint import load
from difflut.data import load_dataset


def run_config(gpus: int, batch: int, seed: int, args, folder: Path) -> dict:
    out = folder / f"gpus{gpus}_seed{seed}.pt"
    cmd = [sys.executable, "-m", "difflut", "train", args.model, "--device", "cuda", "--gpus", str(gpus),
           "--batch-size", str(batch), "--epochs", str(args.epochs), "--schedule", "cosine", "--keep", "last",
           "--val-size", "0", "--seed", str(seed), "--quiet", "--out", str(out)]
    cmd += (["--cuda-graph"] if args.cuda_graph else []) + list(args.train_arg)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    model = load(out, device="cuda")
    history = model.checkpoint_metadata["history"]
    rates = [r["samples_per_s"] for r in history[1:]] or [history[0]["samples_per_s"]]
    test_x, test_y = load_dataset(model.checkpoint_metadata.get("dataset") or model.dataset, "test")
    return {"gpus": gpus, "seed": seed, "batch": batch, "samples_per_s": statistics.median(rates), "min": min(rates),
            "max": max(rates), "wall_s": wall, "test_accuracy": evaluate(model, test_x, test_y)}


def summary(results: list[dict]) -> list[str]:
    """Markdown rows per GPU count over the seeds: mean samples/s, speed-up against the first GPU count,
    test accuracy mean +- standard deviation (%) and the seeds."""
    counts = list(dict.fromkeys(r["gpus"] for r in results))
    rows = ["| GPUs | seeds | mean samples/s | speed-up | test accuracy % (mean +- sd) |", "|---:|---|---:|---:|---|"]
    base = None
    for gpus in counts:
        mine = [r for r in results if r["gpus"] == gpus]
        rate = statistics.mean(r["samples_per_s"] for r in mine)
        accuracy = [100 * r["test_accuracy"] for r in mine]
        spread = statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0
        base = base or rate
        rows.append(f"| {gpus} | {' '.join(str(r['seed']) for r in mine)} | {rate:,.0f} | {rate / base:.2f}x | "
                    f"{statistics.mean(accuracy):.2f} +- {spread:.2f} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist_fc_8k_dwn")
    p.add_argument("--gpus", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch-size", type=int, default=1024, help="per GPU (or in all, with --global-batch)")
    p.add_argument("--global-batch", action="store_true",
                   help="--batch-size is the global batch: each of N GPUs takes batch-size / N")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0])
    p.add_argument("--cuda-graph", action="store_true", help="the CUDA-graphed step (DDP's all-reduce inside)")
    p.add_argument("--train-arg", action="append", default=[], metavar="ARG",
                   help="one more argument for difflut train, e.g. --train-arg=--augment-shift=1")
    p.add_argument("--keep-dir", default=None, help="keep the checkpoints in this folder")
    args = p.parse_args()
    if not torch.cuda.is_available() or torch.cuda.device_count() < max(args.gpus):
        raise SystemExit(f"needs {max(args.gpus)} CUDA GPUs, {torch.cuda.device_count()} visible")
    print(f"# {torch.cuda.get_device_name()} x {torch.cuda.device_count()}, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d')}; {args.model}, {args.epochs} epochs, cosine, last epoch, "
          f"{'graphed' if args.cuda_graph else 'eager'} step {' '.join(args.train_arg)}")
    print("| GPUs | seed | batch per GPU | global batch | samples/s (median of epochs 2..) | min - max | speed-up "
          "| wall s | test accuracy % |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep_dir or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if args.global_batch and (bad := [g for g in args.gpus if args.batch_size % g]):
            raise SystemExit(f"--global-batch: {args.batch_size} is not a multiple of {bad[0]} GPUs")
        results = []
        for seed in args.seeds:
            base = None
            for gpus in args.gpus:
                batch = args.batch_size // gpus if args.global_batch else args.batch_size
                r = run_config(gpus, batch, seed, args, folder)
                results.append(r)
                base = base or r["samples_per_s"]
                print(f"| {gpus} | {seed} | {batch} | {batch * gpus} | {r['samples_per_s']:,.0f} | {r['min']:,.0f} - "
                      f"{r['max']:,.0f} | {r['samples_per_s'] / base:.2f}x | {r['wall_s']:.0f} | "
                      f"{100 * r['test_accuracy']:.2f} |", flush=True)
        if len(args.seeds) > 1:
            print()
            print("\n".join(summary(results)))


if __name__ == "__main__":
    main()
