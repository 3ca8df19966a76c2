"""LUT layers (registered with :func:`difflut.registry.register_layer`) and the GroupSum head."""

from .groupsum import GroupSum

__all__ = ["GroupSum"]
