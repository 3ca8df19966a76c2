"""Run many ``bench_zoo.py`` trainings at once on the GPUs of one machine (a training campaign).

    python benchmarks/run_parallel.py PLAN OUT_DIR [--gpus N] [--deadline SECONDS] [--threads T]

PLAN holds one run per line, ``LABEL bench_zoo.py arguments`` (``#`` starts a comment, ``$VAR``s are
expanded), e.g.
``tiny-s0 --models mnist_lut_tiny --seeds 0 --epochs 30 --batch-size 64 --augment-shift 1 --keep last``.
Every run starts at once, run i on GPU ``i % N`` (``CUDA_VISIBLE_DEVICES``) with ``T`` CPU threads; it
writes ``OUT_DIR/LABEL.json`` (bench_zoo's result) and ``OUT_DIR/LABEL.log``. The training loop is
host-bound (a few ms of launches per step), so several processes share one GPU well. Runs still going
at ``--deadline`` are stopped (their logs keep the epochs done). A table of every finished run follows.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read_plan(path: str) -> list[tuple[str, list[str]]]:
    runs = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = os.path.expandvars(line.split("#", 1)[0]).strip()
        if not line:
            continue
        label, *args = shlex.split(line)
        if not label.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise SystemExit(f"{path}:{number}: label {label!r} must be letters, digits, '-', '_', '.'")
        runs.append((label, args))
    labels = [label for label, _ in runs]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"{path}: labels repeat")
    return runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("plan")
    p.add_argument("out_dir")
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    p.add_argument("--deadline", type=float, default=None, help="stop runs still going after this many s")
    args = p.parse_args(argv)
    runs = read_plan(args.plan)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    procs = []
    start = time.perf_counter()
    for i, (label, run_args) in enumerate(runs):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(i % args.gpus), OMP_NUM_THREADS=str(args.threads),
                   PYTHONUNBUFFERED="1")
        cmd = [sys.executable, str(HERE / "bench_zoo.py"), *run_args, "--out", str(out / f"{label}.json")]
        log = open(out / f"{label}.log", "w")
        log.write(" ".join(map(shlex.quote, cmd)) + "\n")
        log.flush()
        procs.append((label, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    for label, proc, log in procs:
        remaining = None if args.deadline is None else max(1.0, args.deadline - (time.perf_counter() - start))
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print(f"{label}: stopped at the deadline", flush=True)
        log.close()
        print(f"{label}: rc {proc.returncode} after {time.perf_counter() - start:.0f} s", flush=True)
    print("\n| run | model | dataset | overrides | epochs | train s | test accuracy |")
    print("|---|---|---|---|---:|---:|---:|")
    for label, _, _ in procs:
        path = out / f"{label}.json"
        if not path.exists():
            print(f"| {label} | (no result) |")
            continue
        for r in json.loads(path.read_text())["runs"]:
            print(f"| {label} | {r['model']} | {r['dataset']} | {json.dumps(r['overrides'])} | {r['epochs']} | "
                  f"{r['train_seconds']:.0f} | {100 * r['test_accuracy']:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
