"""Lowering: a DiffLUT model in eval mode -> the :class:`~difflut.hw.ir.NetlistIR` of its exact function.

Every eval-mode stage of a model is a pure function of bits; lowering writes that function down:

* **encoder** -> :class:`~difflut.encoders.EncoderHardwareForm` over the input's integer codes
  (``encoder.hardware_form(input_format)``), one row per *input feature* in the input's row-major
  order. An encoder fitted on fewer features than the input (CIFAR's per-channel thresholds) is
  expanded with a ``feature_index`` map (input feature f uses encoder feature ``feature_index[f]``).
* **BitSelect** -> a choice of wires ``wires[index]`` (no LUTs).
* **RandomLayer / LearnableLayer / GroupedLayer** -> one :class:`~difflut.hw.ir.LUTLayer`: node m reads the layer
  inputs ``connections()[m]`` and holds ``node.truth_table()[m]``.
* **ConvolutionalLayer** -> one LUTLayer per tree level of ``layer.unrolled(input_hw)`` (zero padding
  reads :data:`~difflut.hw.ir.CONST0`).
* **OrPool2d(s)** -> one LUTLayer of ``s * s``-input OR gates (``max_pool2d`` of bits, floor mode).
* **flatten** -> a reshape of wire ids; **GroupSum** -> ``class_wires`` (C, G), contiguous groups.

While lowering, the value of every stage is an int64 array of wire ids shaped like one sample of the
PyTorch tensor at that point (e.g. ``(C, H, W)`` before a convolution), so each PyTorch reshape,
permutation and index is mirrored by the same numpy operation on wire ids.

Entry points: :func:`lower` (any :class:`~difflut.models.BaseModel`, from its declaration) and :func:`lower_layers` (a bare encoder + layers +
GroupSum); :class:`NetlistBuilder` and the ``lower_*`` functions are the building blocks.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Sequence

import numpy as np
from torch import nn

from ..encoders.base import BaseEncoder
from ..errors import DiffLUTError
from ..files import library_version
from ..files import sha256_file
from ..input_format import InputFormat
from ..layers import BitSelect, GroupSum
from ..layers.convolutional import ConvolutionalLayer
from ..layers.grouped_layer import GroupedLayer
from ..layers.learnable_layer import LearnableLayer
from ..layers.random_layer import RandomLayer
from ..models.base import BaseModel
from ..models.cifar10 import OrPool2d
from ..nodes.base import BaseNode
from .encoder_form import EncoderHardwareForm
from .ir import CONST0, CONST1, MAX_IR_K, LUTLayer, NetlistIR

__all__ = [
    "LoweringError",
    "NetlistBuilder",
    "check_eval_mode",
    "expand_features",
    "lower",
    "lower_encoder",
    "lower_flat_layer",
    "lower_conv_layer",
    "lower_groupsum",
    "lower_layers",
    "lower_module",
    "lower_or_pool",
]


class LoweringError(DiffLUTError, ValueError):
    """A model (or one of its components) cannot be lowered to the netlist IR; the message names it."""


# -- the builder ------------------------------------------------------------------------------------
class NetlistBuilder:
    """Accumulates LUT layers over global wire ids (the numbering of :mod:`difflut.hw.ir`).

    Wires ``0 .. F*n - 1`` are the encoder stage's bits (wire ``f*n + j`` = bit j of input feature f);
    every :meth:`add` appends a layer whose node m drives wire ``base + m``.
    """

    def __init__(self, input_shape: Sequence[int], encoder: EncoderHardwareForm):
        self.input_shape = tuple(int(s) for s in input_shape)
        self.encoder = encoder
        if int(np.prod(self.input_shape)) != encoder.num_features:
            raise LoweringError(f"input shape {self.input_shape} has {int(np.prod(self.input_shape))} features, "
                                f"the encoder stage {encoder.num_features}")
        self.layers: list[LUTLayer] = []
        self.num_wires = encoder.output_size

    def encoder_wires(self) -> np.ndarray:
        """Wire ids of the encoder bits, int64 (F, n): entry [f, j] = ``f * n + j``."""
        return np.arange(self.encoder.output_size, dtype=np.int64).reshape(self.encoder.num_features, -1)

    def add(self, name: str, inputs: np.ndarray, tables: np.ndarray) -> np.ndarray:
        """Append a layer of ``N`` LUTs (``inputs`` int64 (N, k) wire ids, ``tables`` bool (N, 2**k)).

        Returns the wire ids of its outputs, int64 (N,).
        """
        inputs = np.asarray(inputs, dtype=np.int64)
        if inputs.ndim == 2 and inputs.shape[1] > MAX_IR_K:
            raise LoweringError(f"{name}: {inputs.shape[1]}-input LUTs exceed the IR's limit of {MAX_IR_K} inputs")
        if inputs.size and (inputs.max() >= self.num_wires or inputs.min() < CONST1):
            raise LoweringError(f"{name}: reads a wire that does not exist yet (internal lowering error)")
        layer = LUTLayer(name, inputs, tables)
        base = self.num_wires
        self.layers.append(layer)
        self.num_wires += layer.num_nodes
        return np.arange(base, self.num_wires, dtype=np.int64)

    def build(self, class_wires: np.ndarray, metadata: dict | None = None) -> NetlistIR:
        return NetlistIR(self.input_shape, self.encoder, tuple(self.layers), class_wires, dict(metadata or {}))


# -- checks -----------------------------------------------------------------------------------------
def check_eval_mode(module: nn.Module, what: str) -> None:
    """Raise :class:`LoweringError` if ``module`` or a submodule is in training mode or has forward hooks.

    A hook (e.g. an active ``model.inject_faults``) can change what the module computes, so the
    lowered function would not be the module's.
    """
    for name, sub in module.named_modules():
        where = f"{what}.{name}" if name else what
        if sub.training:
            raise LoweringError(f"{where} ({type(sub).__name__}) is in training mode: call model.eval() "
                                f"before lowering (the IR is the eval-mode function)")
        if sub._forward_hooks or sub._forward_pre_hooks:
            raise LoweringError(f"{where} ({type(sub).__name__}) has forward hooks (is inject_faults active?); "
                                f"they may change its function, remove them before lowering")


def _node_tables(node, layer_name: str, k: int) -> np.ndarray:
    if not isinstance(node, BaseNode):
        raise LoweringError(f"{layer_name}: unknown node type {type(node).__name__} (not a difflut BaseNode); "
                            f"cannot take its truth table")
    table = node.truth_table().cpu().numpy()
    if table.dtype != np.bool_ or table.shape != (node.num_nodes, 1 << k):
        raise LoweringError(f"{layer_name}: {type(node).__name__}.truth_table() is {table.dtype} {table.shape}, "
                            f"expected bool ({node.num_nodes}, {1 << k})")
    return table


# -- encoder ----------------------------------------------------------------------------------------
def expand_features(form: EncoderHardwareForm, feature_index: np.ndarray) -> EncoderHardwareForm:
    """The form with row f = ``form`` row ``feature_index[f]``: int (F',) -> F' features."""
    feature_index = np.asarray(feature_index, dtype=np.int64).reshape(-1)
    if feature_index.size == 0 or feature_index.min() < 0 or feature_index.max() >= form.num_features:
        raise LoweringError(f"feature_index must select encoder features 0..{form.num_features - 1}")
    return EncoderHardwareForm.from_tables(form.input_format, form.encoder, form.tables[feature_index])


def lower_encoder(encoder: BaseEncoder, input_format: InputFormat,
                  feature_index: np.ndarray | None = None, what: str = "encoder") -> EncoderHardwareForm:
    """The encoder stage: ``encoder.hardware_form(input_format)``, expanded by ``feature_index`` if given."""
    if not isinstance(encoder, BaseEncoder):
        raise LoweringError(f"{what}: {type(encoder).__name__} is not a difflut encoder (BaseEncoder)")
    if not isinstance(input_format, InputFormat):
        raise LoweringError(f"input_format must be a difflut.InputFormat, got {type(input_format).__name__}")
    if not encoder.fitted:
        raise LoweringError(f"{what} ({type(encoder).__name__}) is not fitted: call model.fit_encoder(images), "
                            f"encoder.fit(data) or load a checkpoint before lowering")
    form = encoder.hardware_form(input_format)
    return form if feature_index is None else expand_features(form, feature_index)


# -- layers -----------------------------------------------------------------------------------------
def lower_flat_layer(builder: NetlistBuilder, layer: RandomLayer | LearnableLayer | GroupedLayer, wires: np.ndarray,
                     name: str) -> np.ndarray:
    """Random or learnable layer on flat input wires (input_size,) -> output wires (output_size,)."""
    wires = np.asarray(wires).reshape(-1)
    if wires.size != layer.input_size:
        raise LoweringError(f"{name}: {type(layer).__name__} takes {layer.input_size} bits, gets {wires.size}")
    connections = layer.connections().cpu().numpy()
    return builder.add(name, wires[connections], _node_tables(layer.node, name, layer.k))


def lower_conv_layer(builder: NetlistBuilder, layer: ConvolutionalLayer, wires: np.ndarray,
                     name: str) -> np.ndarray:
    """Convolutional layer on wires (C, H, W) -> (out_channels, H', W'), one IR layer per tree level."""
    wires = np.asarray(wires)
    if wires.ndim != 3 or wires.shape[0] != layer.in_channels:
        raise LoweringError(f"{name}: ConvolutionalLayer takes a ({layer.in_channels}, H, W) bit map, "
                            f"gets shape {wires.shape}")
    out_hw = layer.output_hw(wires.shape[1:])
    previous = np.append(wires.reshape(-1), CONST0)  # index -1 (zero padding) -> CONST0
    for level, unrolled in enumerate(layer.unrolled(wires.shape[1:])):
        index = unrolled.wires.cpu().numpy()
        tables = _node_tables(unrolled.node, name, layer.k)[unrolled.node_index.cpu().numpy()]
        previous = builder.add(f"{name}.levels.{level}", previous[index], tables)
    return previous.reshape(layer.out_channels, *out_hw)


def lower_or_pool(builder: NetlistBuilder, pool: nn.Module, wires: np.ndarray, name: str) -> np.ndarray:
    """``max_pool2d(x, s)`` of a bit map (C, H, W) -> (C, H // s, W // s): s*s-input OR LUTs.

    Window inputs are row-major inside the window (input ``dy * s + dx``); rows and columns beyond
    ``s * (H // s)`` are dropped, as ``max_pool2d`` does.
    """
    s = getattr(pool, "kernel_size", None)
    if not isinstance(s, int) or isinstance(s, bool) or s < 1 or s * s > MAX_IR_K:
        raise LoweringError(f"{name}: pooling kernel_size {s!r} is not an int with kernel_size**2 <= {MAX_IR_K}")
    wires = np.asarray(wires)
    if wires.ndim != 3 or min(wires.shape[1:]) < s:
        raise LoweringError(f"{name}: OR pooling takes a (C, H, W) bit map with H, W >= {s}, gets {wires.shape}")
    c, h, w = wires.shape[0], wires.shape[1] // s, wires.shape[2] // s
    windows = wires[:, : h * s, : w * s].reshape(c, h, s, w, s).transpose(0, 1, 3, 2, 4).reshape(-1, s * s)
    table = np.arange(1 << (s * s)) != 0  # OR: 0 only at address 0
    out = builder.add(name, windows, np.broadcast_to(table, (windows.shape[0], table.size)))
    return out.reshape(c, h, w)


def lower_groupsum(head: nn.Module, wires: np.ndarray, what: str = "head") -> np.ndarray:
    """GroupSum over wires (N,) -> class_wires (C, N // C): class c reads ``wires[c*G:(c+1)*G]``."""
    if type(head) is not GroupSum:  # a subclass may count differently
        raise LoweringError(f"{what}: {type(head).__name__} is not a GroupSum; cannot lower the classifier head")
    wires = np.asarray(wires).reshape(-1)
    if wires.size == 0 or wires.size % head.num_classes:
        raise LoweringError(f"{what}: GroupSum({head.num_classes}) needs a multiple of {head.num_classes} bits, "
                            f"gets {wires.size}")
    return wires.reshape(head.num_classes, -1)


#: module type -> lowering function (builder, module, wires, name) -> wires
LOWERINGS: dict[type, Callable] = {
    RandomLayer: lower_flat_layer,
    LearnableLayer: lower_flat_layer,
    GroupedLayer: lower_flat_layer,
    ConvolutionalLayer: lower_conv_layer,
}


def lower_module(builder: NetlistBuilder, module: nn.Module, wires: np.ndarray, name: str) -> np.ndarray:
    """Lower one stage: a registered layer type, BitSelect, OrPool2d or ``nn.Flatten`` (of one sample's wires)."""
    lowering = LOWERINGS.get(type(module))
    if lowering is not None:
        return lowering(builder, module, wires, name)
    if type(module) is BitSelect:
        wires = np.asarray(wires).reshape(-1)
        index = module.index.cpu().numpy()
        if index.size and index.max() >= wires.size:
            raise LoweringError(f"{name}: BitSelect reads bit {int(index.max())} of {wires.size}")
        return wires[index]
    if type(module) is OrPool2d:
        return lower_or_pool(builder, module, wires, name)
    if isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
        return np.asarray(wires).reshape(-1)
    known = ", ".join(sorted(t.__name__ for t in LOWERINGS)) + ", BitSelect, OrPool2d, nn.Flatten"
    raise LoweringError(f"{name}: cannot lower layer type {type(module).__name__} (known: {known})")


def lower_layers(encoder: BaseEncoder, layers: Sequence[nn.Module], head: GroupSum, input_format: InputFormat,
                 input_shape: Sequence[int] | None = None, metadata: dict | None = None) -> NetlistIR:
    """Lower a bare pipeline: encoder (feature-major flat bits) -> ``layers`` in order -> GroupSum.

    ``input_shape`` (default: the encoder's feature shape) must have one input feature per encoder
    feature. The first layer reads the encoder's bits in ``encoder.encode(x)`` order (feature-major,
    wire ``f * n + j``). Metadata: ``model`` (None), ``library_version``, then ``metadata``.
    """
    check_eval_mode(encoder, "encoder")
    for i, layer in enumerate(layers):
        check_eval_mode(layer, f"layers.{i}")
    form = lower_encoder(encoder, input_format)
    shape = tuple(encoder.feature_shape) if input_shape is None else tuple(input_shape)
    builder = NetlistBuilder(shape, form)
    wires = builder.encoder_wires().reshape(-1)
    for i, layer in enumerate(layers):
        wires = lower_module(builder, layer, wires, f"layers.{i}")
    meta = {"model": None, "library_version": library_version()}
    meta.update(metadata or {})
    return builder.build(lower_groupsum(head, wires), meta)


# -- models -------------------------------------------------------------------------------------------
#: the BaseModel methods that make up the eval function; a model that overrides one computes something
#: its declaration (encoder, encoder_layout, stages, head) does not say, and is refused
_PIPELINE_METHODS = ("forward", "encode", "to_float", "to_codes", "class_scores", "predict", "_chunks",
                     "_encode", "_forward_impl")


def _check_declared(model: BaseModel) -> None:
    overridden = [m for m in _PIPELINE_METHODS if getattr(type(model), m) is not getattr(BaseModel, m)]
    if overridden:
        raise LoweringError(
            f"cannot lower model {model.model_name!r} ({type(model).__name__}): it overrides "
            f"{', '.join(overridden)}, so its function is not the one its declaration (encoder, encoder_layout, "
            f"stages(), head) describes; declare the layers in stages() and keep BaseModel's pipeline, or use "
            f"lower_layers for a bare encoder + layers + GroupSum")


def _lower_encoder_stage(model: BaseModel, fmt: InputFormat) -> tuple[NetlistBuilder, np.ndarray]:
    """The encoder in the model's ``encoder_layout`` -> (builder, wire ids shaped like one encoded sample)."""
    encoder, what = model.encoder, f"{model.model_name}.encoder"
    if model.encoder_layout == "flat":
        if tuple(encoder.feature_shape) != tuple(model.input_shape):
            raise LoweringError(f"{what}: fitted on feature shape {tuple(encoder.feature_shape)}, "
                                f"the model's input is {tuple(model.input_shape)}")
        builder = NetlistBuilder(model.input_shape, lower_encoder(encoder, fmt, what=what))
        return builder, builder.encoder_wires().reshape(-1)
    c, h, w = model.input_shape  # "channels": per-channel thresholds shared by all positions
    if tuple(encoder.feature_shape) != (c,):
        raise LoweringError(f"{what}: fitted on feature shape {tuple(encoder.feature_shape)}, "
                            f"expected per-channel thresholds ({c},)")
    # input feature (c, y, x) uses encoder feature c
    form = lower_encoder(encoder, fmt, np.repeat(np.arange(c), h * w), what=what)
    builder = NetlistBuilder(model.input_shape, form)
    # the model's encoded map: channel c*n + j at (y, x) is bit j of input feature (c, y, x)
    wires = builder.encoder_wires().reshape(c, h, w, form.num_bits).transpose(0, 3, 1, 2)
    return builder, wires.reshape(c * form.num_bits, h, w)


def _stage_names(model: BaseModel, stages: Sequence[nn.Module]) -> list[str]:
    """Each stage's name in the model (``layers.0``); a module used k > 1 times gets ``.0`` .. ``.k-1``."""
    names = {id(m): n for n, m in model.named_modules() if n}
    counts: dict[int, int] = {}
    for stage in stages:
        counts[id(stage)] = counts.get(id(stage), 0) + 1
    seen: dict[int, int] = {}
    out = []
    for i, stage in enumerate(stages):
        base = names.get(id(stage), f"stages.{i}")
        if counts[id(stage)] > 1:
            base = f"{base}.{seen.get(id(stage), 0)}"
            seen[id(stage)] = seen.get(id(stage), 0) + 1
        out.append(base)
    return out


def _lower_declared(model: BaseModel, fmt: InputFormat) -> tuple[NetlistBuilder, np.ndarray]:
    """A model from its declaration: encoder stage -> ``model.stages()`` in order -> flattened output wires."""
    builder, wires = _lower_encoder_stage(model, fmt)
    stages = list(model.stages())
    for stage, name in zip(stages, _stage_names(model, stages)):
        wires = lower_module(builder, stage, wires, name)
    return builder, np.asarray(wires).reshape(-1)


def lower(model, input_format: InputFormat | None = None, *, checkpoint_sha256: str | None = None,
          checkpoint: str | os.PathLike | None = None) -> NetlistIR:
    """The netlist IR of a model's eval-mode function, lowered from what the model declares.

    The declaration (see :class:`~difflut.models.BaseModel`): ``model.encoder`` in ``model.encoder_layout``,
    ``model.stages()`` in order (registered LUT layers, OrPool2d, ``nn.Flatten``) and the GroupSum
    ``model.head``; any BaseModel subclass built from those parts lowers, a zoo model or a user's own.

    Args:
        model: a :class:`~difflut.models.BaseModel` in eval mode, encoder fitted.
        input_format: the integer input codes of the hardware (default ``model.input_format``).
        checkpoint_sha256: SHA-256 of the checkpoint file the model came from, recorded in the metadata.
        checkpoint: path of that checkpoint file; its SHA-256 is computed (and must agree with
            ``checkpoint_sha256`` when both are given).

    Metadata: ``model``, ``seed``, ``overrides``, ``library_version``, ``state_digest`` (SHA-256 over
    the state dict, :func:`difflut.checkpoint.state_digest`: equal to the ``digest`` stored in a
    checkpoint of these weights) and ``checkpoint_sha256`` when known (given, computed, or a
    ``checkpoint_sha256`` attribute of the model).

    Raises :class:`LoweringError` naming the component for a model in training mode, an unfitted
    encoder, an unknown layer or node type, or a model that overrides BaseModel's pipeline methods.
    """
    from ..checkpoint import state_digest

    if not isinstance(model, BaseModel):
        raise LoweringError(f"lower() takes a difflut model (BaseModel), got {type(model).__name__}; "
                            f"use lower_layers for a bare encoder + layers + GroupSum")
    _check_declared(model)
    check_eval_mode(model, model.model_name)
    if not isinstance(model.encoder, BaseEncoder) or not model.encoder.fitted:  # the clear error, before layers
        lower_encoder(model.encoder, model.input_format, what=f"{model.model_name}.encoder")  # raises
    fmt = model.input_format if input_format is None else input_format
    if checkpoint is not None:
        digest = sha256_file(checkpoint)
        if checkpoint_sha256 is not None and checkpoint_sha256.lower() != digest:
            raise LoweringError(f"checkpoint {os.fspath(checkpoint)!r} has SHA-256 {digest}, "
                                f"not the given {checkpoint_sha256}")
        checkpoint_sha256 = digest
    if checkpoint_sha256 is None:
        checkpoint_sha256 = getattr(model, "checkpoint_sha256", None)
    if checkpoint_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(checkpoint_sha256)):
        raise LoweringError(f"checkpoint_sha256 must be 64 hex digits, got {checkpoint_sha256!r}")
    builder, wires = _lower_declared(model, fmt)
    metadata = {
        "model": model.model_name,
        "seed": model.seed,
        "overrides": model.plain_overrides(),
        "library_version": library_version(),
        "state_digest": state_digest(model.state_dict()),
    }
    if checkpoint_sha256 is not None:
        metadata["checkpoint_sha256"] = str(checkpoint_sha256).lower()
    return builder.build(lower_groupsum(model.head, wires, f"{model.model_name}.head"), metadata)
