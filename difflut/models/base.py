"""BaseModel: a model = input format -> encoder -> LUT stages -> GroupSum.

A zoo model takes the raw integer codes the hardware sees (uint8 images for
MNIST and CIFAR-10), maps them to floats with its :class:`~difflut.InputFormat`
(``x = float32(code) / 255``), encodes them to bits with a fitted encoder, runs
its LUT layers and sums groups of output bits into class scores.

Eval semantics (``model.eval()``): every stage is a pure function of bits, so
the hardware reproduces the model exactly. The class score of class c is the
popcount of its group of output bits (:meth:`BaseModel.class_scores`), the
logits are ``popcount / tau`` and the prediction is the first maximum
(:meth:`BaseModel.predict`, ties go to the lowest class index).

Inputs: integer codes, or float images whose values are exactly the codes' values (uint8 / 255,
as ``ToTensor()`` gives), as torch tensors or numpy arrays, ``(B, *input_shape)``, with singleton
dimensions or flattened: one conversion, :func:`difflut.models.inputs.as_codes`, for every entry
point. Any other float (normalised data, ...) has no hardware code and is refused with an
:class:`~difflut.errors.InputError` that says why.

Configuration (overrides, their validators, shared defaults) lives in :mod:`difflut.models.config`.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from abc import ABC, abstractmethod
from typing import Any, Iterator

import torch
from torch import nn

from .. import kernels
from ..errors import NotFittedError
from ..input_format import InputFormat
from ..layers import BitSelect, GroupSum
from ..layers.base import BaseLUTLayer
from ..layers.learnable_layer import LearnableLayer
from ..plain import to_plain
from ..registry import MODELS
from .config import COMMON_DEFAULTS, COMMON_OVERRIDES, check_overrides, is_int, probability, resolve_widths
from .inputs import as_codes

class BaseModel(nn.Module, ABC):
    """A DiffLUT model: input format -> encoder -> LUT stages -> GroupSum (zoo models: :func:`get_model`).

    A model *declares* its function, and the lowering to hardware reads the declaration:

    * ``self.encoder`` (a registered encoder) and :attr:`encoder_layout`: ``"flat"`` (the encoder is
      fitted per input feature, bits are feature-major flat, ``(B, prod(input_shape) * n)``) or
      ``"channels"`` (inputs ``(C, H, W)``, one set of thresholds per channel shared by all
      positions, bits ``(B, C * n, H, W)`` with channel ``c * n + j`` = bit j of colour c);
    * :meth:`stages`: the modules applied in order to the encoded bits (registered LUT layers,
      :class:`~difflut.models.cifar10.OrPool2d`, ``nn.Flatten``);
    * ``self.head``: the :class:`GroupSum` (built here from ``config["tau"]``).

    Subclasses set the class attributes below and implement :meth:`_build_layers` (create the
    encoder and the layers from ``self.config``) and :meth:`stages`; forward, fitting, fault injection
    and lowering follow from them. Register a zoo model with :func:`difflut.registry.register_model`;
    an unregistered subclass works too (its checkpoints name its class, see :mod:`difflut.checkpoint`).

    Inputs: images as :func:`difflut.models.inputs.as_codes` takes them (integer codes, or floats that are
    exactly the codes' values such as ``ToTensor()`` output, numpy arrays, singleton or flat shapes).
    Shapes: ``forward(images)`` returns float logits ``(B, num_classes)``; :meth:`class_scores` int64
    popcounts ``(B, num_classes)`` and :meth:`predict` int64 class indices ``(B,)``.

    Args:
        seed: seeds the wiring and the initial parameters (the same name, overrides and
            seed give the same model; the global torch RNG is left untouched).
        name, input_size, num_classes: for a model that is not registered, its name and its input and
            class counts (``input_size`` sets ``input_shape = (input_size,)`` unless the class declares
            a shape with that many features); each must agree with the class attribute when both exist.
        **overrides: changes to :attr:`defaults`; only the names in
            :attr:`overridable` are accepted, each checked for range.
    """

    #: the per-model hard-coded configuration (every key the model reads)
    defaults: dict[str, Any] = COMMON_DEFAULTS
    #: the overrides this model accepts
    overridable: tuple[str, ...] = COMMON_OVERRIDES
    input_shape: tuple[int, ...] = ()
    num_classes: int = 10
    dataset: str = ""
    task: str = ""
    input_format = InputFormat(bits=8, divisor=255.0)
    #: how the encoder's bits are laid out: "flat" or "channels" (see the class docstring)
    encoder_layout: str = "flat"
    #: the Adam learning rate :func:`difflut.training.train` uses when given none
    default_lr: float = 0.03
    registry_name = "base"

    def __init__(self, seed: int = 0, *, name: str | None = None, input_size: int | None = None,
                 num_classes: int | None = None, **overrides):
        super().__init__()
        if not is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._name = self._check_name(name)
        self._check_sizes(input_size, num_classes)
        if self.encoder_layout not in ("flat", "channels"):
            raise ValueError(f"{type(self).__name__}.encoder_layout must be 'flat' or 'channels', "
                             f"got {self.encoder_layout!r}")
        self.seed = seed
        self.overrides = check_overrides(self.model_name, self.overridable, overrides)
        self.config = self._resolve_config(dict(self.defaults, **self.overrides))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build_layers()
        first = next((s for s in self.stages() if not isinstance(s, BitSelect)), None)
        if isinstance(first, LearnableLayer):
            first.binary_input = True  # it reads the encoder's bits (a BitSelect before it only picks wires)
        if self.config.get("tau") is None:
            raise ValueError(f"model {self.model_name!r}: set tau in defaults (or layer_widths, from which "
                             f"tau = sqrt(bits per class) follows)")
        self.head = GroupSum(self.num_classes, self.config["tau"])
        use_cuda = self.config.get("use_cuda")
        if use_cuda:  # True: the GPU and its kernels when available; "require": an error otherwise
            strict = use_cuda == "require"
            if not torch.cuda.is_available():
                if strict:
                    raise RuntimeError("use_cuda='require' but CUDA is not available on this machine")
                warnings.warn("use_cuda=True but CUDA is not available on this machine: the model stays on the "
                              "CPU (torch ops); use_cuda='require' makes this an error", RuntimeWarning, stacklevel=3)
            else:
                if any(node.uses_cuda_kernels for layer in self.lut_layers() for node in layer.node_modules()):
                    kernels.efd_extension(required=strict)  # not strict: a failed build warns, torch ops run
                self.cuda()

    # -- configuration -------------------------------------------------------------------------
    def _registered_name(self) -> str | None:
        name = type(self).registry_name
        return name if name in MODELS and MODELS.get(name) is type(self) else None

    def _check_name(self, name) -> str:
        registered = self._registered_name()
        if name is None:
            return registered or type(self).__name__
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if registered is not None and name != registered:
            raise ValueError(f"{type(self).__name__} is registered as {registered!r}, not {name!r}")
        return name

    def _check_sizes(self, input_size, num_classes) -> None:
        if num_classes is not None:
            if not is_int(num_classes) or num_classes < 1:
                raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
            if type(self).num_classes != num_classes and "num_classes" in _declared(type(self)):
                raise ValueError(f"{type(self).__name__} declares num_classes={type(self).num_classes}, "
                                 f"got num_classes={num_classes}")
            self.num_classes = num_classes
        if input_size is not None:
            if not is_int(input_size) or input_size < 1:
                raise ValueError(f"input_size must be a positive int, got {input_size!r}")
            if self.input_shape and math.prod(self.input_shape) != input_size:
                raise ValueError(f"{type(self).__name__} declares input_shape={tuple(self.input_shape)} "
                                 f"({math.prod(self.input_shape)} features), got input_size={input_size}")
            if not self.input_shape:
                self.input_shape = (input_size,)
        if not self.input_shape:
            raise ValueError(f"{type(self).__name__}: declare input_shape (class attribute) or pass input_size")

    @property
    def model_name(self) -> str:
        """The model's name: its registry name (what :func:`get_model` takes), or the given ``name``."""
        return self._name

    def _resolve_config(self, config: dict) -> dict:
        """Derived settings: ``hidden_size`` sets the first width; ``tau=None`` -> sqrt(bits per class)."""
        return resolve_widths(self.model_name, config, self.overrides, self.num_classes)

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
    def stages(self) -> list[nn.Module]:
        """The modules applied in order to the encoded bits (a module may appear more than once)."""

    def lut_layers(self) -> list[nn.Module]:
        """The LUT layers in forward order (the targets of regularisation and fault injection)."""
        return [stage for stage in self.stages() if isinstance(stage, BaseLUTLayer)]

    def fit_encoder(self, images) -> "BaseModel":
        """Fit the encoder's thresholds on ``images`` (N, *input_shape) (per feature, or per channel over
        all positions with ``encoder_layout="channels"``); returns self. With the override
        ``encoder_code_step=S`` the thresholds then move onto the input codes' grid of S
        (:meth:`~difflut.encoders.base.BaseEncoder.snap_to_code_grid_`: cheaper comparators in hardware)."""
        x = self.to_float(images)
        if self.encoder_layout == "channels":
            x = x.movedim(1, -1).reshape(-1, self.input_shape[0])
        self.encoder.fit(x)
        step = self.config.get("encoder_code_step")
        if step is not None:
            self.encoder.snap_to_code_grid_(self.input_format, step)
        return self

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Mapped floats (B, *input_shape) -> encoded bits in :attr:`encoder_layout`."""
        if self.encoder_layout == "flat":
            return self.encoder.encode(x, flatten=True)
        b, c, h, w = x.shape
        bits = self.encoder.encode(x.permute(0, 2, 3, 1).reshape(-1, c), flatten=False)  # (B*H*W, C, n)
        return bits.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()  # channel c*n + j

    def _forward_impl(self, bits: torch.Tensor) -> torch.Tensor:
        """Encoded bits -> output bits of the last stage, flattened (B, N)."""
        for stage in self.stages():
            bits = stage(bits)
        return bits.flatten(1)

    # -- the pipeline ---------------------------------------------------------------------------
    def to_codes(self, images) -> torch.Tensor:
        """User images -> integer codes ``(B, *input_shape)`` (:func:`~difflut.models.inputs.as_codes`)."""
        return as_codes(images, self.input_format, self.input_shape, type(self).__name__)

    def to_float(self, images) -> torch.Tensor:
        """Images -> codes -> the model-side floats of :attr:`input_format` (float32, on the model's device)."""
        return self.input_format.to_float(self.to_codes(images)).to(self.device)

    def encode(self, images) -> torch.Tensor:
        """Images -> the encoder's bits (0./1. float32); raises NotFittedError before fit."""
        if not self.encoder.fitted:
            raise NotFittedError(f"{type(self).__name__}: call model.fit_encoder(train_images) first "
                                 f"(or load a checkpoint)")
        return self._encode(self.to_float(images))

    def forward(self, images) -> torch.Tensor:
        """Images (B, *input_shape) -> logits (B, num_classes); in eval, popcount / tau."""
        return self.head(self._forward_impl(self.encode(images)))

    @torch.no_grad()
    def class_scores(self, images, batch_size: int = 1024) -> torch.Tensor:
        """The hardware class scores: int64 popcounts (B, num_classes), always computed in eval mode."""
        with self._eval_mode():
            parts = [self.head.popcount(self._forward_impl(self.encode(chunk)))
                     for chunk in self._chunks(images, batch_size)]
        return torch.cat(parts) if parts else torch.empty(0, self.num_classes, dtype=torch.int64)

    def predict(self, images, batch_size: int = 1024) -> torch.Tensor:
        """Class indices int64 (B,): first maximum of :meth:`class_scores` (ties -> lowest index)."""
        return self.class_scores(images, batch_size).argmax(dim=1)

    def _chunks(self, images, batch_size):
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        codes = self.to_codes(images)
        return codes.split(batch_size) if len(codes) else ()  # an empty batch: an empty result

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
        rate = probability(rate)
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
        """Modules listed by :meth:`get_layer_topology`: the stages (each once) except ``nn.Flatten``."""
        unique = {id(stage): stage for stage in self.stages() if not isinstance(stage, nn.Flatten)}
        return list(unique.values())

    @property
    def encoded_shape(self) -> tuple[int, ...]:
        """Shape of one sample's encoded bits (the input of :meth:`_forward_impl`)."""
        n = self.encoder.num_bits
        if self.encoder_layout == "channels":
            c, h, w = self.input_shape
            return (c * n, h, w)
        return (math.prod(self.input_shape) * n,)

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, path, metadata: dict | None = None, compact: bool = False) -> None:
        """Save a self-contained checkpoint atomically (``compact``: eval/export form; see :mod:`difflut.checkpoint`)."""
        from ..checkpoint import save_checkpoint

        save_checkpoint(self, path, metadata, compact=compact)

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


def _declared(cls: type) -> set[str]:
    """Class attributes set by ``cls`` or a subclass of BaseModel between it and BaseModel."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is BaseModel:
            break
        names.update(vars(klass))
    return names
