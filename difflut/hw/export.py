"""Export a trained model (or its checkpoint) to a hardware target, atomically.

``export(model_or_checkpoint, target, out_dir)`` lowers the eval-mode model to the netlist IR
(:func:`difflut.hw.lower.lower`), simplifies it (:func:`difflut.hw.passes.optimize`), checks that
the IR evaluator reproduces the PyTorch eval forward bit for bit on the test vectors, and writes:

* ``target="ir"``: ``<name>.ir.json`` and ``export.json``;
* ``target="c"``: ``<name>.h``, ``<name>_selftest.c`` (test vectors: raw input codes with the
  expected scores / classes of ``model.class_scores`` / ``model.predict``) and ``export.json``;
* ``target="verilog"``: the self-standing folder of :func:`difflut.hw.verilog.verilog_files`
  (Verilog, ``params.json`` with ports and latency, ``vectors.json`` with the PyTorch expectations,
  the cocotb testbench, a README) and ``export.json``.

Atomicity: everything is written into a temporary folder beside ``out_dir`` and renamed to
``out_dir`` at the end, so ``out_dir`` is either the complete new export or untouched. An existing
``out_dir`` is replaced only when it is empty or a previous DiffLUT export (it has ``export.json``).
Same model in, byte-identical files out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DiffLUTError
from .c_header import generate_header, generate_selftest, ir_digest
from .evaluate import evaluate_ir
from .ir import NetlistIR

TARGETS = ("c", "ir", "verilog")
MANIFEST = "export.json"


class ExportError(DiffLUTError, ValueError):
    """An export cannot be made (bad target or name, unwritable output, a backend mismatch)."""


def _c_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"^[A-Za-z_]", name) else f"m_{name}"


def _load(model_or_checkpoint):
    """The eval-mode model (a checkpoint is loaded; its file hash is then ``model.checkpoint_sha256``)."""
    from ..checkpoint import load
    from ..models.base import BaseModel

    if isinstance(model_or_checkpoint, (str, os.PathLike)):
        return load(Path(model_or_checkpoint))
    if isinstance(model_or_checkpoint, BaseModel):
        return model_or_checkpoint
    raise ExportError(f"export takes a zoo model or a checkpoint path, got {type(model_or_checkpoint).__name__}")


def default_vectors(model, count: int, data_dir=None) -> np.ndarray:
    """The first ``count`` test images of the model's dataset (raw codes)."""
    from ..data import load_dataset

    dataset = getattr(model, "checkpoint_metadata", {}).get("dataset") or model.dataset
    images, _ = load_dataset(dataset, "test", data_dir=data_dir)
    return images[:count].numpy()


def build_ir(model, checkpoint=None, optimize: bool = True) -> NetlistIR:
    """Lower (and simplify) an eval-mode zoo model; ``checkpoint``: the file it came from, hashed into the
    metadata (a model loaded from a checkpoint already carries that hash)."""
    from .lower import lower
    from .passes import optimize as run_passes

    ir = lower(model, checkpoint=checkpoint)
    return run_passes(ir)[0] if optimize else ir


