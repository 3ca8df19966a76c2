"""Zoo model configuration: the overrides a model accepts, their validators, the shared defaults.

A model's configuration is ``dict(model.defaults, **overrides)``; :func:`check_overrides` checks
each override against :data:`OVERRIDE_RULES` (one validator per name) and the model's list of
accepted names, and :func:`resolve_widths` derives ``layer_widths`` and ``tau``. Kept apart from
:class:`~difflut.models.BaseModel`, which only reads the result.
"""

from __future__ import annotations

import math

from ..layers.grad_stabilization import GRAD_STABILIZATION_MODES

REGULARIZATION_KINDS = ("none", "l1", "l2", "spectral")
NODE_INPUT_DIMS = (4, 6)
ENCODER_BITS_RANGE = (3, 8)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive_int(v):
    if not is_int(v) or v < 1:
        raise ValueError(f"must be a positive int, got {v!r}")
    return v


def _widths(v):
    if isinstance(v, int) or not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"must be a non-empty list of positive ints, got {v!r}")
    return tuple(_positive_int(w) for w in v)


def _optional_positive_int(v):
    return None if v is None else _positive_int(v)


def _reduction_widths(v):
    if isinstance(v, int) or not isinstance(v, (list, tuple)):
        raise ValueError(f"must be a list of positive ints (possibly empty), got {v!r}")
    return tuple(_positive_int(w) for w in v)


def _choice(choices):
    def check(v):
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}, got {v!r}")
        return v
    return check


def _int_range(lo, hi):
    def check(v):
        if not is_int(v) or not lo <= v <= hi:
            raise ValueError(f"must be an int in {lo}..{hi}, got {v!r}")
        return v
    return check


def probability(v):
    if not _is_number(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"must be a number in [0, 1], got {v!r}")
    return float(v)


def _non_negative(v):
    if not _is_number(v) or v < 0:
        raise ValueError(f"must be a finite number >= 0, got {v!r}")
    return float(v)


def _optional_positive(v):
    if v is None:
        return None
    if not _is_number(v) or v <= 0:
        raise ValueError(f"must be a positive number or None, got {v!r}")
    return float(v)


def _registered(kind):
    from .. import registry

    def check(v):
        names = getattr(registry, f"list_{kind}s")()
        if v not in names:
            raise ValueError(f"must be a registered {kind}: {', '.join(names)}; got {v!r}")
        return v
    return check


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError(f"must be True or False, got {v!r}")
    return v


def _use_cuda(v):
    if not (isinstance(v, bool) or v == "require"):
        raise ValueError(f"must be True, False or 'require', got {v!r}")
    return v


def _node_kwargs(v):
    if v is not None and not (isinstance(v, dict) and all(isinstance(key, str) for key in v)):
        raise ValueError(f"must be None or a dict of node keyword arguments, got {v!r}")
    return None if v is None else dict(v)


def _power_of_two(v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v & (v - 1) or v > 1 << 16:
        raise ValueError(f"must be a power of two in 1..65536, got {v!r}")
    return v


#: every override a zoo model may accept -> its validator (a model lists the ones it accepts)
OVERRIDE_RULES = {
    "node_input_dim": _choice(NODE_INPUT_DIMS),
    "encoder_bits": _int_range(*ENCODER_BITS_RANGE),
    "flip_probability": probability,
    "grad_stabilization": _choice(GRAD_STABILIZATION_MODES),
    "residual_init": _bool,
    "use_cuda": _use_cuda,
    "hidden_size": _positive_int,
    "layer_widths": _widths,
    "conv_channels": _widths,
    "tau": _optional_positive,
    "regularization": _choice(REGULARIZATION_KINDS),
    "reg_weight": _non_negative,
    "node_type": _registered("node"),
    "encoder": _registered("encoder"),
    "mapping": _choice(("random", "learnable")),
    "learnable_layers": _positive_int,
    "node_kwargs": _node_kwargs,
    "encoder_budget": _optional_positive_int,
    "reduction_widths": _reduction_widths,
    "encoder_code_step": _power_of_two,
}

#: the training options every zoo model starts from (a model's ``defaults`` extend these)
COMMON_DEFAULTS = dict(
    node_kwargs=None,
    tau=None,  # sqrt(bits per class)
    flip_probability=0.0,
    grad_stabilization="none",
    residual_init=False,
    regularization="none",
    reg_weight=0.0,
    use_cuda=False,
)

#: overrides every zoo model accepts
COMMON_OVERRIDES = (
    "node_input_dim", "encoder_bits", "flip_probability", "grad_stabilization", "residual_init",
    "use_cuda", "hidden_size", "layer_widths", "tau", "regularization", "reg_weight", "node_kwargs",
    "encoder_code_step",
)


def check_overrides(model_name: str, overridable, overrides: dict) -> dict:
    """The validated ``overrides`` (tuples for lists); ValueError naming the bad one and the choices."""
    checked = {}
    for key, value in overrides.items():
        if key not in overridable:
            raise ValueError(
                f"unknown override {key!r} for model {model_name!r}; "
                f"valid overrides: {', '.join(sorted(overridable))}"
            )
        try:
            checked[key] = OVERRIDE_RULES[key](value)
        except ValueError as e:
            raise ValueError(f"model {model_name!r}: override {key}: {e}") from None
    return checked


def resolve_widths(model_name: str, config: dict, overrides: dict, num_classes: int) -> dict:
    """``hidden_size`` sets the first of ``layer_widths``; ``tau=None`` -> sqrt(bits per class).

    Without ``layer_widths`` in the configuration (a custom model) the config is returned as is.
    """
    hidden = config.pop("hidden_size", None)
    if "layer_widths" not in config:
        return config
    widths = list(config["layer_widths"])
    if hidden is not None:
        if "layer_widths" in overrides and "hidden_size" in overrides and widths[0] != hidden:
            raise ValueError(f"model {model_name!r}: hidden_size={hidden} contradicts layer_widths={tuple(widths)}")
        if len(widths) < 2:
            raise ValueError(f"model {model_name!r}: hidden_size needs at least two layers")
        widths[0] = hidden
    if widths[-1] % num_classes:
        raise ValueError(
            f"model {model_name!r}: the last layer width {widths[-1]} must be a multiple of "
            f"num_classes={num_classes} (GroupSum groups)"
        )
    config["layer_widths"] = tuple(widths)
    if config.get("tau") is None:
        config["tau"] = math.sqrt(widths[-1] // num_classes)
    return config
