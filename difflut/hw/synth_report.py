"""``report.md`` of a synthesis report (:func:`difflut.hw.synth.synthesize`): tables in Markdown."""

from __future__ import annotations

#: first line of every report.md we write (how a later run knows the file is ours)
MD_MARKER = "<!-- difflut synth report -->"

ROLE_ORDER = ("encoder", "layers", "popcount", "argmax", "registers", "stream", "other")
ROLE_TEXT = {"encoder": "encoder (comparators / code tables)", "layers": "LUT layers",
             "popcount": "class popcounts", "argmax": "argmax", "registers": "core (pipeline registers, glue)",
             "stream": "valid/ready wrapper", "other": "other modules"}


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value:,}{unit}"


def _by_inputs(counts: dict) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in counts.items()) or "-"


def report_markdown(report: dict) -> str:
    """The Markdown text of ``report`` (starts with the marker line that marks the file as ours)."""
    d, t, tools, timing = report["design"], report["total"], report["tools"], report["timing"]
    tool_line = tools["yosys"] + (f" ({tools['yosys_package']})" if tools.get("yosys_package") else "")
    if tools.get("nextpnr"):
        tool_line += "; " + tools["nextpnr"] + (f" ({tools['nextpnr_package']})" if tools.get("nextpnr_package") else "")
    lines = [
        MD_MARKER,
        f"# Synthesis of `{d['top']}` for {report['target']} ({report['family']})",
        "",
        f"Tools: {tool_line}. Wall time {report['seconds']:.1f} s with {report['jobs']} parallel job(s).",
        f"Design: `{d['verilog']}`, pipeline `{d['pipeline']}`, LUT style `{d['lut_style']}`, "
        f"latency {timing['latency_cycles']} cycle(s).",
        "",
        f"> {report['note']}",
        "",
        "## Total (flattened top)",
        "",
        ("The modules' mapped netlists stitched and flattened; cells nothing reads removed."
         if report.get("flatten", "stitch") == "stitch" else
         "The flattened top synthesised again from the Verilog (optimised across module boundaries)."),
        "",
        "| LUTs | FFs | carry cells | muxes | LUT levels | cells on longest path | LUTs by input count |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {t['luts']:,} | {t['ffs']:,} | {t['carry']:,} | {t['muxes']:,} | {t['levels']} | {t['path_cells']} | "
        f"{_by_inputs(t['luts_by_inputs'])} |",
        "",
    ]
    pnr = report.get("pnr")
    if pnr:
        lines += ["## Place and route", ""]
        if pnr["status"] == "ok":
            used = ", ".join(f"{k} {v['used']:,} / {v['available']:,}" for k, v in pnr["utilization"].items())
            lines += [f"- {pnr['tool']} on {pnr['device']}"
                      + (" (out of context: no I/O buffers)" if pnr.get("out_of_context") else "")
                      + f", target clock {pnr['target_clock_mhz']:g} MHz, {pnr['seconds']:.1f} s",
                      f"- Fmax: {_fmt(pnr['fmax_mhz'], ' MHz')}; longest path {_fmt(pnr['critical_path_ns'], ' ns')}"
                      + (f" (target clock {pnr['target_clock_mhz']:g} MHz not met)"
                         if pnr["fmax_mhz"] is not None and pnr["fmax_mhz"] < pnr["target_clock_mhz"] else ""),
                      f"- utilisation: {used or '-'}", ""]
        else:
            lines += [f"- {pnr['tool']} on {pnr['device']}: {pnr['status']}: {pnr['reason']}", ""]
    lines += ["## Latency and throughput", ""]
    if timing["latency_ns"] is None:
        lines += [f"- {timing['latency_cycles']} cycle(s); no clock measured (give --clock-mhz, or use --target "
                  "ecp5 / ice40 for nextpnr's Fmax)", ""]
    else:
        clock = f" at {timing['clock_mhz']:g} MHz" if timing["clock_mhz"] else ""
        lines += [f"- {timing['latency_cycles']} cycle(s){clock} = {timing['latency_ns']:,.2f} ns "
                  f"({timing['source']})",
                  f"- throughput: {timing['throughput_per_s']:,} results/s", ""]
    lines += ["## By part (each module's own logic, submodules excluded)", "",
              "| part | modules | LUTs | FFs | carry | muxes |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    roles = report["roles"]
    for role in ROLE_ORDER:
        if role in roles:
            r = roles[role]
            lines.append(f"| {ROLE_TEXT[role]} | {r['modules']} | {r['luts']:,} | {r['ffs']:,} | {r['carry']:,} | "
                         f"{r['muxes']:,} |")
    lines += ["", "The parts add up to more than the flattened total when logic is shared or removed across "
              "module boundaries (e.g. encoder bits no LUT reads).", "",
              "## Modules", "",
              "| module | part | LUTs | FFs | carry | muxes | LUT levels | LUTs by input count | yosys s |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for name, m in report["modules"].items():
        lines.append(f"| `{name}` | {m['role']} | {m['luts']:,} | {m['ffs']:,} | {m['carry']:,} | {m['muxes']:,} | "
                     f"{m['levels']} | {_by_inputs(m['luts_by_inputs'])} | {m['seconds']:.1f} |")
    lines += ["", "Logs, scripts and netlists: `synth/`.", ""]
    return "\n".join(lines)
