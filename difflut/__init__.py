"""DiffLUT: differentiable look-up-table networks and their hardware toolchain."""

__version__ = "0.1.0"

from . import encoders, layers, nodes
from .errors import DiffLUTError, InputError, NotFittedError
from .input_format import InputFormat
from .layers import GroupSum
from .models import BaseModel, get_model, list_models, load
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
from .training import evaluate, train

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
