"""FPGA cost of exported networks with ``difflut synth``, in the field's style, beside published figures.

    python benchmarks/bench_synth.py [--target xilinx] [--checkpoint m.pt] [--pipeline layers]
                                     [--lut-style xilinx] [--jobs 2] [--keep DIR]

(a) the 2352 -> 2000 -> 1000 network of issue 11 (mnist_fc_8k_dwn with layer_widths (2000, 1000), random
wiring, k = 6, distributive thermometer of 3 bits per pixel, encoder fitted on 10,000 MNIST training images,
untrained tables: the hardware size does not depend on training; accuracy is then chance), and (b) with
``--checkpoint`` a trained model. Each is exported to Verilog and synthesised per module in parallel; the
table gives LUTs by part (encoder / LUT layers / popcounts / argmax: each module's own logic) and the
flattened total, FFs, LUT levels, Fmax (ECP5 runs only), latency and synthesis time. Numbers are yosys /
nextpnr counts (see report.md's note); the published ones are Vivado's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from difflut.checkpoint import load
from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.hw.synth import synthesize
from difflut.models import get_model
from difflut.training import evaluate

#: (model, MNIST accuracy, LUTs, what the number includes)
PUBLISHED = [
    ("DWN (Bacellar et al. 2024), small", "97.1%", "692", "Vivado, xcvu9p; LUT layers + popcount + argmax, encoder excluded"),
    ("DWN, medium", "97.9%", "1,413", "same"),
    ("DWN, large", "98.3%", "4,082", "same"),
    ("PolyLUT-Add (Lou et al. 2024)", "96%", "14,810", "Vivado; whole network as published"),
    ("NeuraLUT (Andronic & Constantinides 2024)", "96%", "54,798", "Vivado; whole network as published"),
]


def issue_network():
    train_x, _ = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", layer_widths=(2000, 1000), mapping="random",
                      encoder="distributive_thermometer", encoder_bits=3)
    return "2352-2000-1000 (k=6, untrained)", model.fit_encoder(train_x[:10000]).eval()


def measure(label: str, model, args, folder: Path) -> dict:
    test_x, test_y = load_mnist("test")
    accuracy = evaluate(model, test_x, test_y)
    start = time.perf_counter()
    export(model, "verilog", folder, vector_codes=test_x[:16].numpy(), pipeline=args.pipeline,
           lut_style=args.lut_style)
    export_s = time.perf_counter() - start
    report = synthesize(folder, target=args.target, family=args.family, jobs=args.jobs, clock_mhz=args.clock_mhz,
                        yosys=args.yosys)
    roles, total, timing = report["roles"], report["total"], report["timing"]
    part = lambda role: roles.get(role, {}).get("luts", 0)  # noqa: E731
    fmax = (report.get("pnr") or {}).get("fmax_mhz")
    return {"model": label, "accuracy": f"{100 * accuracy:.1f}%", "encoder": part("encoder"),
            "layers": part("layers"), "popcount": part("popcount"), "argmax": part("argmax"),
            "total": total["luts"], "ffs": total["ffs"], "levels": total["levels"],
            "fmax": f"{fmax:.0f}" if fmax else "-", "cycles": timing["latency_cycles"],
            "ns": f"{timing['latency_ns']:.1f}" if timing["latency_ns"] is not None else "-",
            "synth_s": report["seconds"], "export_s": export_s, "tools": report["tools"], "report": report}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="xilinx", choices=["xilinx", "ecp5", "ice40", "generic"])
    p.add_argument("--family", default=None)
    p.add_argument("--checkpoint", default=None, help="also measure this trained model")
    p.add_argument("--skip-issue-network", action="store_true")
    p.add_argument("--pipeline", default="layers")
    p.add_argument("--lut-style", default="behavioral", choices=["behavioral", "xilinx"])
    p.add_argument("--clock-mhz", type=float, default=None)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--yosys", default=None)
    p.add_argument("--keep", default=None, help="write the exports (with their reports) here instead of a temp dir")
    args = p.parse_args(argv)

    models = [] if args.skip_issue_network else [issue_network()]
    if args.checkpoint:
        models.append((f"{Path(args.checkpoint).name} (trained)", load(args.checkpoint).eval()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for i, (label, model) in enumerate(models):
            rows.append(measure(label, model, args, root / f"model{i}"))
            print(f"{label}: {rows[-1]['total']:,} LUTs in {rows[-1]['synth_s']:.0f} s", flush=True)

    print(f"\nTarget {args.target} ({rows[0]['report']['family'] if rows else '-'}), pipeline {args.pipeline}, "
          f"LUT style {args.lut_style}. Parts: each module's own logic; total: the flattened top (unread encoder "
          f"bits removed).\n")
    print("| model | accuracy | LUTs encoder | LUTs layers | LUTs popcount | LUTs argmax | LUTs total | FFs | "
          "LUT levels | Fmax (MHz, ECP5) | latency (cycles) | latency (ns) | synthesis (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['accuracy']} | {r['encoder']:,} | {r['layers']:,} | {r['popcount']:,} | "
              f"{r['argmax']:,} | {r['total']:,} | {r['ffs']:,} | {r['levels']} | {r['fmax']} | {r['cycles']} | "
              f"{r['ns']} | {r['synth_s']:.0f} |")
    for r in rows[:1]:
        tools = r["tools"]
        print("\nTools: " + "; ".join(str(v) for v in tools.values() if v))
    print("\nPublished (MNIST):\n\n| model | accuracy | LUTs | includes |\n| --- | ---: | ---: | --- |")
    for name, acc, luts, what in PUBLISHED:
        print(f"| {name} | {acc} | {luts} | {what} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
