"""Hardware toolchain: the netlist IR, lowering, passes, the reference evaluator and the backends."""

from .evaluate import evaluate_ir
from .ir import CONST0, CONST1, IR_VERSION, IRError, LUTLayer, NetlistIR, load_ir, save_ir
from .lower import LoweringError, lower, lower_layers
from .passes import optimize

__all__ = ["CONST0", "CONST1", "IR_VERSION", "IRError", "LUTLayer", "LoweringError", "NetlistIR", "evaluate_ir",
           "load_ir", "lower", "lower_layers", "optimize", "save_ir"]
