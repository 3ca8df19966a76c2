"""LUT layers (registered with :func:`difflut.registry.register_layer`) and the GroupSum head."""

from .base import BaseLUTLayer
from .bit_flip import BitFlip
from .bit_select import BitSelect
from .convolutional import ConvolutionalLayer, UnrolledLevel
from .grouped_layer import GroupedLayer
from .grad_stabilization import GRAD_STABILIZATION_MODES, GradientStabilization
from .groupsum import GroupSum
from .learnable_layer import LearnableLayer
from .random_layer import RandomLayer, random_wiring

__all__ = [
    "GRAD_STABILIZATION_MODES",
    "BaseLUTLayer",
    "BitFlip",
    "BitSelect",
    "ConvolutionalLayer",
    "GradientStabilization",
    "GroupSum",
    "GroupedLayer",
    "LearnableLayer",
    "RandomLayer",
    "UnrolledLevel",
    "random_wiring",
]
