"""One-call exports of a model to a single file: ``export_to_c(model, "model.h")``, ``export_to_fpga(model, "model.v")``.

Thin wrappers over :func:`difflut.hw.export.render`: the model's eval-mode function is lowered, checked bit
for bit against the PyTorch eval forward on test vectors, and the one file asked for is written. The model
is exported in eval mode whatever mode it is in, and its mode is restored afterwards. The file is written
atomically (a temporary file beside it, renamed over it); an existing file is replaced only with
``overwrite=True``. For the whole export folder (the C selftest, the Verilog testbench and vectors, the
manifest) use :func:`difflut.hw.export.export` or ``difflut export``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DiffLUTError

__all__ = ["export_to_c", "export_to_fpga"]


def _target_path(path, suffix: str, overwrite: bool) -> Path:
    from .hw.export import ExportError

    path = Path(path)
    if path.suffix != suffix:
        raise ExportError(f"{str(path)!r}: the file name must end in {suffix}")
    if path.is_dir():
        raise ExportError(f"{str(path)!r} is a folder; give a file path ending in {suffix}")
    if path.exists() and not overwrite:
        raise ExportError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise ExportError(f"folder {str(path.parent)!r} does not exist")
    return path


def _render_one(model, target: str, path, suffix: str, overwrite: bool, vectors, options: dict) -> Path:
    from .files import write_atomic
    from .hw.export import ExportError, render
    from .hw.names import export_name
    from .models.base import BaseModel

    if not isinstance(model, BaseModel):
        raise ExportError(f"expected a difflut model (BaseModel), got {type(model).__name__}")
    path = _target_path(path, suffix, overwrite)
    name = export_name(path.stem)
    codes = None if vectors is None else model.to_codes(vectors).cpu().numpy()
    if codes is None and not model.dataset:
        raise DiffLUTError(f"{model.model_name} names no dataset to take test vectors from: pass vectors=images")
    with model._eval_mode():  # BaseModel's: eval mode inside, the previous mode restored
        files, _ = render(model, target, name=name, vector_codes=codes, **options)
    data = files.get(f"{name}{suffix}")
    if data is None:  # the backend's file naming is its own; it writes exactly one design file
        raise ExportError(f"the {target} export made no {name}{suffix} (files: {', '.join(sorted(files))})")
    write_atomic(path, data)
    return path


def export_to_c(model, path, *, overwrite: bool = False, vectors=None) -> Path:
    """Write the model's eval function as a header-only C99 file ``path`` (``.h``; its stem is the C prefix).

    ``vectors``: images for the IR == PyTorch check (default: the first 256 test images of the model's
    dataset). Returns the path. Raises :class:`~difflut.hw.export.ExportError` (bad path, existing file
    without ``overwrite``), the lowering's errors, and InputError for bad vectors.
    """
    return _render_one(model, "c", path, ".h", overwrite, vectors, {})


def export_to_fpga(model, path, *, overwrite: bool = False, vectors=None, pipeline="none",
                   lut_style: str = "behavioral") -> Path:
    """Write the model's eval function as one Verilog file ``path`` (``.v``; its stem names the module).

    ``pipeline`` and ``lut_style`` as in :func:`difflut.hw.verilog.generate`; ``vectors`` as in
    :func:`export_to_c`. For simulation, export the folder (``difflut.hw.export.export(model, "verilog",
    folder)``): it holds the testbench and the expected outputs. Returns the path.
    """
    return _render_one(model, "verilog", path, ".v", overwrite, vectors,
                       {"pipeline": pipeline, "lut_style": lut_style})
