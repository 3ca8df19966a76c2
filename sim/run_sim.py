"""Run the cocotb testbench of an exported DiffLUT Verilog folder (standalone: needs cocotb, no difflut).

    python run_sim.py [FOLDER] [--simulator icarus|verilator] [--vectors FILE] [--limit N]

or ``run(folder, simulator="icarus", vectors=None)`` from Python. Builds ``params.json``'s sources with
``cocotb_tools.runner`` in ``FOLDER/sim_build/<simulator>`` (or ``build_dir``), runs ``tb_difflut.py`` and
returns a dict: ``status`` ("PASS"/"FAIL"), test counts, vectors checked, mismatches, vectors/s,
build and simulation seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

TESTBENCH = "tb_difflut"
SIMULATORS = ("icarus", "verilator")


def _build_args(simulator: str, top: str, build: Path) -> list[str]:
    if simulator != "verilator":
        return []
    # cocotb asks for --public-flat-rw: every net of the design in the VPI symbol table, kept apart from
    # optimisation (C++ that grows with the design, slow to build). The testbench reads only the top's
    # ports: only those are public (a control file). cocotb runs make itself: Verilator's own compiler
    # flags apply (evaluation code -Os, setup code unoptimised).
    control = build / "difflut_public.vlt"
    control.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    return ["--no-public-flat-rw", str(control), "-Wno-fatal", "-Wno-lint", "-Wno-style"]


def run(folder=".", simulator: str = "icarus", vectors=None, *, build_dir=None, limit: int = 0, seed: int = 1,
        testcase=None, waves: bool = False) -> dict:
    """Simulate ``folder`` with ``vectors`` (None: the folder's vectors.json; or another vectors file)."""
    from cocotb_tools.runner import get_results, get_runner

    folder = Path(folder).resolve()
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    exe = "iverilog" if simulator == "icarus" else "verilator"
    if shutil.which(exe) is None:
        raise RuntimeError(f"{exe} is not on PATH (needed for simulator={simulator!r})")
    params = json.loads((folder / "params.json").read_text())
    vectors = Path(vectors).resolve() if vectors is not None else folder / "vectors.json"
    if not vectors.is_file():
        raise FileNotFoundError(f"no test vectors at {vectors} (export with vectors=..., or pass a vectors file)")
    build = Path(build_dir).resolve() if build_dir is not None else folder / "sim_build" / simulator
    build.mkdir(parents=True, exist_ok=True)
    result_file = build / "difflut_result.json"
    if result_file.exists():
        result_file.unlink()
    xml = build / "results.xml"
    if xml.exists():
        xml.unlink()

    runner = get_runner(simulator)
    # the runner hands the simulator this process's sys.path: this folder first, so that its testbench
    # (not one of another folder simulated earlier in this process) is imported; removed afterwards
    sys.path.insert(0, str(folder))
    try:
        start = time.perf_counter()
        runner.build(sources=[folder / s for s in params["sources"]], hdl_toplevel=params["top"], build_dir=build,
                     build_args=_build_args(simulator, params["top"], build),
                     timescale=("1ns", "1ps"), always=True, waves=waves)
        built = time.perf_counter()
        try:  # under pytest the runner exits on a failing test; the results file still says what happened
            runner.test(test_module=TESTBENCH, hdl_toplevel=params["top"], build_dir=build, test_dir=build,
                        testcase=testcase, waves=waves, results_xml=str(xml),
                        extra_env={"DIFFLUT_VECTORS": str(vectors), "DIFFLUT_RESULT": str(result_file),
                                   "DIFFLUT_LIMIT": str(limit), "DIFFLUT_SEED": str(seed)})
        except SystemExit:
            pass
        done = time.perf_counter()
    finally:
        sys.path.remove(str(folder))
    try:
        tests, failed = get_results(xml)
    except RuntimeError:  # no results: the simulator did not run the tests
        tests, failed = 0, 0
    per_test = json.loads(result_file.read_text()) if result_file.exists() else {}
    mismatches = sum(r["mismatches"] for r in per_test.values())
    checked = sum(r["checked"] for r in per_test.values())
    ok = failed == 0 and tests > 0 and bool(per_test) and mismatches == 0
    return {"status": "PASS" if ok else "FAIL", "simulator": simulator, "top": params["top"],
            "latency": params["latency"], "tests": tests, "failed": failed, "checked": checked,
            "mismatches": mismatches, "build_s": round(built - start, 3), "sim_s": round(done - built, 3),
            "per_test": per_test}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--simulator", default="icarus", choices=SIMULATORS)
    ap.add_argument("--vectors", default=None, help="a vectors JSON file (default: the folder's vectors.json)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N vectors")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    result = run(args.folder, args.simulator, args.vectors, limit=args.limit, seed=args.seed)
    for name, r in sorted(result["per_test"].items()):
        print(f"{name}: {r['checked']}/{r['vectors']} checked, {r['mismatches']} mismatches, "
              f"{r['vectors_per_s']} vectors/s")
    print(f"{result['status']}: {result['tests']} tests, {result['failed']} failed, "
          f"{result['checked']} outputs checked, "
          f"{result['mismatches']} mismatches (build {result['build_s']} s, simulation {result['sim_s']} s)")
    return 0 if result["status"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
