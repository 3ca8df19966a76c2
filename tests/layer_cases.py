"""Layer fixtures shared by tests/test_layers.py and tests/test_training_features.py: one LayerCase
per registered layer (how to build it, its shapes, a plain reference of its eval function, the bit
each output reads on input 0), the node types to run them with (every registered node plus the
unregistered TableNode) and random binary inputs. Not a test file (pytest does not collect it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from difflut.bits import address
from difflut.layers import ConvolutionalLayer, LearnableLayer, RandomLayer
from difflut.nodes.base import BaseNode
from difflut.registry import get_layer, get_node, list_nodes


class TableNode(BaseNode):
    """Unregistered test node: scores per corner; training output is the multilinear
    expectation of ``sigmoid(scores)`` under independent input bits (deterministic)."""

    def __init__(self, num_nodes: int, k: int):
        super().__init__(num_nodes, k)
        self.scores = nn.Parameter(torch.randn(num_nodes, 1 << k))

    def corner_scores(self) -> torch.Tensor:
        return self.scores

    def train_forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.corners(x.dtype)  # (2**k, k)
        xe = x.unsqueeze(2)  # (B, N, 1, k)
        probs = (xe * c + (1 - xe) * (1 - c)).prod(-1)  # (B, N, 2**k)
        return (probs * torch.sigmoid(self.scores).to(x.dtype)).sum(-1)

    def residual_init_(self, input_index: int = 0) -> None:
        with torch.no_grad():
            self.scores.copy_((4 * (2 * self.corners()[:, input_index] - 1)).expand_as(self.scores))


NODE_TYPES = list_nodes() + [TableNode]


def node_id(node_type) -> str:
    return node_type if isinstance(node_type, str) else node_type.__name__


def node_cls(node_type):
    return get_node(node_type) if isinstance(node_type, str) else node_type


def k_for(node_type) -> int:
    supported = node_cls(node_type).supported_k
    if supported is None:
        return 3
    return 3 if 3 in supported else min(supported)


def lookup(node: BaseNode, rows: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Plain table lookup: bits (..., M, k) at node rows (M,) -> (..., M) bool."""
    return node.truth_table()[rows, address(bits)]


def flat_reference(layer, x: torch.Tensor) -> torch.Tensor:
    """Eval output of a flat layer from its connections and truth tables."""
    bits = x[:, layer.connections()]  # (B, N, k)
    return lookup(layer.node, torch.arange(layer.output_size), bits).to(x.dtype)


def run_unrolled(layer: ConvolutionalLayer, x: torch.Tensor) -> torch.Tensor:
    """Evaluate ``layer.unrolled`` with plain lookups: (B, C, H, W) -> (B, C_out, H', W')."""
    values = x.flatten(1)  # (B, C*H*W)
    for level in layer.unrolled(x.shape[2:]):
        wires = level.wires
        bits = torch.where(wires >= 0, values[:, wires.clamp(min=0)], torch.zeros((), dtype=x.dtype))
        values = lookup(level.node, level.node_index, bits).to(x.dtype)
    out_h, out_w = layer.output_hw(x.shape[2:])
    return values.view(x.shape[0], layer.out_channels, out_h, out_w)


def flat_input_0(layer, x: torch.Tensor) -> torch.Tensor:
    """The bit each node reads on its input 0."""
    return x[:, layer.connections()[:, 0]]


def conv_input_0(layer: ConvolutionalLayer, x: torch.Tensor) -> torch.Tensor:
    """Root output of a pass-through tree: the first leaf's input 0 of every channel."""
    cols = F.unfold(x, layer.kernel_size, padding=layer.padding, stride=layer.stride)
    leaves = layer.k ** (layer.tree_depth - 1)
    first = layer.wiring[::leaves, 0]  # (C_out,)
    out_h, out_w = layer.output_hw(x.shape[2:])
    return cols[:, first].view(x.shape[0], layer.out_channels, out_h, out_w)


@dataclass
class LayerCase:
    make: Callable[..., nn.Module]
    input_shape: tuple
    output_shape: tuple
    reference: Callable
    input_0: Callable


LAYER_CASES = {
    "random": LayerCase(
        make=lambda node_type, k, **kw: RandomLayer(20, 12, node_type=node_type, k=k, **kw),
        input_shape=(20,),
        output_shape=(12,),
        reference=flat_reference,
        input_0=flat_input_0,
    ),
    "learnable": LayerCase(
        make=lambda node_type, k, **kw: LearnableLayer(20, 12, node_type=node_type, k=k, **kw),
        input_shape=(20,),
        output_shape=(12,),
        reference=flat_reference,
        input_0=flat_input_0,
    ),
    "grouped": LayerCase(
        make=lambda node_type, k, **kw: get_layer("grouped")(20, 12, 2, node_type=node_type, k=k, **kw),
        input_shape=(20,),
        output_shape=(12,),
        reference=flat_reference,
        input_0=flat_input_0,
    ),
    "convolutional": LayerCase(
        make=lambda node_type, k, **kw: ConvolutionalLayer(
            4, 4, 3, stride=2, padding=1, groups=2, tree_depth=2, node_type=node_type, k=k, **kw
        ),
        input_shape=(4, 7, 6),
        output_shape=(4, 4, 3),
        reference=run_unrolled,
        input_0=conv_input_0,
    ),
}


def binary(shape, seed=0) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=torch.Generator().manual_seed(seed)).float()
