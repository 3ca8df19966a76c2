"""LUT node types. Each module registers its classes with :func:`difflut.registry.register_node`."""

from .base import BaseNode
from .difflogic import DiffLogicNode
from .dwn import DWNNode, DWNStableNode
from .fourier import FourierNode
from .hybrid import HybridNode
from .linear_lut import LinearLUTNode
from .neurallut import NeuraLUTNode
from .polylut import PolyLUTNode
from .probabilistic import ProbabilisticNode
from .warp import WARPNode

__all__ = [
    "BaseNode",
    "DWNNode",
    "DWNStableNode",
    "DiffLogicNode",
    "FourierNode",
    "HybridNode",
    "LinearLUTNode",
    "NeuraLUTNode",
    "PolyLUTNode",
    "ProbabilisticNode",
    "WARPNode",
]
