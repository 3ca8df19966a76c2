"""Images/s on one CPU core (thread CPU time, best of several passes): the C backend's batch API vs the PyTorch eval forward vs the numpy
IR evaluator, same run, same images; plus export time, header size and compile time.

    python benchmarks/bench_c.py [--checkpoint m.pt | --model NAME] [--synthetic] [--images 10000] [--repeats 5]
                                 [--cflags "-O2"]

Without a checkpoint the model is an untrained zoo model (default ``mnist_fc_8k_dwn``, 2000 + 6000
LUTs) with its encoder fitted on 10,000 training images: the speed does not depend on training.
``--synthetic``: seeded random uint8 images instead of the data set (e.g. ``--model cifar10_conv
--synthetic --images 200`` where CIFAR-10 cannot be downloaded). All three backends must give
identical class scores and predicted classes (checked); the script exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from difflut.checkpoint import load
from difflut.data import load_dataset
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.export import build_ir, export
from difflut.models import get_model, list_models

DRIVER = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "NAME.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  /* CPU time of this thread: one core */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t n;
    int repeats, r;
    FILE *f;
    NAME_input_t *x;
    uint16_t *scores;
    int32_t *classes;
    double best = 1e30;
    if (argc < 6) return 2;
    n = (size_t)atol(argv[2]);
    repeats = atoi(argv[3]);
    f = fopen(argv[1], "rb");
    x = malloc(n * UPNAME_NUM_FEATURES * sizeof *x);
    scores = malloc(n * UPNAME_NUM_CLASSES * sizeof *scores);
    classes = malloc(n * sizeof *classes);
    if (!f || !x || !scores || !classes) return 2;
    if (fread(x, sizeof *x, n * UPNAME_NUM_FEATURES, f) != n * UPNAME_NUM_FEATURES) return 2;
    fclose(f);
    for (r = 0; r < repeats; r++) {
        double t0 = now(), dt;
        NAME_predict_batch(x, n, scores, classes);
        dt = now() - t0;
        if (dt < best) best = dt;
    }
    f = fopen(argv[4], "wb");
    if (!f || fwrite(scores, sizeof *scores, n * UPNAME_NUM_CLASSES, f) != n * UPNAME_NUM_CLASSES) return 2;
    fclose(f);
    f = fopen(argv[5], "wb");
    if (!f || fwrite(classes, sizeof *classes, n, f) != n) return 2;
    fclose(f);
    printf("%.9f\n", best);
    return 0;
}
"""


def best_of(fn, repeats):
    """Best CPU time of this thread (one core; not inflated by other processes on a shared machine)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.thread_time()
        out = fn()
        best = min(best, time.thread_time() - t0)
    return best, out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--model", default="mnist_fc_8k_dwn", choices=list_models(), help="zoo model without --checkpoint")
    p.add_argument("--synthetic", action="store_true", help="seeded random uint8 images instead of the data set")
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--repeats", type=int, default=5, help="C and numpy passes (best counts)")
    p.add_argument("--torch-repeats", type=int, default=2, help="PyTorch passes (slow)")
    p.add_argument("--cc", default=os.environ.get("CC", "cc"))
    p.add_argument("--cflags", default="-O2")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core for everything

    model = load(args.checkpoint) if args.checkpoint else get_model(args.model, seed=0)
    source = args.checkpoint

    def split(name, count):
        if args.synthetic:
            generator = torch.Generator().manual_seed(0 if name == "train" else 1)
            return torch.randint(0, 256, (count, *model.input_shape), dtype=torch.uint8, generator=generator)
        return load_dataset(model.dataset, name)[0][:count]

    images = split("test", args.images)
    if not args.checkpoint:
        model = model.fit_encoder(split("train", 10000)).eval()
    data = f"{'synthetic' if args.synthetic else model.dataset} test images"
    name = model.model_name
    codes = images.numpy()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        manifest = export(source or model, "c", tmp / "c", name=name, vector_codes=codes[:256])
        export_s = time.perf_counter() - t0
        header = tmp / "c" / f"{name}.h"
        (tmp / "c" / "bench.c").write_text(DRIVER.replace("UPNAME", name.upper()).replace("NAME", name))
        t0 = time.perf_counter()
        build = subprocess.run([args.cc, "-std=c99", *shlex.split(args.cflags), "bench.c", "-o", "bench"],
                               cwd=tmp / "c", capture_output=True, text=True)
        compile_s = time.perf_counter() - t0
        if build.returncode:
            print(build.stderr, file=sys.stderr)
            return 1
        codes.astype(np.uint8).tofile(tmp / "images.bin")
        run = subprocess.run([str(tmp / "c" / "bench"), str(tmp / "images.bin"), str(len(codes)),
                              str(args.repeats), str(tmp / "scores.bin"), str(tmp / "classes.bin")],
                             capture_output=True, text=True)
        if run.returncode:
            print(run.stdout, run.stderr, file=sys.stderr)
            return 1
        c_s = float(run.stdout.strip())
        c_scores = np.fromfile(tmp / "scores.bin", dtype=np.uint16).reshape(len(codes), -1).astype(np.int64)
        c_classes = np.fromfile(tmp / "classes.bin", dtype=np.int32).astype(np.int64)
        header_bytes = header.stat().st_size

    ir = build_ir(model, checkpoint=args.checkpoint)  # the IR the export wrote, for the numpy evaluator
    torch_s, torch_scores = best_of(lambda: model.class_scores(images, batch_size=1000).numpy(), args.torch_repeats)
    torch_classes = model.predict(images, batch_size=1000).numpy()
    numpy_s, (np_scores, np_classes) = best_of(lambda: evaluate_ir(ir, codes), args.repeats)
    same = all(np.array_equal(a, b) for a, b in ((c_scores, torch_scores), (np_scores, torch_scores),
                                                 (c_classes, torch_classes), (np_classes, torch_classes)))

    n = len(codes)
    rows = [("C batch API (" + args.cflags + ")", c_s), ("PyTorch CPU eval forward (1 thread)", torch_s),
            ("numpy IR evaluator", numpy_s)]
    print(f"model {name}: {model.num_nodes:,} LUTs ({manifest['num_luts']:,} after optimisation), "
          f"{'checkpoint ' + args.checkpoint if args.checkpoint else 'untrained, encoder fitted'}; "
          f"{n:,} {data}, one core (thread CPU time), best of {args.repeats} (PyTorch {args.torch_repeats})")
    print()
    print("| backend | time (s) | images/s | vs PyTorch |")
    print("| --- | ---: | ---: | ---: |")
    for label, s in rows:
        print(f"| {label} | {s:.4f} | {n / s:,.0f} | {torch_s / s:.1f}x |")
    print()
    print(f"export (lower + optimise + IR check + C generation): {export_s:.2f} s; header {header_bytes / 1e6:.2f} MB; "
          f"compile ({args.cc} -std=c99 {args.cflags}): {compile_s:.1f} s")
    print(f"class scores and predicted classes identical across C, PyTorch and numpy: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "images": n, "c_s": c_s, "torch_s": torch_s, "numpy_s": numpy_s, "export_s": export_s,
            "header_bytes": header_bytes, "compile_s": compile_s, "identical": same, "cflags": args.cflags,
        }, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
