"""BaseModel: a zoo model = input format -> encoder -> LUT layers -> GroupSum.

A zoo model takes the raw integer codes the hardware sees (uint8 images for
MNIST and CIFAR-10), maps them to floats with its :class:`~difflut.InputFormat`
(``x = float32(code) / 255``), encodes them to bits with a fitted encoder, runs
its LUT layers and sums groups of output bits into class scores.

Eval semantics (``model.eval()``): every stage is a pure function of bits, so
the hardware reproduces the model exactly. The class score of class c is the
popcount of its group of output bits (:meth:`BaseModel.class_scores`), the
logits are ``popcount / tau`` and the prediction is the first maximum
(:meth:`BaseModel.predict`, ties go to the lowest class index).

Inputs: integer tensors only (any integer dtype, values inside the input
format's code range). Float inputs are refused with an :class:`InputError`: a
float has no unique hardware code, so accepting it would break the bit-exact
contract silently. Convert floats in [0, 1] with ``(x * 255).round().to(torch.uint8)``.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from typing import Any, Iterator

import torch
from torch import nn

from .. import kernels
from ..errors import InputError, NotFittedError
from ..input_format import InputFormat
from ..layers import GroupSum
from ..plain import to_plain

GRAD_STABILIZATION_MODES = ("none", "layerwise", "batchwise", "layerwise_mean")
REGULARIZATION_KINDS = ("none", "l1", "l2", "spectral")
NODE_INPUT_DIMS = (4, 6)
ENCODER_BITS_RANGE = (3, 8)


# -- override validation -------------------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive_int(v):
    if not _is_int(v) or v < 1:
        raise ValueError(f"must be a positive int, got {v!r}")
    return v


def _widths(v):
    if isinstance(v, int) or not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"must be a non-empty list of positive ints, got {v!r}")
    return tuple(_positive_int(w) for w in v)


def _choice(choices):
    def check(v):
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}, got {v!r}")
        return v
    return check


def _int_range(lo, hi):
    def check(v):
        if not _is_int(v) or not lo <= v <= hi:
            raise ValueError(f"must be an int in {lo}..{hi}, got {v!r}")
        return v
    return check


def _probability(v):
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


def _node_kwargs(v):
    if v is not None and not (isinstance(v, dict) and all(isinstance(key, str) for key in v)):
        raise ValueError(f"must be None or a dict of node keyword arguments, got {v!r}")
    return None if v is None else dict(v)


#: every override a zoo model may accept -> its validator (a model lists the ones it accepts)
OVERRIDE_RULES = {
    "node_input_dim": _choice(NODE_INPUT_DIMS),
    "encoder_bits": _int_range(*ENCODER_BITS_RANGE),
    "flip_probability": _probability,
    "grad_stabilization": _choice(GRAD_STABILIZATION_MODES),
    "residual_init": _bool,
    "use_cuda": _bool,
    "hidden_size": _positive_int,
    "layer_widths": _widths,
    "conv_channels": _widths,
    "tau": _optional_positive,
    "regularization": _choice(REGULARIZATION_KINDS),
    "reg_weight": _non_negative,
    "node_type": _registered("node"),
    "encoder": _registered("encoder"),
    "mapping": _choice(("random", "learnable")),
    "node_kwargs": _node_kwargs,
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
)


class BaseModel(nn.Module, ABC):
    """A registered zoo model (construct with :func:`difflut.models.get_model`).

    Subclasses set the class attributes below and implement :meth:`_build_layers`,
    :meth:`fit_encoder`, :meth:`_forward_impl` and :meth:`lut_layers`; register one class
    per name with :func:`difflut.registry.register_model`.

    Submodules: ``encoder`` (fitted thresholds in buffers), the LUT layers, ``head``
    (:class:`GroupSum`); ``state_dict()`` holds the whole model.

    Shapes: ``forward(images)`` takes integer codes ``(B, *input_shape)`` and returns
    float logits ``(B, num_classes)``; :meth:`class_scores` returns int64 popcounts
    ``(B, num_classes)`` and :meth:`predict` int64 class indices ``(B,)``.

    Args:
        seed: seeds the wiring and the initial parameters (the same name, overrides and
            seed give the same model; the global torch RNG is left untouched).
        **overrides: changes to :attr:`defaults`; only the names in
            :attr:`overridable` are accepted, each checked for range.
    """

    #: the per-model hard-coded configuration (every key the model reads)
    defaults: dict[str, Any] = {}
    #: the overrides this model accepts
    overridable: tuple[str, ...] = COMMON_OVERRIDES
    input_shape: tuple[int, ...] = ()
    num_classes: int = 10
    dataset: str = ""
    task: str = ""
    input_format = InputFormat(bits=8, divisor=255.0)
    #: the Adam learning rate :func:`difflut.training.train` uses when given none
    default_lr: float = 0.03
    registry_name = "base"

    def __init__(self, seed: int = 0, **overrides):
        super().__init__()
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self.overrides = self._check_overrides(overrides)
        self.config = self._resolve_config(dict(self.defaults, **self.overrides))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build_layers()
        self.head = GroupSum(self.num_classes, self.config["tau"])
        if self.config.get("use_cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError("use_cuda=True but CUDA is not available on this machine")
            if any(node.uses_cuda_kernels for layer in self.lut_layers() for node in layer.node_modules()):
                kernels.efd_extension(required=True)
            self.cuda()

    # -- configuration -------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        """The registry name of this model (what :func:`get_model` takes)."""
        return type(self).registry_name

    def _check_overrides(self, overrides: dict) -> dict:
        checked = {}
        for key, value in overrides.items():
            if key not in self.overridable:
                raise ValueError(
                    f"unknown override {key!r} for model {self.model_name!r}; "
                    f"valid overrides: {', '.join(sorted(self.overridable))}"
                )
            try:
                checked[key] = OVERRIDE_RULES[key](value)
            except ValueError as e:
                raise ValueError(f"model {self.model_name!r}: override {key}: {e}") from None
        return checked

    def _resolve_config(self, config: dict) -> dict:
        """Derived settings: ``hidden_size`` sets the first width; ``tau=None`` -> sqrt(bits per class)."""
        widths = list(config["layer_widths"])
        hidden = config.pop("hidden_size", None)
        if hidden is not None:
            if "layer_widths" in self.overrides and "hidden_size" in self.overrides and widths[0] != hidden:
                raise ValueError(
                    f"model {self.model_name!r}: hidden_size={hidden} contradicts layer_widths={tuple(widths)}"
                )
            if len(widths) < 2:
                raise ValueError(f"model {self.model_name!r}: hidden_size needs at least two layers")
            widths[0] = hidden
        if widths[-1] % self.num_classes:
            raise ValueError(
                f"model {self.model_name!r}: the last layer width {widths[-1]} must be a multiple of "
                f"num_classes={self.num_classes} (GroupSum groups)"
            )
        config["layer_widths"] = tuple(widths)
        if config.get("tau") is None:
            config["tau"] = math.sqrt(widths[-1] // self.num_classes)
        return config

    @property
    def hidden_size(self) -> int:
        return self.config["layer_widths"][0]

    @property
    def device(self) -> torch.device:
        ref = next(iter(self.parameters()), None)
        if ref is None:
            ref = next(iter(self.buffers()))
        return ref.device

    # -- to implement ---------------------------------------------------------------------------
    @abstractmethod
    def _build_layers(self) -> None:
        """Create ``self.encoder`` and the LUT layers from ``self.config`` (under the model's seed)."""

    @abstractmethod
    def fit_encoder(self, images: torch.Tensor) -> "BaseModel":
        """Fit the encoder's thresholds on integer images ``(N, *input_shape)``; returns self."""

    @abstractmethod
    def _forward_impl(self, bits: torch.Tensor) -> torch.Tensor:
        """Encoded bits (output of :meth:`encode`) -> output bits of the last LUT layer (B, N)."""

    @abstractmethod
    def lut_layers(self) -> list[nn.Module]:
        """The LUT layers in forward order (the targets of regularisation and fault injection)."""

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Mapped floats (B, *input_shape) -> encoded bits; default: feature-major flat bits."""
        return self.encoder.encode(x, flatten=True)

    # -- the pipeline ---------------------------------------------------------------------------
    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """Check integer codes ``(B, *input_shape)`` and map them with :attr:`input_format` (float32)."""
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor of integer codes, "
                            f"got {type(images).__name__}")
        if images.is_floating_point() or images.is_complex() or images.dtype == torch.bool:
            raise InputError(
                f"{type(self).__name__} takes raw integer codes (e.g. uint8 images 0..255), got {images.dtype}; "
                f"convert floats in [0, 1] with (x * 255).round().to(torch.uint8)"
            )
        if images.dim() != 1 + len(self.input_shape) or tuple(images.shape[1:]) != self.input_shape:
            raise InputError(
                f"{type(self).__name__} expects images of shape (batch, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(images.shape)}"
            )
        try:
            return self.input_format.to_float(images).to(self.device)
        except ValueError as e:
            raise InputError(f"{type(self).__name__}: {e}") from None

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Integer images -> the encoder's bits (0./1. float32); raises NotFittedError before fit."""
        if not self.encoder.fitted:
            raise NotFittedError(f"{type(self).__name__}: call model.fit_encoder(train_images) first "
                                 f"(or load a checkpoint)")
        return self._encode(self.to_float(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Integer images (B, *input_shape) -> logits (B, num_classes); in eval, popcount / tau."""
        return self.head(self._forward_impl(self.encode(images)))

    @torch.no_grad()
    def class_scores(self, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """The hardware class scores: int64 popcounts (B, num_classes), always computed in eval mode."""
        with self._eval_mode():
            parts = [self.head.popcount(self._forward_impl(self.encode(chunk)))
                     for chunk in self._chunks(images, batch_size)]
        return torch.cat(parts) if parts else torch.empty(0, self.num_classes, dtype=torch.int64)

    def predict(self, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Class indices int64 (B,): first maximum of :meth:`class_scores` (ties -> lowest index)."""
        return self.class_scores(images, batch_size).argmax(dim=1)

    def _chunks(self, images, batch_size):
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.to_float(images[:0] if isinstance(images, torch.Tensor) else images)  # checks only
        return images.split(batch_size) if len(images) else ()  # an empty batch: an empty result

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    # -- fault injection --------------------------------------------------------------------------
    @contextlib.contextmanager
    def inject_faults(self, rate: float, seed: int = 0) -> Iterator["BaseModel"]:
        """Flip each input bit of every LUT layer with probability ``rate`` while the context is active.

        Models bit errors on the wires into each LUT layer (encoder outputs, pooled bits,
        hidden bits); the flipped bits stay binary, so eval mode still runs. Draws come from
        a CPU ``torch.Generator`` seeded with ``seed``, so a run is reproducible for a given
        batch order. ``rate=0`` is the identity.
        """
        rate = _probability(rate)
        generator = torch.Generator().manual_seed(seed)

        def flip(module, args):
            (x,) = args
            mask = (torch.rand(x.shape, generator=generator) < rate).to(x.device)
            return (torch.where(mask, 1 - x, x),)

        handles = [layer.register_forward_pre_hook(flip) for layer in self.lut_layers()] if rate > 0 else []
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    # -- training helpers -----------------------------------------------------------------------
    def get_regularization_loss(self) -> torch.Tensor:
        """``reg_weight * sum over LUT layers of layer.regularization(kind)`` (0 when kind is 'none')."""
        kind, weight = self.config["regularization"], self.config["reg_weight"]
        if kind == "none" or weight == 0:
            return torch.zeros((), device=self.device)
        return weight * sum(layer.regularization(kind) for layer in self.lut_layers())

    def count_parameters(self) -> dict[str, int]:
        """Numbers of parameter elements: ``{'total', 'trainable', 'non_trainable'}`` (buffers excluded)."""
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"total": total, "trainable": trainable, "non_trainable": total - trainable}

    @property
    def num_nodes(self) -> int:
        """LUT nodes in all layers together."""
        return sum(node.num_nodes for layer in self.lut_layers() for node in layer.node_modules())

    def get_layer_topology(self) -> list[dict[str, Any]]:
        """One dict per stage (encoder, LUT layers, pools, head) with shapes per sample.

        Shapes come from a dry run of one all-zero sample through the layers in eval mode.
        """
        stages: list[dict[str, Any]] = []
        luts = {id(m) for m in self.lut_layers()}
        names = {id(m): n for n, m in self.named_modules()}
        enc = self.encoder
        stages.append({"name": "encoder", "type": enc.registry_name, "num_bits": enc.num_bits,
                       "input": tuple(self.input_shape), "output": tuple(self.encoded_shape)})

        def record(module, args, out):
            entry = {"name": names[id(module)], "type": getattr(module, "registry_name", type(module).__name__),
                     "input": tuple(args[0].shape[1:]), "output": tuple(out.shape[1:])}
            if id(module) in luts:
                entry.update(node_type=module.node_cls.registry_name, k=module.k,
                             nodes=sum(node.num_nodes for node in module.node_modules()))
            stages.append(entry)

        hooks = [m.register_forward_hook(record) for m in self.topology_modules()]
        try:
            with torch.no_grad(), self._eval_mode():
                out = self._forward_impl(torch.zeros(1, *self.encoded_shape, device=self.device))
        finally:
            for h in hooks:
                h.remove()
        stages.append({"name": "head", "type": "groupsum", "input": tuple(out.shape[1:]),
                       "output": (self.num_classes,), "tau": self.head.tau})
        return stages

    def topology_modules(self) -> list[nn.Module]:
        """Modules listed by :meth:`get_layer_topology` (default: the LUT layers)."""
        return self.lut_layers()

    @property
    def encoded_shape(self) -> tuple[int, ...]:
        """Shape of one sample's encoded bits (the input of :meth:`_forward_impl`)."""
        return (math.prod(self.input_shape) * self.config["encoder_bits"],)

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, path, metadata: dict | None = None) -> None:
        """Save a self-contained checkpoint atomically (see :mod:`difflut.checkpoint`)."""
        from ..checkpoint import save_checkpoint

        save_checkpoint(self, path, metadata)

    def load_checkpoint(self, path, strict_config: bool = True) -> "BaseModel":
        """Load weights and encoder state saved from the same model name and configuration; returns self."""
        from ..checkpoint import load_into

        load_into(self, path, strict_config=strict_config)
        return self

    def extra_repr(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.overrides.items())
        return f"name={self.model_name!r}, seed={self.seed}" + (f", {shown}" if shown else "")

    def plain_overrides(self) -> dict:
        """The overrides as plain containers (what a checkpoint stores)."""
        return to_plain(self.overrides, "overrides")
