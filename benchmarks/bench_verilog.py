"""Verilog export and simulation of an mnist_fc_8k-size model: export time and size, simulator build time and
vectors/s (Icarus, and Verilator when it is on PATH), and the projected time to verify all 10,000 MNIST test images.

    python benchmarks/bench_verilog.py [--checkpoint m.pt] [--vectors 40] [--pipeline layers]

Without a checkpoint the model is an untrained ``mnist_fc_8k_dwn`` (2000 + 6000 LUTs) with its encoder fitted
on 10,000 training images (the hardware size does not depend on training). The expected values of the test
vectors come from the PyTorch eval forward; the simulation must match them exactly (the script exits 1
otherwise).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from difflut.checkpoint import load
from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.hw.sim import run_sim
from difflut.models import get_model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--vectors", type=int, default=40, help="test images simulated per simulator")
    p.add_argument("--pipeline", default="layers")
    p.add_argument("--simulators", nargs="*", default=None, help="default: icarus, and verilator if found")
    args = p.parse_args(argv)

    if args.checkpoint:
        model = load(args.checkpoint)
    else:
        train_x, _ = load_mnist("train")
        model = get_model("mnist_fc_8k_dwn").fit_encoder(train_x[:10000]).eval()
    test_x, _ = load_mnist("test")
    simulators = args.simulators or ["icarus"] + (["verilator"] if shutil.which("verilator") else [])

    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rtl"
        start = time.perf_counter()
        manifest = export(model, "verilog", out, vector_codes=test_x[: args.vectors].numpy(), pipeline=args.pipeline)
        export_s = time.perf_counter() - start
        size = sum(f.stat().st_size for f in out.glob("*.v"))
        print(f"export: {manifest['num_luts']:,} LUTs, {export_s:.1f} s, Verilog {size / 1e6:.2f} MB", flush=True)
        for sim in simulators:
            result = run_sim(out, simulator=sim)
            ok &= result.passed
            rates = [r["vectors_per_s"] for r in result.per_test.values() if r["vectors_per_s"]]
            rate = min(rates) if rates else None  # none when the build or every test failed
            rows.append((sim, result.build_s, rate, result.checked, result.mismatches, result.status))
            print(result.summary(), flush=True)

    print("\n| simulator | build (s) | vectors/s (slowest test) | outputs checked | mismatches | status | "
          "projected 10,000 images (s) |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for sim, build, rate, checked, mismatches, status in rows:
        rate_text, projected = (f"{rate:.1f}", f"{build + 10000 / rate:.0f}") if rate else ("-", "-")
        print(f"| {sim} | {build:.1f} | {rate_text} | {checked} | {mismatches} | {status} | {projected} |")
    print(f"\nexport time {export_s:.1f} s, Verilog {size / 1e6:.2f} MB, {manifest['num_luts']:,} LUTs")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
