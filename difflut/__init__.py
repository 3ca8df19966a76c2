"""DiffLUT: differentiable look-up-table networks and their hardware toolchain.

``import difflut`` loads no torch: the errors, :class:`InputFormat` and the registries
load now; the model side (models, layers, nodes, encoders, training; all torch) loads
on first use of one of its names (PEP 562 module ``__getattr__``).
"""

import importlib

__version__ = "0.1.0"

from .errors import DiffLUTError, InputError, NotFittedError
from .input_format import InputFormat
from .registry import (
    get_encoder,
    get_layer,
    get_node,
    list_encoders,
    list_layers,
    list_nodes,
    register_encoder,
    register_layer,
    register_model,
    register_node,
)

#: public names defined in a torch-using submodule -> that submodule (imported on first access)
_LAZY_NAMES = {
    "BaseModel": "models",
    "get_model": "models",
    "list_models": "models",
    "load": "models",
    "evaluate": "training",
    "train": "training",
    "GroupSum": "layers",
}
#: submodules reachable as attributes (``difflut.models``), imported on first access
_SUBMODULES = ("augment", "bits", "checkpoint", "encoders", "hw", "kernels", "layers", "models", "nodes",
               "regularizers", "resources", "training")

__all__ = [
    "__version__",
    "BaseModel",
    "evaluate",
    "get_model",
    "list_models",
    "load",
    "register_model",
    "train",
    "DiffLUTError",
    "GroupSum",
    "InputError",
    "InputFormat",
    "NotFittedError",
    "encoders",
    "get_encoder",
    "get_layer",
    "get_node",
    "layers",
    "list_encoders",
    "list_layers",
    "list_nodes",
    "nodes",
    "register_encoder",
    "register_layer",
    "register_node",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_SUBMODULES))
