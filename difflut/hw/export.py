"""Export a trained model (or its checkpoint) to a hardware target, atomically.

``export(model_or_checkpoint, target, out_dir, **options)`` is the orchestrator over the backend
registry (:mod:`difflut.hw.backends`): it loads the model, lowers the eval-mode model to the netlist
IR (:func:`difflut.hw.lower.lower`) and simplifies it (:func:`difflut.hw.passes.optimize`), chooses the
test vectors and checks that the IR evaluator (and, on a CUDA machine, the CUDA forward) reproduces the
PyTorch eval forward bit for bit on them, lets the target's backend render its files, adds the
manifest ``export.json`` and commits the folder atomically (:func:`difflut.files.commit_folder`),
after the backend's optional check. Targets (see ``list_backends()``):

* ``ir``: ``<name>.ir.json``;
* ``c``: ``<name>.h`` and ``<name>_selftest.c`` (test vectors: raw input codes with the expected scores /
  classes of ``model.class_scores`` / ``model.predict``); option ``cc``, check: compile and run the selftest;
* ``verilog``: the self-standing folder of :func:`difflut.hw.verilog.verilog_files`; options
  ``pipeline`` and ``lut_style``.

An option the target does not take is an error. Atomicity: ``out_dir`` is either the complete new export
or untouched. The manifest lists the SHA-256 of every file the export wrote; an existing ``out_dir`` is
replaced only when it is empty or an export whose manifest verifies (no listed file changed), the files
it does not list (the user's) are kept, and an interrupted commit is recovered first
(:func:`difflut.files.commit_folder`); the output folder is checked before any work starts. Same model
in, byte-identical files out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..files import OutputError, commit_folder, manifest_bytes, prepare_output_folder, sha256_bytes
from .backends import MANIFEST, ExportError, get_backend
from .c_header import ir_digest
from .evaluate import evaluate_ir
from .ir import NetlistIR
from .names import export_name
from .vectors import TestVectors

__all__ = ["MANIFEST", "ExportError", "build_ir", "cuda_check", "default_vectors", "expected_outputs", "export",
           "render"]


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


def _checked_vectors(model, ir: NetlistIR, vectors, vector_codes, data_dir) -> tuple[TestVectors, str | None]:
    """The test vectors with the PyTorch expectations, after the CUDA and the IR checks (and the CUDA line)."""
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
    return TestVectors.for_ir(ir, codes, scores, predicted), cuda


def render(model_or_checkpoint, target: str, *, name: str | None = None, vectors: int = 256,
           vector_codes=None, optimize: bool = True, data_dir=None, **options) -> tuple[dict[str, bytes], dict]:
    """The files of an export as ``{file name: bytes}`` plus its manifest (nothing is written).
    ``options``: the target's own (see :func:`export`)."""
    backend = get_backend(target)
    options = backend.validate(options)
    model = _load(model_or_checkpoint)
    if model.training:
        raise ExportError(f"{model.model_name} is in training mode: call model.eval() before exporting "
                          f"(the export is the eval-mode function)")
    ir = build_ir(model, optimize=optimize)
    name = export_name(name or model.model_name)
    test_vectors, cuda = _checked_vectors(model, ir, vectors, vector_codes, data_dir)
    files = backend.render(ir, test_vectors, name=name, **options)
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
        "test_vectors": len(test_vectors),
        "cuda_forward": cuda,
        "files": {f: sha256_bytes(data) for f, data in sorted(files.items())},
    }
    files[MANIFEST] = manifest_bytes(manifest)
    return files, manifest


def export(model_or_checkpoint, target: str, out_dir, *, name: str | None = None, vectors: int = 256,
           vector_codes=None, optimize: bool = True, check: bool = False, data_dir=None, **options) -> dict:
    """Write the export of ``target`` (a registered backend: "c", "ir", "verilog") to the folder ``out_dir``,
    atomically.

    Args:
        model_or_checkpoint: a zoo model in eval mode, or a checkpoint path.
        name: base name of the files and C prefix / Verilog top (default: the model name, made an identifier).
        vectors: test vectors (the IR check, the C selftest, the Verilog ``vectors.json``): the first N
            test images of the model's dataset.
        vector_codes: explicit raw input codes instead (B, *input_shape).
        optimize: run :func:`difflut.hw.passes.optimize` on the lowered IR.
        check: run the backend's check (target c: compile and run the selftest) before committing.
        options: the target's options, e.g. ``cc`` (c), ``pipeline`` and ``lut_style`` (verilog); one the
            target does not take is an :class:`ExportError`.

    Returns the manifest (also written as ``export.json``). Raises :class:`ExportError` (and
    the lowering's errors for an untrained-mode model or an unfitted encoder); on any error the
    output folder is left as it was.
    """
    backend = get_backend(target)
    if check and not backend.has_check:
        raise ExportError(f"target {target!r} has no check (--check applies to: "
                          f"{', '.join(_targets_with_check())})")
    backend.validate(options)
    if name is not None:
        export_name(name)
    try:  # before any work: the output folder must be ours to replace (an interrupted commit is recovered)
        prepare_output_folder(out_dir, MANIFEST)
    except OutputError as e:
        raise ExportError(str(e)) from None
    files, manifest = render(model_or_checkpoint, target, name=name, vectors=vectors, vector_codes=vector_codes,
                             optimize=optimize, data_dir=data_dir, **options)
    full = backend.validate(options)

    def run_check(tmp: Path) -> None:
        nonlocal manifest
        manifest = dict(manifest, selftest=backend.check(tmp, name=manifest["name"], **full))
        (tmp / MANIFEST).write_bytes(manifest_bytes(manifest))  # the folder is not committed yet

    try:
        commit_folder(files, out_dir, manifest=MANIFEST, before_commit=run_check if check else None)
    except OutputError as e:
        raise ExportError(str(e)) from None
    return manifest


def _targets_with_check() -> list[str]:
    from .backends import BACKENDS

    return [t for t in BACKENDS.names() if BACKENDS.get(t).has_check]
