"""Look-up of zoo models by name: :func:`get_model`, :func:`list_models`, :func:`model_info`."""

from __future__ import annotations

from typing import Any

from ..registry import MODELS
from .base import BaseModel


def get_model(name: str, seed: int = 0, **overrides) -> BaseModel:
    """Build the zoo model ``name`` (see :func:`list_models`) with its hard-coded parameters.

    ``seed`` fixes the wiring and initial parameters; ``overrides`` change the documented
    settings (``node_input_dim``, ``encoder_bits``, ``flip_probability``, ``grad_stabilization``,
    ``hidden_size``, ``layer_widths``, ``use_cuda``, ...). An unknown name or override, or an
    out-of-range value, raises ``KeyError`` / ``ValueError`` listing the valid choices.
    The encoder is not fitted: call ``model.fit_encoder(train_images)`` or load a checkpoint.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    return MODELS.get(name)(seed=seed, **overrides)


def list_models() -> list[str]:
    """Names of all registered zoo models, sorted."""
    return MODELS.names()


def model_info(name: str, **overrides) -> dict[str, Any]:
    """Name, task, dataset, node count and LUT-layer count of a zoo model (builds it once)."""
    model = get_model(name, **overrides)
    return {
        "name": name,
        "task": model.task,
        "dataset": model.dataset,
        "nodes": model.num_nodes,
        "layers": len(model.lut_layers()),
        "node_type": model.config["node_type"],
        "k": model.config["node_input_dim"],
    }
