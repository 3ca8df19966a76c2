"""DiffLUT's CUDA kernels (``csrc/``): built on first use with ``torch.utils.cpp_extension``.

The fused EFD lookup (:class:`difflut.nodes.efd.EFDLookup`, used by the ``dwn`` and
``dwn_stable`` nodes) and the wired lookup of a random layer's nodes
(:class:`difflut.nodes.efd.WiredEFDLookup`, which reads the layer's input through its
wiring inside the kernel) run these kernels for float32 CUDA tensors; otherwise the torch
implementation runs, which computes the same values. Forward outputs are bit-identical
between the two, and so are the unwired lookup's input gradients; table gradients and the wired
lookup's input gradients are sums in another order (float rounding only; in fixed point, exact, where a
sample's row fits in shared memory). Three more serve the learnable mapping's gradient product
(:func:`difflut.layers.learnable_layer.split_tn`): two split a float32 gradient into 16-bit parts in one
pass, the same parts as its torch ops, and one unscales the product's rows (as torch's ``div_``); and the
EFD backward can write the first layer's node-input gradient straight as those float16 parts
(:func:`difflut.layers.learnable_layer.binary_logits_grad`).

The extension compiles once per machine (about a minute; needs nvcc and ninja) into
torch's extension cache. ``DIFFLUT_CUDA_KERNELS=0`` turns the kernels off.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch

from .resources import find_folder

_NAME = "difflut_efd_lookup"
_SOURCES = ("efd_lookup.cpp", "efd_lookup_cuda.cu", "wired_lookup_cuda.cu", "split_parts_cuda.cu")
_state: dict = {}


def source_dir() -> Path | None:
    """The folder holding the kernel sources (:func:`difflut.resources.find_folder`): ``csrc/`` of a
    source checkout, or ``share/difflut/csrc`` of an installed wheel; ``None`` if neither exists."""
    return find_folder("csrc", _SOURCES)


def disabled() -> bool:
    """True when ``DIFFLUT_CUDA_KERNELS=0`` (or ``false``/``off``) is set."""
    return os.environ.get("DIFFLUT_CUDA_KERNELS", "1").strip().lower() in ("0", "false", "off", "no")


def efd_extension(required: bool = False):
    """The compiled extension module, building it on the first call; ``None`` when unavailable.

    Unavailable means: no CUDA, ``DIFFLUT_CUDA_KERNELS=0``, missing sources or a failed build (warned
    once). With ``required=True`` these raise a ``RuntimeError`` that says which one.
    """
    if "module" in _state:  # built (or failed) before in this process
        if _state["module"] is None and required:
            raise RuntimeError(f"DiffLUT CUDA kernels failed to build: {_state.get('error')}")
        return _state["module"]
    reason = None
    if disabled():
        reason = "DIFFLUT_CUDA_KERNELS=0 is set"
    elif not torch.cuda.is_available():
        reason = "CUDA is not available on this machine"
    elif source_dir() is None:
        reason = f"the kernel sources {', '.join(_SOURCES)} were not found (csrc/ or share/difflut/csrc)"
    if reason is not None:  # not cached: the environment may change
        if required:
            raise RuntimeError(f"DiffLUT CUDA kernels unavailable: {reason}")
        return None
    try:
        from torch.utils.cpp_extension import load

        folder = source_dir()
        print("difflut: loading the CUDA kernels (built once per machine, about a minute)...", file=sys.stderr,
              flush=True)
        module = load(name=_NAME, sources=[str(folder / s) for s in _SOURCES],
                      extra_cuda_cflags=["-O3"], extra_cflags=["-O3"], verbose=False)
    except Exception as e:  # a failed build falls back to the torch implementation
        _state["error"] = f"{type(e).__name__}: {e}"
        module = None
        if not required:
            warnings.warn(f"DiffLUT CUDA kernels failed to build, using torch ops: {_state['error']}", stacklevel=2)
    _state["module"] = module
    if module is None and required:
        raise RuntimeError(f"DiffLUT CUDA kernels failed to build: {_state.get('error')}")
    return module


def use_efd_kernel(x: torch.Tensor, table: torch.Tensor) -> bool:
    """Whether :class:`EFDLookup` runs the CUDA kernels for these operands."""
    return (x.is_cuda and table.is_cuda and x.dtype == torch.float32 and table.dtype == torch.float32
            and not disabled() and efd_extension() is not None)
