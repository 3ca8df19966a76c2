"""Where a GPU training step's time goes: the CUDA kernels of one DiffLUT step, by time per step.

The step of ``bench_vs_dwn.py`` (forward, cross-entropy, backward, fused Adam; :class:`difflut.train_step.TrainStep`)
run eagerly, so the profiler sees each kernel (the graphed step replays the same kernels). Prints, per kernel
name, the calls and microseconds per step and the share of the kernels' total; then the step's wall time
(graphed, median) beside the kernels' sum.

    python benchmarks/profile_step.py [--model mnist_fc_8k_dwn] [--batch 4096] [--iters 20] [--top 25]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from bench_vs_dwn import data, difflut_step, median_ms

from difflut import kernels


def kernel_times(step, iters: int) -> dict[str, list[float]]:
    """Kernel name -> [calls, total microseconds] over ``iters`` profiled steps."""
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(iters):
            step()
        torch.cuda.synchronize()
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            totals[event.name][0] += 1
            totals[event.name][1] += event.device_time
    return totals


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mnist_fc_8k_dwn")
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("profile_step.py needs a CUDA GPU")
    kernels.efd_extension(required=True)
    fit_images, _ = data(60000)
    images, labels = data(args.batch)
    totals = kernel_times(difflut_step(args.model, {}, images, labels, fit_images, graphed=False), args.iters)
    graphed = median_ms(difflut_step(args.model, {}, images, labels, fit_images), 30, 5)
    whole = sum(t for _, t in totals.values()) / args.iters
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}; {args.model}, batch {args.batch}")
    print(f"{'us/step':>9} {'share':>6} {'calls':>6}  kernel")
    for name, (calls, total) in sorted(totals.items(), key=lambda kv: -kv[1][1])[:args.top]:
        print(f"{total / args.iters:>9.1f} {total / args.iters / whole:>6.1%} {calls / args.iters:>6.1f}  {name[:110]}")
    print(f"kernels: {whole / 1e3:.3f} ms per step; graphed step (median of 30): {graphed:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
