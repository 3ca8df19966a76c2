"""LUT layers (registered with :func:`difflut.registry.register_layer`) and the GroupSum head."""

from .base import BaseLUTLayer
from .bit_flip import BitFlip
from .convolutional import ConvolutionalLayer, UnrolledLevel
from .grad_stabilization import GRAD_STABILIZATION_MODES, GradientStabilization
from .groupsum import GroupSum
from .learnable_layer import LearnableLayer
from .random_layer import RandomLayer, random_wiring

__all__ = [
    "GRAD_STABILIZATION_MODES",
    "BaseLUTLayer",
    "BitFlip",
    "ConvolutionalLayer",
    "GradientStabilization",
    "GroupSum",
    "LearnableLayer",
    "RandomLayer",
    "UnrolledLevel",
    "random_wiring",
]
