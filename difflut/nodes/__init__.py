"""LUT node types. Each module registers its classes with :func:`difflut.registry.register_node`."""

from .base import BaseNode

__all__ = ["BaseNode"]
