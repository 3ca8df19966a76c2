"""Does the CUDA-graphed training step compute what the eager steps compute? (GPU diagnosis)

    python benchmarks/graph_check.py [--model mnist_fc_8k_dwn] [--steps 300] [--batch-size 64]

Three copies of one model (same seed, encoder fitted on 10,000 MNIST images) train on the same batches
(the last one short, as an epoch's last batch) with a cosine schedule:
``plain`` (torch.optim.Adam, float lr: the plain loop's step), ``fused`` (TrainStep eager: fused capturable
Adam, tensor lr) and ``graphed`` (TrainStep with the CUDA graph). After chosen steps the table gives the
largest parameter difference of ``fused`` and ``graphed`` from ``plain``, their learning rates, and the
eval-mode accuracy of each on 2,000 test images.
"""

from __future__ import annotations

import argparse
import copy

import torch

from difflut import evaluate, get_model
from difflut.data import load_mnist
from difflut.train_step import BitsForward, TrainStep, encode_on_device


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mnist_fc_8k_dwn")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)
    device = torch.device("cuda")
    x, y = load_mnist("train")
    tx, ty = load_mnist("test")
    tx, ty = tx[:2000], ty[:2000]
    base = get_model(args.model, seed=0)
    base.fit_encoder(x[:10000])
    base.to(device)
    models = {name: copy.deepcopy(base) for name in ("plain", "fused", "graphed")}
    lr, total = base.default_lr, args.steps
    optims, scheds, steps = {}, {}, {}
    for name, model in models.items():
        model.train()
        if name == "plain":
            optims[name] = torch.optim.Adam(model.parameters(), lr=lr)
        else:
            optims[name] = torch.optim.Adam(model.parameters(), fused=True, capturable=True,
                                            lr=torch.tensor(lr, device=device))
            steps[name] = TrainStep(BitsForward(model), optims[name], device, graphed=name == "graphed")
        scheds[name] = torch.optim.lr_scheduler.CosineAnnealingLR(optims[name], T_max=total)
    bits_all = encode_on_device(base, x[:60000])
    labels_all = y.to(device)
    gen = torch.Generator().manual_seed(0)
    checkpoints = {1, 2, 3, 10, 50, 100, total // 2, total - 1, total}
    print("| step | batch | max |fused - plain| | max |graphed - plain| | lr plain / fused / graphed |")
    print("|---:|---:|---:|---:|---|")
    for step in range(1, total + 1):
        size = args.batch_size if step % 50 else args.batch_size // 3  # some short batches, eager in graphed
        idx = torch.randint(0, len(labels_all), (size,), generator=gen).to(device)
        bits, labels = bits_all[idx], labels_all[idx]
        for name, model in models.items():
            if name == "plain":
                logits = model.head(model._forward_impl(bits.float()))
                loss = torch.nn.functional.cross_entropy(logits, labels) + model.get_regularization_loss()
                optims[name].zero_grad(set_to_none=True)
                loss.backward()
                optims[name].step()
            else:
                steps[name](bits, labels)
            scheds[name].step()
        if step in checkpoints:
            torch.cuda.synchronize()
            diffs = []
            for name in ("fused", "graphed"):
                d = max((a - b).abs().max().item() for a, b in
                        zip(models[name].parameters(), models["plain"].parameters()))
                diffs.append(f"{d:.3g}")
            lrs = " / ".join(f"{float(optims[n].param_groups[0]['lr']):.3g}" for n in models)
            print(f"| {step} | {size} | {diffs[0]} | {diffs[1]} | {lrs} |", flush=True)
    for name, model in models.items():
        print(f"{name}: eval accuracy on 2,000 test images {100 * evaluate(model, tx, ty):.2f}%", flush=True)
        model.train()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
