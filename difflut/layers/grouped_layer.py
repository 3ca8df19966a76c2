"""GroupedLayer: LUT nodes that read only their own class group (DWN's learnable reduction)."""

from __future__ import annotations

import torch

from ..registry import register_layer
from .base import BaseLUTLayer, check_positive_int
from .random_layer import RandomLayer, random_wiring


@register_layer("grouped")
class GroupedLayer(RandomLayer):
    """``output_size`` k-input nodes in ``groups`` contiguous groups; a node of group g reads only
    the inputs of group g.

    Shapes: ``x`` (B, input_size) -> (B, output_size); input group g is
    ``x[:, g*I:(g+1)*I]`` (``I = input_size // groups``), output group g is nodes
    ``[g*O, (g+1)*O)`` (``O = output_size // groups``).

    Put in front of a :class:`~difflut.layers.GroupSum` with ``groups = num_classes``, it replaces part
    of each class's popcount by trained LUTs (DWN's *learnable reduction*): the class's ``I`` bits are
    reduced to ``O`` bits by LUTs that learn what to count, and the popcount counts ``O`` wires.

    Wiring: buffer ``wiring`` (output_size, k) int64; group g's block is :func:`random_wiring`
    (I, O, k) with the layer's private generator, offset by ``g * I`` (no node reads an input twice,
    every input of a group is read when ``O * k >= I``).

    Eval: as :class:`RandomLayer`, ``y[b, n] = node.truth_table()[n, sum_j x[b, wiring[n, j]] * 2**j]``.
    """

    def __init__(self, input_size: int, output_size: int, groups: int, node_type="dwn", k: int = 6, **kwargs):
        BaseLUTLayer.__init__(self, node_type, k, **kwargs)
        self.input_size = check_positive_int("input_size", input_size)
        self.output_size = check_positive_int("output_size", output_size)
        self.groups = check_positive_int("groups", groups)
        if input_size % groups or output_size % groups:
            raise ValueError(f"GroupedLayer: input_size {input_size} and output_size {output_size} must both be "
                             f"multiples of groups={groups}")
        per_in, per_out = input_size // groups, output_size // groups
        gen = self.generator()
        blocks = [random_wiring(per_in, per_out, self.k, gen) + g * per_in for g in range(groups)]
        self.register_buffer("wiring", torch.cat(blocks))
        self.node = self.make_node(output_size)

    def set_connections_(self, connections: torch.Tensor) -> None:
        """As :meth:`RandomLayer.set_connections_`, and each node must read only its own group's inputs."""
        per_in, per_out = self.input_size // self.groups, self.output_size // self.groups
        if isinstance(connections, torch.Tensor) and tuple(connections.shape) == tuple(self.wiring.shape):
            group = torch.arange(self.output_size, device=connections.device).unsqueeze(1) // per_out
            if bool((connections // per_in != group).any()):
                raise ValueError("connections: a GroupedLayer node reads an input outside its group")
        super().set_connections_(connections)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, " + super().extra_repr()
