"""Backend ``verilog``: the self-standing Verilog folder of :func:`difflut.hw.verilog.verilog_files`
(Verilog, ``params.json``, ``vectors.json``, the cocotb testbench, a README). Amaranth is imported only
when it renders or checks an option."""

from __future__ import annotations

from ..ir import NetlistIR
from ..vectors import TestVectors
from . import register_backend
from .base import Backend, ExportError, Option

LUT_STYLES = ("behavioral", "xilinx")


def _amaranth_missing(e: ImportError) -> ExportError:
    return ExportError(f"target 'verilog' needs Amaranth, which cannot be imported ({e}); install the hw extra: "
                       f"pip install 'difflut[hw]'")


def _check_pipeline(value) -> None:
    try:
        from ..rtl.pipeline import PipelinePlan
    except ImportError as e:
        raise _amaranth_missing(e) from None
    PipelinePlan.parse(value)


@register_backend("verilog")
class VerilogBackend(Backend):
    description = "Verilog (Amaranth) with its cocotb testbench"
    options = (
        Option("pipeline", "none", "none | layers | N (register cuts; see docs/verilog.md)", check=_check_pipeline),
        Option("lut_style", "behavioral", "behavioural LUTs or LUT6 primitives", choices=LUT_STYLES),
    )

    def render(self, ir: NetlistIR, vectors: TestVectors, *, name: str, pipeline="none",
               lut_style: str = "behavioral") -> dict[str, bytes]:
        try:
            from ..verilog import verilog_files
        except ImportError as e:
            raise _amaranth_missing(e) from None

        files, _ = verilog_files(ir, pipeline=pipeline, lut_style=lut_style, name=name, vectors=vectors)
        return files
