"""Hardware toolchain: the netlist IR, lowering, the reference evaluator and the backends."""

from .ir import CONST0, CONST1, IR_VERSION, IRError, LUTLayer, NetlistIR, load_ir, save_ir

__all__ = ["CONST0", "CONST1", "IR_VERSION", "IRError", "LUTLayer", "NetlistIR", "load_ir", "save_ir"]
