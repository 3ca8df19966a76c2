"""A/B on one GPU: the mnist_fc_8k_dwn training step of an old source tree against this one, in one run.

    python benchmarks/bench_ab.py OLD_TREE [--runs 2] [--batch 1024 4096] [--iters 30] [--out DIR]

OLD_TREE holds the old design's ``difflut``, ``csrc`` and ``benchmarks/bench_vs_dwn.py``, e.g.
``git archive REV difflut csrc benchmarks/bench_vs_dwn.py pyproject.toml | tar -x -C OLD_TREE``. Both trees'
CUDA extensions are built at once, each into its own ``TORCH_EXTENSIONS_DIR`` (under ``--build-dir``); then
``bench_vs_dwn.py --no-dwn --epoch-batch`` (no epoch) runs in the new tree and in the old one in turn,
``--runs`` times, so both meet the same machine state. Prints per run and batch the old and new step
(median ms) and the pure-torch reference each process measured beside it; ``--out`` keeps every raw output.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from difflut.files import write_atomic

NEW_TREE = Path(__file__).resolve().parents[1]
#: a row of bench_vs_dwn.py's table: batch, reference ms, DiffLUT ms, speed-up
ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x")
SECTION = "mnist_fc_8k_dwn: median ms per training step"


def parse_steps(output: str) -> dict[int, tuple[float, float]]:
    """bench_vs_dwn.py's output -> {batch: (pure-torch ms, DiffLUT ms)} of its mnist_fc_8k_dwn table."""
    rows, inside = {}, False
    for line in output.splitlines():
        if line.startswith(SECTION):
            inside = True
        elif inside and (match := ROW.match(line)):
            rows[int(match[1])] = (float(match[2]), float(match[3]))
        elif inside and rows and not line.strip():
            break
    return rows


def _env(tree: Path, build: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "TORCH_EXTENSIONS_DIR": str(build), "PYTHONUNBUFFERED": "1"}


def _build(tree: Path, build: Path) -> None:
    code = "from difflut import kernels; kernels.efd_extension(required=True)"
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=tree, env=_env(tree, build),
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"building the CUDA kernels of {tree} failed:\n{done.stderr[-3000:]}")


def _bench(tree: Path, build: Path, args) -> str:
    command = [sys.executable, "benchmarks/bench_vs_dwn.py", "--no-dwn", "--iters", str(args.iters), "--batch",
               *map(str, args.batch), "--epoch-batch"]
    done = subprocess.run(command, check=False, cwd=tree, env=_env(tree, build), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench_vs_dwn.py in {tree} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old_tree", type=Path)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--batch", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--build-dir", type=Path, default=Path("/tmp/difflut_ab"),
                   help="the two trees' extension caches go to BUILD_DIR/old and BUILD_DIR/new")
    p.add_argument("--out", type=Path, help="a folder for the raw outputs, bench_{old,new}_RUN.txt (created; "
                   "refused if one of those files exists)")
    args = p.parse_args(argv)
    old = args.old_tree.resolve()
    if not (old / "benchmarks" / "bench_vs_dwn.py").is_file() or not (old / "difflut").is_dir():
        raise SystemExit(f"{old} is not a DiffLUT tree (needs difflut/ and benchmarks/bench_vs_dwn.py)")
    trees = {"new": NEW_TREE, "old": old}
    builds = {name: args.build_dir / name for name in trees}
    raw = {(name, run): args.out / f"bench_{name}_{run}.txt" for name in trees for run in range(1, args.runs + 1)} \
        if args.out else {}
    if taken := [str(path) for path in raw.values() if path.exists()]:
        raise SystemExit(f"refusing to overwrite {', '.join(taken)}: choose another --out folder")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(_build, trees.values(), builds.values()))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    steps = {}
    for run in range(1, args.runs + 1):
        for name, tree in trees.items():
            output = _bench(tree, builds[name], args)
            if raw:
                write_atomic(raw[name, run], output.encode())
            steps[name, run] = parse_steps(output)
            if set(steps[name, run]) != set(args.batch):
                raise SystemExit(f"no mnist_fc_8k_dwn step in the {name} tree's output:\n{output[-2000:]}")
    print(f"mnist_fc_8k_dwn step, median ms: old = {old}, new = {NEW_TREE}")
    print(f"{'run':>4} {'batch':>6} {'old':>8} {'new':>8} {'new/old':>8} {'torch (old)':>12} {'torch (new)':>12} "
          f"{'speed-up new':>13}")
    for run in range(1, args.runs + 1):
        for batch in args.batch:
            ref_old, t_old = steps["old", run][batch]
            ref_new, t_new = steps["new", run][batch]
            print(f"{run:>4} {batch:>6} {t_old:>8.2f} {t_new:>8.2f} {t_new / t_old:>8.3f} {ref_old:>12.2f} "
                  f"{ref_new:>12.2f} {ref_new / t_new:>12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
