"""FPGA cost of exported networks with ``difflut synth``, in the field's style, beside published figures.

    python benchmarks/bench_synth.py [--target xilinx] [--checkpoint m.pt] [--pipeline layers]
                                     [--lut-style xilinx] [--jobs 2] [--flatten stitch] [--keep DIR]
    python benchmarks/bench_synth.py --checkpoint m.pt --support-only

(a) the 2352 -> 2000 -> 1000 network of issue 11 (mnist_fc_8k_dwn with layer_widths (2000, 1000), random
wiring, k = 6, distributive thermometer of 3 bits per pixel, encoder fitted on 10,000 MNIST training images,
untrained tables: the hardware size does not depend on training; accuracy is then chance), and (b) with
``--checkpoint`` a trained model. Each is exported to Verilog and synthesised per module in parallel; the
table gives LUTs by part (encoder / LUT layers / popcounts / argmax: each module's own logic) and the
flattened total, FFs, LUT levels, Fmax (ECP5 runs only), latency and synthesis time (wall, and the CPU time
of the tool processes; the load average is printed: the machine may be shared). Numbers are yosys /
nextpnr counts (see report.md's note); the published ones are Vivado's.

With ``--checkpoint`` it first prints what ``passes.optimize`` removes from the trained model, per layer:
nodes and LUT inputs (distinct wires a node reads, constants not counted) before and after, the nodes by
input count after, and the encoder bits the LUTs read (``--support-only``: only that, no synthesis).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from difflut.checkpoint import load
from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.hw.lower import lower
from difflut.hw.passes import optimize
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


def node_inputs(inputs: np.ndarray) -> np.ndarray:
    """int64 (N,): per node (a row of wire ids, (N, k)), the distinct wires it reads; constants not counted."""
    ordered = np.sort(inputs, axis=1)
    first = np.ones(ordered.shape, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return (first & (ordered >= 0)).sum(axis=1)


def _by_layer(ir) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for layer in ir.layers:
        row = rows.setdefault(layer.name, {"nodes": 0, "inputs": 0, "by_inputs": np.zeros(0, dtype=np.int64)})
        counts = node_inputs(layer.inputs)
        row["nodes"] += layer.num_nodes
        row["inputs"] += int(counts.sum())
        hist = np.bincount(counts)
        size = max(hist.size, row["by_inputs"].size)
        row["by_inputs"] = np.pad(row["by_inputs"], (0, size - row["by_inputs"].size)) + np.pad(hist, (0, size - hist.size))
    return rows


def _encoder_bits_read(ir) -> int:
    reads = np.concatenate([layer.inputs.reshape(-1) for layer in ir.layers] + [ir.class_wires.reshape(-1)])
    return int(np.unique(reads[(reads >= 0) & (reads < ir.num_encoder_wires)]).size)


def support_report(ir) -> tuple[list[dict], dict]:
    """What ``passes.optimize`` removes from ``ir``: one row per layer name ``{"name", "nodes",
    "nodes_after", "inputs", "inputs_after", "by_inputs_after": {k: nodes}}`` (inputs: the sum over nodes
    of the distinct wires each reads, constants not counted), then ``{"name": "encoder", "bits",
    "bits_read", "bits_read_after"}``; and optimize's own report."""
    optimized, passes = optimize(ir)
    before, after = _by_layer(ir), _by_layer(optimized)
    rows = []
    for name, b in before.items():
        a = after.get(name, {"nodes": 0, "inputs": 0, "by_inputs": np.zeros(0, dtype=np.int64)})
        rows.append({"name": name, "nodes": b["nodes"], "nodes_after": a["nodes"], "inputs": b["inputs"],
                     "inputs_after": a["inputs"],
                     "by_inputs_after": {k: int(n) for k, n in enumerate(a["by_inputs"]) if n}})
    rows.append({"name": "encoder", "bits": ir.num_encoder_wires, "bits_read": _encoder_bits_read(ir),
                 "bits_read_after": _encoder_bits_read(optimized)})
    return rows, passes


