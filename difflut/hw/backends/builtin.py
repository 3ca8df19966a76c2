"""Importing this module registers the built-in backends (the registry imports it on first look-up)."""

from . import c, ir, verilog  # noqa: F401
