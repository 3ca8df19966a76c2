"""GPU training-step time of the mnist_fc_8k_dwn network: DiffLUT's fused CUDA kernels vs torch ops.

One training step = forward of the whole model (encoder, LUT layers, GroupSum), cross-entropy,
backward and an Adam step, on random uint8 images. Each configuration runs twice in this one
process, with the kernels and with ``DIFFLUT_CUDA_KERNELS=0`` (the torch implementation of the same
EFD lookup); the script first checks that both give the same loss. Times are the median of
``--iters`` CUDA-synchronised steps after ``--warmup`` steps.

    python benchmarks/bench_cuda.py --batch 32 64 256 --mapping random learnable [--widths 6000 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from difflut import get_model, kernels


def step_time(model, images, labels, iters: int, warmup: int) -> tuple[float, float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times, first_loss = [], None
    for i in range(warmup + iters):
        torch.cuda.synchronize()
        start = time.perf_counter()
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        torch.cuda.synchronize()
        if first_loss is None:
            first_loss = loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), first_loss


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[32, 64, 256])
    p.add_argument("--mapping", nargs="+", default=["random", "learnable"])
    p.add_argument("--node-type", default="dwn_stable")
    p.add_argument("--widths", type=int, nargs="+", default=None, help="layer_widths (default: the model's)")
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("bench_cuda.py needs a CUDA GPU")
    kernels.efd_extension(required=True)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(f"{'mapping':>10} {'batch':>6} {'torch ops ms':>13} {'kernels ms':>11} {'speed-up':>9} {'samples/s (kernels)':>20}")
    for mapping in args.mapping:
        for batch in args.batch:
            gen = torch.Generator().manual_seed(batch)
            images = torch.randint(0, 256, (batch, 28, 28), dtype=torch.uint8, generator=gen)
            labels = torch.randint(0, 10, (batch,), generator=gen).cuda()
            result = {}
            for mode in ("torch", "kernels"):
                os.environ["DIFFLUT_CUDA_KERNELS"] = "0" if mode == "torch" else "1"
                widths = {"layer_widths": tuple(args.widths)} if args.widths else {}
                model = get_model("mnist_fc_8k_dwn", mapping=mapping, node_type=args.node_type, **widths)
                model.fit_encoder(images).cuda().train()
                result[mode] = step_time(model, images.cuda(), labels, args.iters, args.warmup)
            if result["torch"][1] != result["kernels"][1]:
                raise SystemExit(f"first-step losses differ: {result['torch'][1]} vs {result['kernels'][1]}")
            t0, t1 = result["torch"][0], result["kernels"][0]
            print(f"{mapping:>10} {batch:>6} {t0 * 1e3:>13.2f} {t1 * 1e3:>11.2f} {t0 / t1:>8.2f}x {batch / t1:>20,.0f}")
    os.environ.pop("DIFFLUT_CUDA_KERNELS", None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
