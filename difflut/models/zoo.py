"""Look-up of zoo models by name: :func:`get_model`, :func:`list_models`, :func:`model_info`."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from ..errors import DiffLUTError

from ..registry import MODELS
from .base import BaseModel

#: other names the seed documents use -> the registered model (the model keeps its registered name)
ALIASES = {"mnist_bitflip_0": "mnist_bitflip_none"}


def resolve_name(name: str) -> str:
    """The registered name of ``name`` (itself, or the model an alias in :data:`ALIASES` stands for)."""
    return ALIASES.get(name, name)


def get_model(name: str, seed: int = 0, *, pretrained: bool = False, **overrides) -> BaseModel:
    """Build the zoo model ``name`` (see :func:`list_models`) with its hard-coded parameters.

    ``name`` may be an alias (:data:`ALIASES`, e.g. ``mnist_bitflip_0`` for ``mnist_bitflip_none``).
    ``seed`` fixes the wiring and initial parameters; ``overrides`` change the documented
    settings (``node_input_dim``, ``encoder_bits``, ``flip_probability``, ``grad_stabilization``,
    ``hidden_size``, ``layer_widths``, ``use_cuda``, ...). An unknown name or override, or an
    out-of-range value, raises ``KeyError`` / ``ValueError`` listing the valid choices.
    The encoder is not fitted: call ``model.fit_encoder(train_images)`` or load a checkpoint.

    ``pretrained=True``: the model trained and shipped in ``difflut/models/pretrained/`` (seed and
    settings come from that file, so none may be given), in eval mode; KeyError listing the models
    that have one if ``name`` has none. Its metadata: :func:`difflut.models.pretrained_info`.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    cls = MODELS.get(resolve_name(name))
    if pretrained:
        from .pretrained import load_pretrained

        if overrides or seed != 0:
            raise ValueError(f"get_model({name!r}, pretrained=True) takes no seed or overrides (the shipped "
                             f"checkpoint fixes them), got seed={seed!r}, {sorted(overrides)}")
        return load_pretrained(resolve_name(name))
    return cls(seed=seed, **overrides)


def list_models() -> list[str]:
    """Names of all registered zoo models, sorted (aliases not included)."""
    return MODELS.names()


def model_info(name: str, **overrides) -> dict[str, Any]:
    """Name, task, dataset, node count, LUT-layer count of a zoo model (builds it once), and ``pretrained``:
    the shipped checkpoint's accuracy, dataset and LUTs, or None."""
    from .pretrained import pretrained_info, pretrained_names

    model = get_model(name, **overrides)
    shipped = None
    if model.model_name in pretrained_names():
        info = pretrained_info(model.model_name)
        shipped = {k: info[k] for k in ("dataset", "test_accuracy", "luts")}
    return {
        "name": model.model_name,
        "task": model.task,
        "dataset": model.dataset,
        "nodes": model.num_nodes,
        "layers": len(model.lut_layers()),
        "node_type": model.config["node_type"],
        "k": model.config["node_input_dim"],
        "pretrained": shipped,
    }


def import_model_modules(modules) -> None:
    """Import the modules that define a user's model classes, by name (``difflut export --import my_models``).

    Only modules named here are imported, never one a checkpoint names. The current folder is searched
    first, for the duration of the imports, as ``python -m`` would. Raises DiffLUTError for one that is
    not found.
    """
    modules = list(modules or [])
    if not modules:
        return
    sys.path.insert(0, os.getcwd())
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError as e:
                raise DiffLUTError(f"--import {name}: cannot import it ({e})") from None
    finally:
        sys.path.remove(os.getcwd())
