"""Simulate an exported Verilog folder (:func:`difflut.hw.verilog.export_verilog`, ``difflut export
--target verilog``) with cocotb.

``run_sim(folder, simulator="icarus", vectors=None)`` first verifies the folder
(:func:`verify_folder`: every file its manifest ``export.json`` lists, by SHA-256; ``params.json``; the
test vectors' count, shapes and code / score / class ranges), then copies the verified design, its
params and vectors into a fresh temporary folder with the testbench and runner of the installed DiffLUT
(:func:`testbench_dir`, never the copies in the folder: no code from the folder runs) and simulates
there, so that two runs of one folder never collide. Returns a :class:`SimResult`. Icarus is the
default; Verilator works when a cocotb-compatible one is on PATH (see docs/verilog.md). Any problem with
the folder, the vectors or the simulator is a :class:`SimError` naming the file and the problem.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DiffLUTError
from ..files import OutputError, read_manifest, sha256_file, write_atomic
from ..resources import candidate_folders, find_folder
from .backends.base import MANIFEST, ExportError
from .vectors import FORMAT as VECTORS_FORMAT
from .vectors import TestVectors

SIM_FILES = ("tb_difflut.py", "run_sim.py")
SIMULATORS = {"icarus": "iverilog", "verilator": "verilator"}
PARAMS_FORMAT = "difflut-verilog"
PARAMS_VERSION = 1


class SimError(DiffLUTError, ValueError):
    """A folder, vectors file or simulator cannot be simulated with; the message names the file and problem."""


def testbench_dir() -> Path:
    """The folder holding the cocotb testbench files (``SIM_FILES``) of this DiffLUT: ``sim/`` of a source
    checkout, or ``share/difflut/sim`` of an installed wheel (:func:`difflut.resources.find_folder`).
    Raises :class:`~difflut.hw.backends.ExportError` if none holds them."""
    folder = find_folder("sim", SIM_FILES)
    if folder is None:
        raise ExportError(f"the cocotb testbench files {', '.join(SIM_FILES)} were not found; looked in "
                          + ", ".join(str(c) for c in candidate_folders("sim")))
    return folder


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


# -- verification ---------------------------------------------------------------------------------
def _strict_json(path: Path):
    def no_constants(c):
        raise ValueError(f"{c} is not JSON")

    def no_repeats(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"the key {next(k for k in keys if keys.count(k) > 1)!r} is repeated")
        return dict(pairs)

    try:
        return json.loads(path.read_bytes().decode("utf-8"), parse_constant=no_constants,
                          object_pairs_hook=no_repeats)
    except OSError as e:
        raise SimError(f"{path}: cannot read it: {e.strerror or e}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise SimError(f"{path}: not valid JSON: {e}") from None


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _field(path: Path, obj, key: str, check, expected: str):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not check(value):
        raise SimError(f"{path}: {key}: expected {expected}, got {value!r}")
    return value


def _check_params(path: Path, params) -> dict:
    """``params.json``'s fields the testbench reads, type- and range-checked."""
    if not isinstance(params, dict) or params.get("format") != PARAMS_FORMAT or params.get("version") != PARAMS_VERSION:
        raise SimError(f"{path}: not the params.json of a DiffLUT Verilog export (format {PARAMS_FORMAT!r}, "
                       f"version {PARAMS_VERSION})")
    from .names import IDENTIFIER

    _field(path, params, "top", lambda v: isinstance(v, str) and IDENTIFIER.fullmatch(v), "a Verilog identifier")
    _field(path, params, "sources", lambda v: isinstance(v, list) and v and all(isinstance(s, str) for s in v),
           "a list of file names")
    latency = _field(path, params, "latency", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    _field(path, params, "clocked", lambda v: v is (latency > 0), f"{latency > 0} (latency {latency})")
    where = path.parent
    inp, out = params.get("input"), params.get("output")
    _field(where / "params.json:input", inp, "bits", lambda v: _is_int(v) and 1 <= v <= 32, "an integer 1..32")
    _field(where / "params.json:input", inp, "signed", lambda v: isinstance(v, bool), "true or false")
    _field(where / "params.json:input", inp, "num_features", lambda v: _is_int(v) and v >= 1, "an integer >= 1")
    _field(where / "params.json:output", out, "num_classes", lambda v: _is_int(v) and v >= 1, "an integer >= 1")
    _field(where / "params.json:output", out, "score_width", lambda v: _is_int(v) and 1 <= v <= 62,
           "an integer 1..62")
    vec = params.get("vectors")
    if vec is not None:
        _field(where / "params.json:vectors", vec, "file", lambda v: v == "vectors.json", "'vectors.json'")
        _field(where / "params.json:vectors", vec, "count", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    return params


def verify_folder(folder) -> dict:
    """Check an exported Verilog folder before simulating it; returns its ``params.json``.

    Every file the manifest ``export.json`` lists must be there with its SHA-256; ``params.json`` (one
    of them) must be a DiffLUT Verilog params file whose Verilog sources the manifest lists; and the
    folder's ``vectors.json``, when ``params.json`` names one, must hold exactly its count of valid
    vectors (:func:`read_vectors`). Raises :class:`SimError` naming the first wrong file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SimError(f"{str(folder)!r} is not a folder")
    if not (folder / MANIFEST).is_file():
        raise SimError(f"{folder} has no {MANIFEST}: not a Verilog export of this DiffLUT version (export it again)")
    try:
        listed = read_manifest(folder, MANIFEST)
    except OutputError as e:
        raise SimError(str(e)) from None
    for fname, digest in sorted(listed.items()):
        path = folder / fname
        if not path.is_file() or path.is_symlink():
            raise SimError(f"{path}: listed in {MANIFEST} but missing (or not a plain file)")
        if sha256_file(path) != digest:
            raise SimError(f"{path}: its SHA-256 differs from the one in {MANIFEST} (the file was changed or "
                           f"corrupted since the export)")
    if "params.json" not in listed:
        raise SimError(f"{folder / MANIFEST} does not list params.json: not a Verilog export")
    params = _check_params(folder / "params.json", _strict_json(folder / "params.json"))
    for source in params["sources"]:
        if source not in listed or not source.endswith(".v"):
            raise SimError(f"{folder / 'params.json'}: the Verilog source {source!r} is not a .v file listed in "
                           f"{MANIFEST}")
    if params.get("vectors") is not None:
        if "vectors.json" not in listed:
            raise SimError(f"{folder / MANIFEST} does not list vectors.json, which params.json names")
        read_vectors(folder / "vectors.json", params, count=params["vectors"]["count"])
    return params


def read_vectors(path, params: dict, *, count: int | None = None) -> TestVectors:
    """A vectors file (the format of ``vectors.json``) checked against the design's ``params``: strict
    JSON, every vector ``{"codes": [num_features ints in the input code range], "scores": [num_classes ints
    in 0..2**score_width-1], "class": the first maximum of the scores}``, and ``count`` vectors when given.
    Raises :class:`SimError` naming the file, the vector and the field."""
    path = Path(path)
    doc = _strict_json(path)
    if not isinstance(doc, dict) or doc.get("format") != VECTORS_FORMAT or not isinstance(doc.get("vectors"), list) \
            or set(doc) != {"format", "vectors"}:
        raise SimError(f"{path}: not a DiffLUT vectors file ({{\"format\": \"{VECTORS_FORMAT}\", \"vectors\": "
                       f"[...]}})")
    rows = doc["vectors"]
    if count is not None and len(rows) != count:
        raise SimError(f"{path}: holds {len(rows)} vectors, params.json says {count} (cut short or extended)")
    if not rows:
        raise SimError(f"{path}: holds no vectors")
    inp, out = params["input"], params["output"]
    bits, features, classes, width = inp["bits"], inp["num_features"], out["num_classes"], out["score_width"]
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if inp["signed"] else (0, (1 << bits) - 1)
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != {"codes", "scores", "class"}:
            raise SimError(f"{path}: vectors[{i}]: expected an object with codes, scores and class")
        for key, n, lo, hi in (("codes", features, low, high), ("scores", classes, 0, (1 << width) - 1)):
            values = row[key]
            if not isinstance(values, list) or len(values) != n:
                raise SimError(f"{path}: vectors[{i}].{key}: expected a list of {n} integers")
            for j, v in enumerate(values):
                if not _is_int(v) or not lo <= v <= hi:
                    raise SimError(f"{path}: vectors[{i}].{key}[{j}]: expected an integer in {lo}..{hi}, got {v!r}")
        first_max = row["scores"].index(max(row["scores"]))
        if not _is_int(row["class"]) or row["class"] != first_max:
            raise SimError(f"{path}: vectors[{i}].class: expected {first_max} (the first maximum of the scores), "
                           f"got {row['class']!r}")
    return TestVectors(np.array([r["codes"] for r in rows], dtype=np.int64).reshape(len(rows), features),
                       np.array([r["scores"] for r in rows], dtype=np.int64).reshape(len(rows), classes),
                       np.array([r["class"] for r in rows], dtype=np.int64))


def _given_vectors(vectors, params: dict, tmp: Path) -> TestVectors:
    """``vectors`` given to :func:`run_sim` (a file, :class:`TestVectors`, a tuple or a dict), checked."""
    if isinstance(vectors, (str, Path)):
        return read_vectors(vectors, params)
    if isinstance(vectors, dict):
        vectors = (vectors["codes"], vectors["scores"], vectors["classes"])
    if isinstance(vectors, TestVectors):
        vectors = (vectors.codes, vectors.scores, vectors.classes)
    if not isinstance(vectors, (tuple, list)) or len(vectors) != 3:
        raise SimError("vectors must be a vectors file, TestVectors, (codes, scores, classes) or a dict of those")
    codes = np.asarray(vectors[0])
    try:
        as_file = write_vectors(tmp / "given.json", codes.reshape(codes.shape[0], -1), vectors[1], vectors[2])
    except (TypeError, ValueError) as e:
        raise SimError(f"vectors: {e}") from None
    return read_vectors(as_file, params)


def write_vectors(path, codes, scores, classes) -> Path:
    """Write a vectors file (the format of ``vectors.json``, :meth:`TestVectors.json_bytes`) for :func:`run_sim`."""
    codes = np.asarray(codes)
    path = Path(path)
    write_atomic(path, TestVectors(codes.reshape(codes.shape[0], -1), scores, classes).json_bytes())
    return path


def _load_runner():
    """This DiffLUT's own ``run_sim.py`` (never the folder's)."""
    path = testbench_dir() / "run_sim.py"
    spec = importlib.util.spec_from_file_location("_difflut_run_sim", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_sim(folder, simulator: str = "icarus", vectors=None, *, limit: int = 0, seed: int = 1,
            build_dir=None) -> SimResult:
    """Verify (:func:`verify_folder`), build and simulate ``folder``; compare every score and class with the
    expected vectors.

    ``vectors``: None (the folder's ``vectors.json``), a vectors file path, a
    :class:`~difflut.hw.vectors.TestVectors`, or ``(codes, scores, classes)`` / a dict with those keys.
    ``limit``: use only the first N vectors (0: all; more than there are is an error). ``build_dir``: where
    the simulator builds (default: inside the run's temporary folder, removed afterwards).
    """
    if simulator not in SIMULATORS:
        raise SimError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    if not _is_int(limit) or limit < 0:
        raise SimError(f"limit (--vectors) must be an integer >= 0, got {limit!r}")
    if not _is_int(seed):
        raise SimError(f"seed must be an integer, got {seed!r}")
    folder = Path(folder).resolve()
    params = verify_folder(folder)
    if shutil.which(SIMULATORS[simulator]) is None:
        raise SimError(f"simulator {simulator!r} needs {SIMULATORS[simulator]} on PATH, which was not found "
                       f"(see docs/verilog.md)")
    try:
        import cocotb_tools.runner  # noqa: F401
    except ImportError as e:
        raise SimError(f"simulation needs cocotb, which cannot be imported ({e}); pip install 'difflut[hw]'") from None
    runner = _load_runner()
    with tempfile.TemporaryDirectory(prefix="difflut-sim-") as tmp:
        tmp = Path(tmp)
        if vectors is None:
            if params.get("vectors") is None:
                raise SimError(f"{folder} has no test vectors (export it with vectors, or give a vectors file)")
            test_vectors = read_vectors(folder / "vectors.json", params, count=params["vectors"]["count"])
        else:
            test_vectors = _given_vectors(vectors, params, tmp)
        if limit > len(test_vectors):
            raise SimError(f"limit (--vectors) {limit} is more than the {len(test_vectors)} test vectors")
        # the verified bytes, copied: the folder may change while the simulation runs
        design = tmp / "design"
        design.mkdir()
        listed = read_manifest(folder, MANIFEST)
        for fname in ("params.json", *params["sources"]):
            shutil.copyfile(folder / fname, design / fname)
            if sha256_file(design / fname) != listed.get(fname):
                raise SimError(f"{folder / fname} changed while it was being verified")
        (design / "vectors.json").write_bytes(test_vectors.json_bytes())
        shutil.copyfile(testbench_dir() / "tb_difflut.py", design / "tb_difflut.py")
        build = Path(build_dir).resolve() if build_dir is not None else tmp / "build"
        raw = runner.run(design, simulator, design / "vectors.json", build_dir=build, limit=limit, seed=seed)
    return SimResult(raw["status"], raw["simulator"], raw["tests"], raw["failed"], raw["checked"], raw["mismatches"],
                     raw["latency"], raw["build_s"], raw["sim_s"], raw["per_test"])
