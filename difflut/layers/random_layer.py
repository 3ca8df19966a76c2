"""RandomLayer: LUT nodes on fixed, seeded random wiring."""

from __future__ import annotations

import torch

from ..errors import InputError
from ..nodes.wiring import Wiring, prepare_wiring
from ..registry import register_layer
from .base import BaseLUTLayer, check_positive_int


def random_wiring(input_size: int, output_size: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """Random (output_size, k) int64 wiring: no node reads an input twice, and every input is
    read when ``output_size * k >= input_size``.

    The ``output_size * k`` slots, node-major, are filled with concatenated random
    permutations of the inputs (truncated). A node straddling two permutations
    could read an input twice; the head of the later permutation is repaired by
    swapping each clashing entry with a later, non-clashing entry of the same
    permutation, so every permutation still covers all inputs.
    """
    if k > input_size:
        raise ValueError(f"k={k} exceeds input_size={input_size}: a node cannot read {k} distinct inputs")
    slots = output_size * k
    perms = [torch.randperm(input_size, generator=generator) for _ in range(-(-slots // input_size))]
    for i in range(1, len(perms)):
        tail = (i * input_size) % k  # slots of the straddling node inside the previous permutation
        if tail == 0:
            continue
        head = k - tail
        forbidden = perms[i - 1][-tail:]
        perm = perms[i]
        clash = torch.isin(perm[:head], forbidden).nonzero().flatten()
        if clash.numel():
            free = (~torch.isin(perm[head:], forbidden)).nonzero().flatten()[: clash.numel()] + head
            perm[clash], perm[free] = perm[free].clone(), perm[clash].clone()
    return torch.cat(perms)[:slots].view(output_size, k)


def check_connections(connections, shape, input_size: int, distinct: bool) -> None:
    """ValueError unless ``connections`` is an integer tensor of ``shape`` with entries in 0..input_size-1
    (and, with ``distinct``, no row reading an input twice)."""
    if (not isinstance(connections, torch.Tensor) or connections.dtype.is_floating_point
            or connections.dtype == torch.bool or tuple(connections.shape) != tuple(shape)):
        raise ValueError(f"connections must be an integer tensor of shape {tuple(shape)}, got "
                         f"{getattr(connections, 'dtype', type(connections).__name__)} "
                         f"{tuple(getattr(connections, 'shape', ()))}")
    if connections.numel() and (int(connections.min()) < 0 or int(connections.max()) >= input_size):
        raise ValueError(f"connections must lie in 0..{input_size - 1}")
    if distinct and bool((connections.sort(1).values.diff(dim=1) == 0).any()):
        raise ValueError("connections: a node reads an input twice")


@register_layer("random")
class RandomLayer(BaseLUTLayer):
    """``output_size`` k-input nodes reading fixed random inputs.

    Shapes: ``x`` (B, input_size) -> (B, output_size).

    Wiring: buffer ``wiring`` (output_size, k) int64 from :func:`random_wiring`
    with a private generator seeded by ``seed``; node n's input j is
    ``x[:, wiring[n, j]]`` (address bit j).

    Eval: ``y[b, n] = node.truth_table()[n, sum_j x[b, wiring[n, j]] * 2**j]``,
    as 0./1. in x's dtype; x must be binary.
    """

    def __init__(self, input_size: int, output_size: int, node_type="dwn", k: int = 6, **kwargs):
        super().__init__(node_type, k, **kwargs)
        self.input_size = check_positive_int("input_size", input_size)
        self.output_size = check_positive_int("output_size", output_size)
        self.register_buffer("wiring", random_wiring(input_size, output_size, self.k, self.generator()))
        self.node = self.make_node(output_size)

    def connections(self) -> torch.Tensor:
        """(output_size, k) int64: node n's input j reads input ``connections()[n, j]``."""
        return self.wiring.clone()

    def set_connections_(self, connections: torch.Tensor) -> None:
        """Set the wiring to ``connections`` ((output_size, k) ints in ``0..input_size-1``, distinct per node)."""
        check_connections(connections, self.wiring.shape, self.input_size, distinct=True)
        with torch.no_grad():
            self.wiring.copy_(connections)

    def lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        # in training, nodes with a wired kernel (DWN) read x through the wiring without gathering it
        return self.node(x, wiring=self.prepared_wiring())

    def prepared_wiring(self) -> Wiring:
        """:func:`~difflut.nodes.wiring.prepare_wiring` of ``wiring``, cached until the buffer changes
        (moved, reloaded, edited in place)."""
        key = (self.wiring.data_ptr(), self.wiring._version, self.wiring.device)
        cached = self.__dict__.get("_prepared")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_prepared"] = (key, prepare_wiring(self.wiring))
        return cached[1]

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, {self.input_size}), got {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return f"{self.input_size} -> {self.output_size}, " + super().extra_repr()
