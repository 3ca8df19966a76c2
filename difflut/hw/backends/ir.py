"""Backend ``ir``: the netlist IR as canonical JSON (``<name>.ir.json``, read back by :func:`difflut.hw.ir.load_ir`)."""

from __future__ import annotations

from ..ir import NetlistIR
from ..names import check_name
from ..vectors import TestVectors
from . import register_backend
from .base import Backend


@register_backend("ir")
class IRBackend(Backend):
    description = "the netlist IR as JSON"

    def render(self, ir: NetlistIR, vectors: TestVectors, *, name: str) -> dict[str, bytes]:
        return {f"{check_name(name)}.ir.json": ir.to_json().encode()}
