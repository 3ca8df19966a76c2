"""Test accuracy of the shipped pretrained models with their encoder thresholds moved onto the code grid.

For each model of ``difflut/models/pretrained/`` and each ``--steps`` S, the thresholds are snapped
(:meth:`difflut.encoders.base.BaseEncoder.snap_to_code_grid_`, what ``encoder_code_step=S`` does after
``fit_encoder``) without retraining, and the eval-mode accuracy on the 10,000 MNIST test images is printed
beside the exact thresholds' (S = 1). A model trained with ``encoder_code_step`` adapts to the grid; this
is the cost before any such adaptation.

    python benchmarks/bench_code_step.py [--models mnist_lut_tiny ...] [--steps 2 4 8]
"""

from __future__ import annotations

import argparse
import time

from difflut import evaluate
from difflut.data import load_mnist
from difflut.models import get_model

MODELS = ["mnist_lut_tiny", "mnist_lut_small", "mnist_lut_large", "mnist_fc_8k_dwn"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8])
    args = p.parse_args(argv)
    images, labels = load_mnist("test")
    print(f"# eval-mode MNIST test accuracy, shipped models, thresholds snapped without retraining; "
          f"{time.strftime('%Y-%m-%d')}")
    print("| model | exact (step 1) | " + " | ".join(f"step {s}" for s in args.steps) + " |")
    print("|---|---:|" + "---:|" * len(args.steps))
    for name in args.models:
        row = [f"{100 * evaluate(get_model(name, pretrained=True), images, labels):.2f}%"]
        for step in args.steps:
            model = get_model(name, pretrained=True)
            model.encoder.snap_to_code_grid_(model.input_format, step)
            row.append(f"{100 * evaluate(model, images, labels):.2f}%")
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
