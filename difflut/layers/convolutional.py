"""ConvolutionalLayer: a tree of LUTs per output channel, slid over the image like a convolution."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..nodes.base import BaseNode
from ..registry import register_layer
from .base import BaseLUTLayer, check_positive_int
from .random_layer import random_wiring


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair)
    ):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(pair)


class UnrolledLevel(NamedTuple):
    """One level of the flat LUT network equivalent to a :class:`ConvolutionalLayer`.

    ``wires`` (M, k) int64: input j of row m reads entry ``wires[m, j]`` of the
    previous level's outputs (level 0: the flattened (C, H, W) input, where
    ``-1`` is the constant 0 of zero padding). ``node_index`` (M,) int64: row m
    is the LUT ``node.truth_table()[node_index[m]]``.
    """

    wires: torch.Tensor
    node_index: torch.Tensor
    node: BaseNode


@register_layer("convolutional")
class ConvolutionalLayer(BaseLUTLayer):
    """Convolution-like LUT layer: each output channel is a depth-``tree_depth`` tree of LUTs.

    Shapes: ``x`` (B, in_channels, H, W) -> (B, out_channels, H', W') with
    ``H' = (H + 2 * padding - kernel_h) // stride + 1`` (same for W).

    At every output position, output channel o (in group
    ``g = o // (out_channels // groups)``) sees the zero-padded patch of input
    channels ``g*Cg .. (g+1)*Cg - 1`` (``Cg = in_channels // groups``) x
    kernel_h x kernel_w, flattened channel-major as ``torch.nn.functional.unfold``.
    Level 0 has ``k**(tree_depth-1)`` nodes per channel, each reading k distinct
    patch bits chosen by buffer ``wiring`` (seeded, see :func:`random_wiring`;
    per channel every patch bit is read when the level has enough inputs).
    Level l+1 node m of channel o combines level-l nodes ``m*k .. m*k+k-1`` of
    the same channel (node j = address bit j); the single root node is the
    channel's output bit. Node modules ``levels[l]`` hold
    ``out_channels * k**(tree_depth-1-l)`` nodes, channel-major, and are shared
    by all positions.

    Eval: exactly the flat LUT network of :meth:`unrolled` on binary input.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        groups: int = 1,
        tree_depth: int = 2,
        node_type="dwn",
        k: int = 6,
        **kwargs,
    ):
        super().__init__(node_type, k, **kwargs)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.groups = check_positive_int("groups", groups)
        self.tree_depth = check_positive_int("tree_depth", tree_depth)
        self.kernel_size = _pair("kernel_size", kernel_size, 1)
        self.stride = _pair("stride", stride, 1)
        self.padding = _pair("padding", padding, 0)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        group_patch = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        if self.k > group_patch:
            raise ValueError(
                f"k={self.k} exceeds the {group_patch} bits of a group's receptive field "
                f"({in_channels // groups} channel(s) x {self.kernel_size[0]} x {self.kernel_size[1]})"
            )
        leaves = self.k ** (tree_depth - 1)
        generator = self.generator()
        per_group = out_channels // groups
        local = torch.stack([random_wiring(group_patch, leaves, self.k, generator) for _ in range(out_channels)])
        offset = (torch.arange(out_channels) // per_group * group_patch).view(-1, 1, 1)
        self.register_buffer("wiring", (local + offset).view(out_channels * leaves, self.k))
        self.levels = nn.ModuleList(
            self.make_node(out_channels * self.k ** (tree_depth - 1 - level), stream=level)
            for level in range(tree_depth)
        )

    def node_modules(self) -> list[BaseNode]:
        return list(self.levels)

    def output_hw(self, input_hw) -> tuple[int, int]:
        """(H', W') for an (H, W) input; raises if the padded input is smaller than the kernel."""
        size = tuple((n + 2 * p - kk) // s + 1 for n, p, kk, s in zip(input_hw, self.padding, self.kernel_size, self.stride))
        if min(size) < 1:
            raise InputError(
                f"input of spatial size {tuple(input_hw)} with padding {self.padding} is smaller than "
                f"kernel_size {self.kernel_size}"
            )
        return size

    def lut_forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        out_h, out_w = self.output_hw(x.shape[2:])
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        positions = cols.shape[2]
        h = cols.index_select(1, self.wiring.view(-1)).transpose(1, 2).reshape(batch * positions, -1, self.k)
        h = self.levels[0](h)
        for node in self.levels[1:]:
            h = node(h.view(batch * positions, -1, self.k))
        return h.view(batch, out_h, out_w, self.out_channels).permute(0, 3, 1, 2)

    def unrolled(self, input_hw) -> list[UnrolledLevel]:
        """The equivalent flat LUT network for an (H, W) input, one :class:`UnrolledLevel` per tree level.

        Rows of every level are ordered (node, position): row ``n * P + p`` is
        node n at output position p (``P = H' * W'``, row-major), so the last
        level's outputs are the flattened (out_channels, H', W') output.
        """
        height, width = _pair("input_hw", input_hw, 1)
        self.output_hw((height, width))
        device = self.wiring.device
        flat = torch.arange(1, self.in_channels * height * width + 1, dtype=torch.float64, device=device)
        patches = F.unfold(flat.view(1, self.in_channels, height, width), self.kernel_size,
                           padding=self.padding, stride=self.stride)[0].to(torch.int64) - 1  # (C*kh*kw, P)
        positions = patches.shape[1]
        num_leaves = self.wiring.shape[0]
        wires = patches[self.wiring.view(-1)].view(num_leaves, self.k, positions).transpose(1, 2)
        levels = [UnrolledLevel(wires.reshape(-1, self.k), self._rows(num_leaves, positions), self.levels[0])]
        pos = torch.arange(positions, device=device).view(1, -1, 1)
        inputs = torch.arange(self.k, device=device).view(1, 1, -1)
        for node in self.levels[1:]:
            n = node.num_nodes
            child = torch.arange(n, device=device).view(-1, 1, 1) * self.k + inputs
            levels.append(UnrolledLevel((child * positions + pos).reshape(-1, self.k), self._rows(n, positions), node))
        return levels

    def _rows(self, num_nodes: int, positions: int) -> torch.Tensor:
        return torch.arange(num_nodes, device=self.wiring.device).repeat_interleave(positions)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        self.output_hw(x.shape[2:])

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, groups={self.groups}, tree_depth={self.tree_depth}, " + super().extra_repr()
        )
