"""Name -> class registries for encoders, nodes, layers and zoo models.

Components register themselves at import time::

    @register_node("dwn")
    class DWNNode(BaseNode): ...

and are looked up by name (``get_node("dwn")``). A registry imports the package of
its built-in components (``difflut.nodes`` for nodes) on its first look-up, so
look-ups see them however little of difflut was imported before. Tests are parametrised over
``list_nodes()`` / ``list_encoders()`` / ``list_layers()``, so a newly
registered component is tested as soon as it exists.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

T = TypeVar("T", bound=type)


class Registry:
    """A named collection of classes of one kind (``kind`` is used in error messages).

    ``builtins``: the module whose import registers the built-in classes; imported on the
    first look-up (``get``, ``names``, ``in``).
    """

    def __init__(self, kind: str, builtins: str | None = None):
        self.kind = kind
        self._classes: dict[str, type] = {}
        self._builtins = builtins

    def _load_builtins(self) -> None:
        if self._builtins is None:
            return
        module, self._builtins = self._builtins, None  # None first: a look-up during that import must not recurse
        try:
            importlib.import_module(module)
        except BaseException:
            self._builtins = module
            raise

    def register(self, name: str) -> Callable[[T], T]:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(cls: T) -> T:
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered to {existing.__module__}.{existing.__qualname__}"
                )
            self._classes[name] = cls
            cls.registry_name = name
            return cls

        return decorator

    def get(self, name: str) -> type:
        self._load_builtins()
        try:
            return self._classes[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._classes)

    def __contains__(self, name: str) -> bool:
        self._load_builtins()
        return name in self._classes


ENCODERS = Registry("encoder", "difflut.encoders")
NODES = Registry("node", "difflut.nodes")
LAYERS = Registry("layer", "difflut.layers")
MODELS = Registry("model", "difflut.models")


def register_encoder(name: str):
    """Class decorator: register an encoder class under ``name``."""
    return ENCODERS.register(name)


def register_node(name: str):
    """Class decorator: register a node class under ``name``."""
    return NODES.register(name)


def register_layer(name: str):
    """Class decorator: register a layer class under ``name``."""
    return LAYERS.register(name)


def register_model(name: str):
    """Class or factory decorator: register a zoo model under ``name``."""
    return MODELS.register(name)


def get_encoder(name: str) -> type:
    return ENCODERS.get(name)


def get_node(name: str) -> type:
    return NODES.get(name)


def get_layer(name: str) -> type:
    return LAYERS.get(name)


def list_encoders() -> list[str]:
    return ENCODERS.names()


def list_nodes() -> list[str]:
    return NODES.names()


def list_layers() -> list[str]:
    return LAYERS.names()
