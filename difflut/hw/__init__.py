"""Hardware toolchain: the netlist IR, lowering, passes, the reference evaluator and the backends.

The hardware core (``ir``, ``encoder_form``, ``passes``, ``evaluate``, ``c_header``) imports
without torch; ``lower`` and ``LoweringError`` (torch) load on first access (PEP 562). As
before, ``difflut.hw.lower`` is the function :func:`~difflut.hw.lower.lower`, also after
``import difflut.hw.lower`` (the module is ``sys.modules["difflut.hw.lower"]``).
"""

import importlib
import sys
import types

from .evaluate import evaluate_ir
from .ir import CONST0, CONST1, IR_VERSION, IRError, LUTLayer, NetlistIR, load_ir, save_ir
from .passes import optimize

#: public names defined in difflut.hw.lower (torch), imported on first access
_LOWERING_NAMES = ("LoweringError", "lower", "lower_layers")

__all__ = ["CONST0", "CONST1", "IR_VERSION", "IRError", "LUTLayer", "LoweringError", "NetlistIR", "evaluate_ir",
           "load_ir", "lower", "lower_layers", "optimize", "save_ir"]


def __getattr__(name: str):
    if name not in _LOWERING_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.lower"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LOWERING_NAMES))


class _Package(types.ModuleType):
    """difflut.hw: the import system's ``setattr(difflut.hw, "lower", <module>)`` after loading
    the submodule is ignored, so the attribute stays the function ``lower``."""

    def __setattr__(self, name, value):
        if name == "lower" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
