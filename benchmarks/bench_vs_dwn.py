"""GPU training-step time: DiffLUT against torch-dwn (PyPI) and against DiffLUT's own pure-torch path.

Table 1, the issue-13 network for both libraries: distributive thermometer (3 bits) on MNIST ->
2,000 learnable-mapped k=6 DWN LUTs -> 1,000 random k=6 DWN LUTs -> GroupSum (tau 1/0.3). Table 2,
the default ``mnist_fc_8k_dwn``: DiffLUT's GPU step (:class:`difflut.train_step.TrainStep`, graphed,
fused Adam) against the pure-torch path (``DIFFLUT_CUDA_KERNELS=0``, eager ``model(images)`` step,
plain Adam). One step = forward, cross-entropy, backward, Adam step; median of ``--iters``
CUDA-synchronised steps after ``--warmup``. Also: a training epoch through :func:`difflut.training.train`
(samples/s against the step rate and the CPU cores busy, both the median of epochs 2-3 from the history;
beside them the CPU cores of the whole ``train`` call, encoder fit and validation included) and the
eval-mode images/s on the GPU: the torch eval forward and the bit-packed IR evaluator
(:mod:`difflut.packed_eval`, checked bit-exact first).

    python benchmarks/bench_vs_dwn.py [--batch 32 256 1024 4096] [--no-dwn] [--epoch-batch 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from difflut import get_model, kernels
from difflut.train_step import BitsForward, TrainStep

#: torch-dwn's EFD weights are the "released" ones
ISSUE_NET = dict(encoder="distributive_thermometer", encoder_bits=3, node_type="dwn", layer_widths=(2000, 1000),
                 tau=1 / 0.3, node_kwargs={"efd": "released"})


def median_ms(step, iters: int, warmup: int) -> float:
    times = []
    for i in range(warmup + iters):
        torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def data(batch: int):
    gen = torch.Generator().manual_seed(batch)
    images = torch.randint(0, 256, (batch, 28, 28), dtype=torch.uint8, generator=gen)
    return images, torch.randint(0, 10, (batch,), generator=gen)


def difflut_step(name: str, overrides: dict, images, labels, fit_images, graphed: bool = True):
    model = get_model(name, **overrides).fit_encoder(fit_images).cuda().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True, capturable=True)
    runner = TrainStep(BitsForward(model), optimizer, torch.device("cuda"), graphed=graphed)
    bits = model.encode(images.cuda()).to(torch.uint8)
    labels = labels.cuda()
    return lambda: runner(bits, labels)


def torch_path_step(name: str, overrides: dict, images, labels, fit_images):
    model = get_model(name, **overrides).fit_encoder(fit_images).cuda().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = images.cuda(), labels.cuda()

    def step():
        loss = F.cross_entropy(model(images), labels) + model.get_regularization_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def torch_dwn_step(images, labels, fit_images):
    import torch_dwn as dwn

    thermometer = dwn.DistributiveThermometer(3).fit(fit_images.flatten(1).float() / 255)
    model = torch.nn.Sequential(dwn.LUTLayer(784 * 3, 2000, n=6, mapping="learnable"),
                                dwn.LUTLayer(2000, 1000, n=6), dwn.GroupSum(k=10, tau=1 / 0.3)).cuda().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = thermometer.binarize(images.flatten(1).float() / 255).flatten(1).cuda()
    labels = labels.cuda()

    def step():
        loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def epoch_rate(batch: int, fit_images, labels_all, name="mnist_fc_8k_dwn", overrides=None) -> dict:
    from difflut.training import train

    model = get_model(name, **(overrides or {}))
    usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    history = train(model, fit_images, labels_all, fit_images[:10000], labels_all[:10000], epochs=3,
                    batch_size=batch, device="cuda", progress=False, cuda_graph=True)
    usage1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    steady = history[1:]  # epoch 1 holds the graph capture
    images = fit_images[:10000].cuda()
    model.eval()
    model.predict(images, batch_size=10000)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(5):
        model.predict(images, batch_size=10000)
    torch.cuda.synchronize()
    torch_rate = 5 * len(images) / (time.perf_counter() - start)
    from difflut.hw.lower import lower
    from difflut.packed_eval import PackedNetlist

    packed = PackedNetlist(lower(model), "cuda")
    assert torch.equal(packed.class_scores(images).cpu(), model.class_scores(images).cpu())  # bit-exact
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(5):
        packed.class_scores(images)
    torch.cuda.synchronize()
    return {"samples_per_s": statistics.median(r["samples_per_s"] for r in steady),
            "cpu_cores": statistics.median(r["cpu_cores"] for r in steady), "cpu_cores_all": cpu / (wall1 - wall0),
            "eval_images_per_s": torch_rate, "packed_images_per_s": 5 * len(images) / (time.perf_counter() - start),
            "val": history[-1]["val_accuracy"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[32, 256, 1024, 4096])
    p.add_argument("--iters", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--no-dwn", action="store_true", help="skip torch-dwn (not installed)")
    p.add_argument("--epoch-batch", type=int, nargs="*", default=[256],
                   help="batch sizes of the training-epoch measurement (MNIST, 60,000 images)")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("bench_vs_dwn.py needs a CUDA GPU")
    kernels.efd_extension(required=True)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    fit_images, fit_labels = data(60000)
    rates = {}
    for title, net, reference in (("issue-13 network", ISSUE_NET, "torch-dwn"),
                                  ("mnist_fc_8k_dwn", {}, "pure torch")):
        if reference == "torch-dwn" and args.no_dwn:
            continue
        print(f"\n{title}: median ms per training step")
        print(f"{'batch':>6} {reference + ' ms':>14} {'DiffLUT ms':>11} {'speed-up':>9} {'DiffLUT samples/s':>18}")
        for batch in args.batch:
            images, labels = data(batch)
            if reference == "torch-dwn":
                ref = torch_dwn_step(images, labels, fit_images)
            else:
                os.environ["DIFFLUT_CUDA_KERNELS"] = "0"
                ref = torch_path_step("mnist_fc_8k_dwn", net, images, labels, fit_images)
            t_ref = median_ms(ref, args.iters, args.warmup)
            os.environ.pop("DIFFLUT_CUDA_KERNELS", None)
            del ref
            ours = difflut_step("mnist_fc_8k_dwn", net, images, labels, fit_images)
            t_ours = median_ms(ours, args.iters, args.warmup)
            del ours
            rates[(title, batch)] = batch / t_ours * 1e3
            print(f"{batch:>6} {t_ref:>14.2f} {t_ours:>11.2f} {t_ref / t_ours:>8.2f}x {batch / t_ours * 1e3:>18,.0f}",
                  flush=True)
    if args.epoch_batch:
        print("\nmnist_fc_8k_dwn: difflut.training.train epoch (random MNIST-shaped data, 60,000 images)")
        print(f"{'batch':>6} {'samples/s':>10} {'of step rate':>13} {'CPU cores':>10} {'(whole train)':>14} "
              f"{'eval images/s':>14} {'packed eval images/s':>21}")
        for batch in args.epoch_batch:
            r = epoch_rate(batch, fit_images, fit_labels)
            step_rate = rates.get(("mnist_fc_8k_dwn", batch))
            share = f"{r['samples_per_s'] / step_rate:.0%}" if step_rate else "-"
            print(f"{batch:>6} {r['samples_per_s']:>10,.0f} {share:>13} {r['cpu_cores']:>10.2f} "
                  f"{r['cpu_cores_all']:>14.2f} {r['eval_images_per_s']:>14,.0f} {r['packed_images_per_s']:>21,.0f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
