"""Export backends: a registry of :class:`~difflut.hw.backends.base.Backend` classes by target name.

Built in: ``ir`` (the netlist IR as JSON), ``c`` (header-only C library + selftest) and ``verilog``
(Amaranth -> Verilog with a cocotb testbench; Amaranth is imported only when it renders). A new
backend subclasses :class:`Backend` and registers itself::

    @register_backend("synth")
    class SynthBackend(Backend): ...

Importing this package imports neither torch nor Amaranth.
"""

from __future__ import annotations

from ...registry import Registry
from .base import MANIFEST, Backend, ExportError, Option

BACKENDS = Registry("export target", builtins="difflut.hw.backends.builtin")


def register_backend(name: str):
    """Class decorator: register a backend class under the target name ``name``."""
    return BACKENDS.register(name)


def get_backend(name: str) -> Backend:
    """An instance of the backend of target ``name``; raises :class:`ExportError` for an unknown one."""
    if name not in BACKENDS:
        raise ExportError(f"unknown export target {name!r}; choose one of {', '.join(BACKENDS.names())}")
    return BACKENDS.get(name)()


def list_backends() -> list[str]:
    """The registered target names, sorted."""
    return BACKENDS.names()


__all__ = ["BACKENDS", "MANIFEST", "Backend", "ExportError", "Option", "get_backend", "list_backends",
           "register_backend"]
