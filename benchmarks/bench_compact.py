"""Checkpoint sizes, full vs compact form, of every zoo model at its default size (untrained: the sizes do not
depend on training, except where a node module's parameters must stay float32), and the class scores of the
compact load against the model's on 64 random inputs.

    PYTHONPATH=$PWD python benchmarks/bench_compact.py
"""

from __future__ import annotations

import os
import platform
import tempfile
import time

import torch

from difflut import get_model, list_models
from difflut.checkpoint import load, read_checkpoint


def main() -> None:
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    print("| model | full checkpoint bytes | compact bytes | ratio | compact forms | save s | load s | same scores |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    gen = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        full, compact = os.path.join(tmp, "full.pt"), os.path.join(tmp, "compact.pt")
        for name in list_models():
            model = get_model(name)
            images = torch.randint(0, 256, (64, *model.input_shape), dtype=torch.uint8, generator=gen)
            model.fit_encoder(images).eval()
            model.save_checkpoint(full)
            start = time.perf_counter()
            model.save_checkpoint(compact, compact=True)
            save_s = time.perf_counter() - start
            start = time.perf_counter()
            loaded = load(compact)
            load_s = time.perf_counter() - start
            forms = read_checkpoint(compact)["compact"]
            kinds = ", ".join(f"{sum(v == f for v in forms.values())} {f}" for f in sorted(set(forms.values())))
            same = torch.equal(loaded.class_scores(images), model.class_scores(images))
            a, b = os.path.getsize(full), os.path.getsize(compact)
            print(f"| `{name}` | {a:,} | {b:,} | {a / b:.0f}x | {kinds} | {save_s:.1f} | {load_s:.1f} | {same} |",
                  flush=True)


if __name__ == "__main__":
    main()