def expected_outputs(model, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PyTorch eval forward's class scores and predictions on raw codes."""
    x = torch.from_numpy(np.ascontiguousarray(codes))
    scores = model.class_scores(x).cpu().numpy().astype(np.int64)
    predicted = model.predict(x).cpu().numpy().astype(np.int64)
    return scores, predicted


def cuda_check(model, codes: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> str | None:
    """On a machine with CUDA: the CUDA eval forward's outputs must equal the given (CPU) ones.

    Returns a line for the manifest, or None without CUDA. Raises :class:`ExportError` on a mismatch.
    """
    if not torch.cuda.is_available():
        return None
    import copy

    on_gpu = copy.deepcopy(model).to("cuda")
    cuda_scores, cuda_predicted = expected_outputs(on_gpu, codes)
    if not (np.array_equal(cuda_scores, scores) and np.array_equal(cuda_predicted, predicted)):
        bad = int((cuda_scores != scores).any(axis=1).sum())
        raise ExportError(f"the CUDA eval forward disagrees with the CPU one on {bad} of {len(codes)} test vectors "
                          f"({torch.cuda.get_device_name()}): refusing to export")
    return f"CUDA eval forward ({torch.cuda.get_device_name()}) == CPU eval forward on {len(codes)} test vectors"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(model_or_checkpoint, target: str, *, name: str | None = None, vectors: int = 256,
           vector_codes=None, optimize: bool = True, data_dir=None, pipeline="none",
           lut_style: str = "behavioral") -> tuple[dict[str, bytes], dict]:
    """The files of an export as ``{file name: bytes}`` plus its manifest (nothing is written)."""
    if target not in TARGETS:
        raise ExportError(f"unknown export target {target!r}; choose one of {', '.join(TARGETS)}")
    model = _load(model_or_checkpoint)
    if model.training:
        raise ExportError(f"{model.model_name} is in training mode: call model.eval() before exporting "
                          f"(the export is the eval-mode function)")
    ir = build_ir(model, optimize=optimize)
    name = _c_name(name or model.model_name)
    if vector_codes is None:
        if not isinstance(vectors, int) or isinstance(vectors, bool) or vectors < 1:
            raise ExportError(f"vectors must be a positive int, got {vectors!r}")
        codes = default_vectors(model, vectors, data_dir)
    else:
        codes = vector_codes
    codes = model.to_codes(codes).cpu().numpy()  # the model's input rules (exact floats, shapes, numpy)
    scores, predicted = expected_outputs(model, codes)
    cuda = cuda_check(model, codes, scores, predicted)
    ir_scores, ir_predicted = evaluate_ir(ir, codes)
    if not (np.array_equal(scores, ir_scores) and np.array_equal(predicted, ir_predicted)):
        bad = int((scores != ir_scores).any(axis=1).sum())
        raise ExportError(f"the netlist IR disagrees with the PyTorch eval forward on {bad} of {len(codes)} test "
                          f"vectors: this is a bug in lowering or a pass, refusing to export")
    files: dict[str, bytes] = {}
    if target == "ir":
        files[f"{name}.ir.json"] = ir.to_json().encode()
    elif target == "verilog":
        from .verilog import verilog_files

        files, _ = verilog_files(ir, pipeline=pipeline, lut_style=lut_style, name=name,
                                 vectors=(codes, scores, predicted))
    else:
        files[f"{name}.h"] = generate_header(ir, name).encode()
        files[f"{name}_selftest.c"] = generate_selftest(ir, name, codes, scores, predicted).encode()
    manifest = {
        "format": "difflut-export",
        "target": target,
        "name": name,
        "model": model.model_name,
        "ir_sha256": ir_digest(ir),
        "ir_metadata": ir.metadata,
        "num_luts": ir.num_luts,
        "num_classes": ir.num_classes,
        "input_shape": list(ir.input_shape),
        "input_format": ir.encoder.input_format.to_dict(),
        "test_vectors": int(len(codes)),
        "cuda_forward": cuda,
        "files": {f: _sha256(data) for f, data in sorted(files.items())},
    }
    files[MANIFEST] = _manifest_bytes(manifest)
    return files, manifest


def _manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()


def _write_file(folder: Path, name: str, data: bytes) -> None:
    with open(folder / name, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def commit_folder(files: dict[str, bytes], out_dir, *, markers: tuple[str, ...] = (MANIFEST,),
                  before_commit=None) -> None:
    """Write ``files`` (``{name: bytes}``) as the folder ``out_dir``, atomically: into a temporary folder
    beside it, then renamed into place, so ``out_dir`` ends as the complete new folder or as it was.

    An existing ``out_dir`` is replaced only when it is empty or holds one of ``markers`` (a previous
    export): anything else is refused with :class:`ExportError`. ``before_commit(tmp)`` may check or
    rewrite the files in the temporary folder; an error there leaves ``out_dir`` untouched.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"output path {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not any((out / m).is_file() for m in markers):
        raise ExportError(f"output folder {str(out)!r} is not empty and holds no DiffLUT export "
                          f"({' or '.join(markers)}); refusing to replace it")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as e:
        raise ExportError(f"cannot write the export beside {str(out)!r}: {e.strerror or e}") from None
    old = None
    try:
        for fname in sorted(files):
            _write_file(tmp, fname, files[fname])
        if before_commit is not None:
            before_commit(tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.replace(out, old / "export")
        os.replace(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "export").exists() and not out.exists():
            os.replace(old / "export", out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(e, OSError):
            raise ExportError(f"cannot write the export to {str(out)!r}: {e}") from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_selftest(folder: Path, name: str, cc: str) -> str:
    exe = folder / f".{name}_selftest"
    if shutil.which(cc) is None:
        raise ExportError(f"--check needs a C compiler: {cc!r} was not found")
    try:
        build = subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"{name}_selftest.c",
                                "-o", exe.name], cwd=folder, capture_output=True, text=True)
        if build.returncode:
            raise ExportError(f"the generated C does not compile with {cc}:\n{build.stderr[-4000:]}")
        run = subprocess.run([str(exe)], cwd=folder, capture_output=True, text=True)
        if run.returncode:
            raise ExportError(f"the C selftest fails:\n{run.stdout[-4000:]}")
        return run.stdout.strip()
    finally:
        if exe.exists():
            exe.unlink()


def export(model_or_checkpoint, target: str, out_dir, *, name: str | None = None, vectors: int = 256,
           vector_codes=None, optimize: bool = True, check: bool = False, cc: str = "cc",
           data_dir=None, pipeline="none", lut_style: str = "behavioral") -> dict:
    """Write the export of ``target`` ("c", "ir" or "verilog") to the folder ``out_dir``, atomically.

    Args:
        model_or_checkpoint: a zoo model in eval mode, or a checkpoint path.
        name: base name of the files and C prefix (default: the model name).
        vectors: test vectors (the IR check, the C selftest, the Verilog ``vectors.json``): the first N
            test images of the model's dataset.
        vector_codes: explicit raw input codes instead (B, *input_shape).
        optimize: run :func:`difflut.hw.passes.optimize` on the lowered IR.
        check: (target c) compile and run the selftest with ``cc`` before committing the export.
        pipeline, lut_style: (target verilog) see :func:`difflut.hw.verilog.generate`.

    Returns the manifest (also written as ``export.json``). Raises :class:`ExportError` (and
    the lowering's errors for an untrained-mode model or an unfitted encoder); on any error the
    output folder is left as it was.
    """
    files, manifest = render(model_or_checkpoint, target, name=name, vectors=vectors, vector_codes=vector_codes,
                             optimize=optimize, data_dir=data_dir, pipeline=pipeline, lut_style=lut_style)

    def run_selftest(tmp: Path) -> None:
        nonlocal manifest
        manifest = dict(manifest, selftest=_check_selftest(tmp, manifest["name"], cc))
        _write_file(tmp, MANIFEST, _manifest_bytes(manifest))

    commit_folder(files, out_dir, before_commit=run_selftest if check and target == "c" else None)
    return manifest
