"""FPGA cost of the popcount and the encoder alone (yosys ``synth_xilinx``), as in docs/hardware.md.

    python benchmarks/bench_rtl_blocks.py [--popcount 100 600] [--encoder] [--code-step 1 4]
                                          [--target xilinx|ecp5|generic] [--family F] [--yosys PATH]

Each block is converted on its own with Amaranth (``verilog.convert(..., name="top")``), synthesised with
the same command ``difflut synth --target T`` uses (xilinx: ``synth_xilinx -flatten -nowidelut ...``), and
counted from the mapped netlist like a ``difflut synth`` module: LUTs, LUTs per input bit (popcount),
carry cells (CARRY4 / CCU2C), LUT levels (the most LUTs on one path; carry cells not counted), and the yosys wall time.
``--encoder``: the 2,352-bit encoder of the issue-11 network (mnist_fc_8k_dwn, distributive thermometer
of 3 bits per pixel fitted on 10,000 MNIST training images), once per ``--code-step`` (the model override
``encoder_code_step``: thresholds moved onto the code grid of that step; 1 = as fitted); it also prints
how many of its bits are constants and how many distinct comparators remain.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from difflut.hw.rtl.popcount import Popcount
from difflut.hw.synth import DEFAULT_FAMILY, _package_version, find_yosys, synth_command
from difflut.hw.synth_netlist import module_stats


def synthesize_block(component, ports, tool, target: str, family: str, work: Path, name: str) -> dict:
    """Convert ``component`` to Verilog (module ``top``), map it with yosys for ``target`` / ``family``;
    returns :func:`module_stats` plus ``seconds`` (yosys wall time)."""
    (work / f"{name}.v").write_text(verilog.convert(component, name="top", ports=ports, emit_src=False))
    script = f"read_verilog {name}.v\n{synth_command(target, family, 'top')}\nwrite_json {name}.json\n"
    (work / f"{name}.ys").write_text(script)
    start = time.perf_counter()
    with open(work / f"{name}.log", "w") as log:
        subprocess.run([*tool.argv, "-q", f"{name}.ys"], cwd=work, stdout=log, stderr=subprocess.STDOUT, check=True)
    seconds = time.perf_counter() - start
    netlist = json.loads((work / f"{name}.json").read_text())
    stats = module_stats(netlist["modules"]["top"])
    stats["seconds"] = seconds
    return stats


def issue_encoder_form(code_step: int = 1):
    """The hardware form of the issue-11 network's encoder (see benchmarks/bench_synth.py), its thresholds
    on the code grid of ``code_step``."""
    from difflut.data import load_mnist
    from difflut.models import get_model

    train_x, _ = load_mnist("train")
    model = get_model("mnist_fc_8k_dwn", layer_widths=(2000, 1000), mapping="random",
                      encoder="distributive_thermometer", encoder_bits=3, encoder_code_step=code_step)
    model.fit_encoder(train_x[:10000]).eval()
    return model.encoder.hardware_form(model.input_format)


def encoder_summary(form) -> str:
    fmt = form.input_format
    t = np.where(form.is_threshold, form.thresholds, fmt.min_code - 1)
    live = form.is_threshold & (t > fmt.min_code) & (t <= fmt.max_code)
    distinct = len({(f, int(v)) for f, v in zip(*np.nonzero(live)) for v in [t[f, v]]})
    return (f"{form.output_size} bits: {int(form.is_threshold.sum())} thresholds, "
            f"{int((form.is_threshold & ~live).sum())} constant, {distinct} distinct live comparators, "
            f"{int((~form.is_threshold).sum())} tables")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--popcount", type=int, nargs="*", default=[100, 600], help="popcount widths")
    p.add_argument("--encoder", action="store_true", help="also the issue-11 encoder (loads MNIST)")
    p.add_argument("--code-step", type=int, nargs="+", default=[1],
                   help="encoder thresholds on the code grid of each step (powers of two; 1 = as fitted)")
    p.add_argument("--target", default="xilinx", choices=["xilinx", "ecp5", "generic"])
    p.add_argument("--family", default=None, help="default: difflut synth's for the target")
    p.add_argument("--yosys", default=None)
    args = p.parse_args(argv)

    family = args.family or DEFAULT_FAMILY[args.target]
    tool = find_yosys(args.yosys)
    version = subprocess.run([*tool.argv, "-V"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"# {version} ({_package_version(tool.package) if tool.package else tool.argv[0]}); "
          f"target {args.target}, family {family}; {time.strftime('%Y-%m-%d')}")
    print("| block | LUTs | LUT/bit | carry cells | LUT levels | yosys wall |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for width in args.popcount:
            dut = Popcount(width)
            s = synthesize_block(dut, [dut.x, dut.count], tool, args.target, family, work, f"popcount{width}")
            print(f"| popcount {width} | {s['luts']} | {s['luts'] / width:.2f} | {s['carry']} | {s['levels']} | "
                  f"{s['seconds']:.0f} s |", flush=True)
        for step in args.code_step if args.encoder else []:
            from difflut.hw.rtl.encoder import Encoder

            form = issue_encoder_form(step)
            print(f"# encoder, code step {step}: {encoder_summary(form)}", flush=True)
            dut = Encoder(form)
            s = synthesize_block(dut, [dut.codes, dut.bits_out], tool, args.target, family, work, f"encoder{step}")
            print(f"| encoder {form.output_size} bits, code step {step} | {s['luts']} | "
                  f"{s['luts'] / form.output_size:.2f} | {s['carry']} | {s['levels']} | {s['seconds']:.0f} s |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