def print_support(label: str, rows: list[dict], passes: dict) -> None:
    print(f"\npasses.optimize on {label}: nodes and LUT inputs (distinct wires read per node, summed) "
          f"before / after\n")
    print("| layer | nodes | nodes after | removed | LUT inputs | inputs after | removed | after: nodes by input count |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    layers = [r for r in rows if r["name"] != "encoder"]
    total = {key: sum(r[key] for r in layers) for key in ("nodes", "nodes_after", "inputs", "inputs_after")}
    for r in layers + [dict(total, name="all layers", by_inputs_after={})]:
        hist = ", ".join(f"{k}: {n:,}" for k, n in r["by_inputs_after"].items()) or "-"
        print(f"| {r['name']} | {r['nodes']:,} | {r['nodes_after']:,} | {r['nodes'] - r['nodes_after']:,} | "
              f"{r['inputs']:,} | {r['inputs_after']:,} | {r['inputs'] - r['inputs_after']:,} | {hist} |")
    enc = rows[-1]
    print(f"\nEncoder bits read by the LUTs / class wires: {enc['bits_read']:,} of {enc['bits']:,} before, "
          f"{enc['bits_read_after']:,} after.")
    counts = {name: r for name, r in passes.items() if isinstance(r, dict) and r}
    print("Passes (summed over " + f"{passes['iterations']} iteration(s)): "
          + "; ".join(f"{name} {r}" for name, r in counts.items()))


def measure(label: str, model, args, folder: Path) -> dict:
    test_x, test_y = load_mnist("test")
    accuracy = evaluate(model, test_x, test_y)
    start = time.perf_counter()
    export(model, "verilog", folder, vector_codes=test_x[:16].numpy(), pipeline=args.pipeline,
           lut_style=args.lut_style)
    export_s = time.perf_counter() - start
    load = os.getloadavg()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = synthesize(folder, target=args.target, family=args.family, jobs=args.jobs, clock_mhz=args.clock_mhz,
                        yosys=args.yosys, flatten=args.flatten)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    load = (load, os.getloadavg())
    roles, total, timing = report["roles"], report["total"], report["timing"]
    part = lambda role: roles.get(role, {}).get("luts", 0)  # noqa: E731
    fmax = (report.get("pnr") or {}).get("fmax_mhz")
    return {"model": label, "accuracy": f"{100 * accuracy:.1f}%", "encoder": part("encoder"),
            "layers": part("layers"), "popcount": part("popcount"), "argmax": part("argmax"),
            "total": total["luts"], "ffs": total["ffs"], "levels": total["levels"],
            "fmax": f"{fmax:.0f}" if fmax else "-", "cycles": timing["latency_cycles"],
            "ns": f"{timing['latency_ns']:.1f}" if timing["latency_ns"] is not None else "-",
            "synth_s": report["seconds"], "cpu_s": cpu_s, "load": load, "export_s": export_s,
            "tools": report["tools"], "report": report}


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
    p.add_argument("--flatten", default="stitch", choices=["stitch", "synth"],
                   help="the total: the modules' netlists stitched (default) or the flattened top synthesised again")
    p.add_argument("--support-only", action="store_true",
                   help="with --checkpoint: only print what passes.optimize removes, no synthesis")
    p.add_argument("--keep", default=None, help="write the exports (with their reports) here instead of a temp dir")
    args = p.parse_args(argv)

    if args.support_only and not args.checkpoint:
        p.error("--support-only needs --checkpoint")
    models = [] if args.skip_issue_network or args.support_only else [issue_network()]
    if args.checkpoint:
        trained = load(args.checkpoint).eval()
        print_support(Path(args.checkpoint).name, *support_report(lower(trained)))
        if args.support_only:
            return 0
        models.append((f"{Path(args.checkpoint).name} (trained)", trained))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for i, (label, model) in enumerate(models):
            rows.append(measure(label, model, args, root / f"model{i}"))
            print(f"{label}: {rows[-1]['total']:,} LUTs in {rows[-1]['synth_s']:.0f} s", flush=True)

    print(f"\nTarget {args.target} ({rows[0]['report']['family'] if rows else '-'}), pipeline {args.pipeline}, "
          f"LUT style {args.lut_style}. Parts: each module's own logic; total: the flattened top (unread encoder "
          f"bits removed); flatten {args.flatten}.\n")
    print("| model | accuracy | LUTs encoder | LUTs layers | LUTs popcount | LUTs argmax | LUTs total | FFs | "
          "LUT levels | Fmax (MHz, ECP5) | latency (cycles) | latency (ns) | synthesis (s wall) | tools' CPU (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['accuracy']} | {r['encoder']:,} | {r['layers']:,} | {r['popcount']:,} | "
              f"{r['argmax']:,} | {r['total']:,} | {r['ffs']:,} | {r['levels']} | {r['fmax']} | {r['cycles']} | "
              f"{r['ns']} | {r['synth_s']:.0f} | {r['cpu_s']:.0f} |")
    for r in rows:
        (a1, a5, a15), (b1, b5, b15) = r["load"]
        print(f"\n{r['model']}: load average {a1:.1f} / {a5:.1f} / {a15:.1f} (1 / 5 / 15 min) before synthesis, "
              f"{b1:.1f} / {b5:.1f} / {b15:.1f} after; {os.cpu_count()} CPUs; {r['report']['jobs']} jobs")
    for r in rows[:1]:
        tools = r["tools"]
        print("\nTools: " + "; ".join(str(v) for v in tools.values() if v))
    print("\nPublished (MNIST):\n\n| model | accuracy | LUTs | includes |\n| --- | ---: | ---: | --- |")
    for name, acc, luts, what in PUBLISHED:
        print(f"| {name} | {acc} | {luts} | {what} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
