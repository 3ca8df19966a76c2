"""Simulate an exported Verilog folder (:func:`difflut.hw.verilog.export_verilog`) with cocotb.

``run_sim(folder, simulator="icarus", vectors=None)`` runs the folder's own testbench
(``tb_difflut.py`` through ``run_sim.py``, both copied there at export) and returns a
:class:`SimResult`. Icarus is the default; Verilator works when a cocotb-compatible one is on PATH
(see docs/verilog.md).
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import write_atomic
from .vectors import TestVectors


@dataclass(frozen=True)
class SimResult:
    status: str  # "PASS" or "FAIL"
    simulator: str
    tests: int
    failed: int
    checked: int
    mismatches: int
    latency: int
    build_s: float
    sim_s: float
    per_test: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def summary(self) -> str:
        rates = ", ".join(f"{name} {r['vectors_per_s']} vectors/s" for name, r in sorted(self.per_test.items()))
        return (f"{self.status}: {self.simulator}, {self.tests} tests ({self.failed} failed), {self.checked} outputs "
                f"checked, {self.mismatches} mismatches, latency {self.latency}; build {self.build_s} s, "
                f"simulation {self.sim_s} s" + (f"; {rates}" if rates else ""))


def _load_runner(folder: Path):
    path = folder / "run_sim.py"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no run_sim.py: not a folder written by export_verilog")
    spec = importlib.util.spec_from_file_location(f"_difflut_run_sim_{abs(hash(str(folder)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_vectors(path, codes, scores, classes) -> Path:
    """Write a vectors file (the format of ``vectors.json``, :meth:`TestVectors.json_bytes`) for :func:`run_sim`."""
    codes = np.asarray(codes)
    path = Path(path)
    write_atomic(path, TestVectors(codes.reshape(codes.shape[0], -1), scores, classes).json_bytes())
    return path


def run_sim(folder, simulator: str = "icarus", vectors=None, *, limit: int = 0, seed: int = 1,
            build_dir=None) -> SimResult:
    """Build and simulate ``folder``; compare every score and class with the expected vectors.

    ``vectors``: None (the folder's ``vectors.json``), a vectors file path, a
    :class:`~difflut.hw.vectors.TestVectors`, or ``(codes, scores, classes)`` / a dict with those keys. ``limit``: use only the first N vectors (0: all).
    """
    folder = Path(folder).resolve()
    runner = _load_runner(folder)
    with tempfile.TemporaryDirectory(prefix="difflut-sim-") as tmp:
        if isinstance(vectors, TestVectors):
            vectors = (vectors.codes, vectors.scores, vectors.classes)
        if isinstance(vectors, dict):
            vectors = (vectors["codes"], vectors["scores"], vectors["classes"])
        if isinstance(vectors, (tuple, list)):
            vectors = write_vectors(Path(tmp) / "vectors.json", *vectors)
        raw = runner.run(folder, simulator, vectors, build_dir=build_dir, limit=limit, seed=seed)
    return SimResult(raw["status"], raw["simulator"], raw["tests"], raw["failed"], raw["checked"], raw["mismatches"],
                     raw["latency"], raw["build_s"], raw["sim_s"], raw["per_test"])
