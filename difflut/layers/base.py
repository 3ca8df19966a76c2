"""BaseLUTLayer: what every LUT layer shares (node construction, training features, checks).

A layer routes its input bits to the k inputs of its nodes (subclasses define
the routing) and evaluates all nodes with one call of a node module.

Training features, active in every layer type:

* ``flip_probability``: :class:`~difflut.layers.bit_flip.BitFlip` on the layer's input bits.
* ``grad_stabilization``: :class:`~difflut.layers.grad_stabilization.GradientStabilization`
  on the layer's output, i.e. it rescales the gradient w.r.t. the output, so the
  layer's own parameters and everything upstream see the rescaled gradient.
* ``residual_init``: every node starts as a pass-through of its input 0.
* :meth:`BaseLUTLayer.regularization` (``l1``, ``l2``, ``spectral``; see :mod:`difflut.regularizers`).

Eval: no flips, no rescaling; inputs must be exactly 0 or 1 and the output is
the hardware function of the subclass (binary in, binary out).
"""

from __future__ import annotations

import torch
from torch import nn

from ..bits import check_k
from ..errors import InputError
from ..nodes.base import BaseNode
from ..regularizers import penalty
from ..registry import get_node, list_nodes
from .bit_flip import BitFlip
from .grad_stabilization import GradientStabilization

_SEED_RANGE = 1 << 63


def resolve_node_type(node_type) -> type[BaseNode]:
    """A registered node name or a :class:`BaseNode` subclass -> the class."""
    if isinstance(node_type, str):
        return get_node(node_type)
    if isinstance(node_type, type) and issubclass(node_type, BaseNode):
        return node_type
    raise TypeError(
        f"node_type must be a registered node name ({', '.join(list_nodes()) or 'none registered'}) "
        f"or a BaseNode subclass, got {node_type!r}"
    )


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class BaseLUTLayer(nn.Module):
    """Base of every LUT layer: ``forward(x) = stabilize(lut_forward(flip(x)))``.

    Subclasses define the input shape (``check_input``), the routing of input
    bits to node inputs and the node evaluation (``lut_forward``). Eval: ``flip``
    and ``stabilize`` are identities, ``x`` must be exactly 0/1 (else
    :class:`~difflut.errors.InputError`) and the output is 0./1. table lookups.

    Args:
        node_type: a registered node name (``difflut.list_nodes()``) or a BaseNode subclass.
        k: inputs per node.
        node_kwargs: extra keyword arguments of the node class.
        flip_probability: training bit-flip probability of each input bit.
        grad_stabilization: ``none`` | ``layerwise`` | ``batchwise`` | ``layerwise_mean``.
        residual_init: start every node as a pass-through of its input 0.
        seed: makes construction reproducible (wiring and node parameters); ``None``
            draws one from the global torch RNG, so ``torch.manual_seed`` fixes it too.
    """

    def __init__(
        self,
        node_type,
        k: int,
        node_kwargs: dict | None = None,
        flip_probability: float = 0.0,
        grad_stabilization: str = "none",
        residual_init: bool = False,
        seed: int | None = None,
    ):
        super().__init__()
        self.node_cls = resolve_node_type(node_type)
        self.k = check_k(k)
        if self.node_cls.supported_k is not None and k not in self.node_cls.supported_k:
            raise ValueError(f"{self.node_cls.__name__} supports k in {self.node_cls.supported_k}, got k={k}")
        if node_kwargs is None:
            node_kwargs = {}
        if not isinstance(node_kwargs, dict):
            raise TypeError(f"node_kwargs must be a dict, got {type(node_kwargs).__name__}")
        reserved = {"num_nodes", "k"} & set(node_kwargs)
        if reserved:
            raise ValueError(f"node_kwargs must not set {sorted(reserved)}; the layer sets them")
        self.node_kwargs = dict(node_kwargs)
        if not isinstance(residual_init, bool):
            raise TypeError(f"residual_init must be a bool, got {residual_init!r}")
        self.residual_init = residual_init
        if seed is None:
            seed = int(torch.randint(0, _SEED_RANGE - 1, ()))
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < _SEED_RANGE:
            raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
        self.seed = seed
        self.flip = BitFlip(flip_probability)
        self.stabilize = GradientStabilization(grad_stabilization)

    # -- construction helpers for subclasses -------------------------------
    def generator(self) -> torch.Generator:
        """The private CPU generator of the wiring, seeded with ``seed`` (independent of the global RNG)."""
        return torch.Generator().manual_seed(self.seed)

    def make_node(self, num_nodes: int, stream: int = 0) -> BaseNode:
        """``node_cls(num_nodes, k, **node_kwargs)`` built under a forked global RNG seeded with
        ``seed + 1 + stream`` (mod 2**63); then residual-initialised if requested."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed + 1 + stream) % _SEED_RANGE)
            node = self.node_cls(num_nodes=num_nodes, k=self.k, **self.node_kwargs)
        if self.residual_init:
            node.residual_init_(0)
        return node

    # -- what subclasses provide -------------------------------------------
    def node_modules(self) -> list[BaseNode]:
        """Every node module of the layer (one for flat layers)."""
        return [self.node]

    def lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Route the (already flipped) input bits to the nodes and evaluate them."""
        raise NotImplementedError(f"{type(self).__name__} does not implement lut_forward")

    def check_input(self, x: torch.Tensor) -> None:
        """Shape check of the subclass (raise :class:`InputError`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement check_input")

    # -- shared behaviour --------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.stabilize(self.lut_forward(self.flip(x)))

    def regularization(self, kind: str) -> torch.Tensor:
        """Mean over all nodes of the per-node penalty ``kind`` (``l1`` | ``l2`` | ``spectral``), a scalar."""
        return torch.cat([penalty(node.corner_scores(), kind) for node in self.node_modules()]).mean()

    def _check(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} expects a floating-point input, got {x.dtype}")
        self.check_input(x)
        if not self.training and not bool(((x == 0) | (x == 1)).all()):
            bad = x[(x != 0) & (x != 1)]
            raise InputError(
                f"{name} in eval mode takes binary inputs (0 or 1); got {bad.numel()} other value(s), "
                f"e.g. {bad.flatten()[0].item()!r}"
            )

    @property
    def flip_probability(self) -> float:
        return self.flip.p

    @property
    def grad_stabilization(self) -> str:
        return self.stabilize.mode

    def extra_repr(self) -> str:
        name = getattr(self.node_cls, "registry_name", None)
        node = name if name in list_nodes() and get_node(name) is self.node_cls else self.node_cls.__name__
        parts = [f"node_type={node!r}", f"k={self.k}", f"seed={self.seed}"]
        if self.residual_init:
            parts.append("residual_init=True")
        return ", ".join(parts)
