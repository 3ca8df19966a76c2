"""What the C header and the C selftest share: the error type, the name rule, the input type, int lists."""

from __future__ import annotations

import re

from .ir import NetlistIR

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class CBackendError(ValueError):
    """The IR cannot be emitted as C (bad name, too many classes for uint16 scores, ...)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise CBackendError(f"name must be a C identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 chars), got {name!r}")
    return name


def input_c_type(ir: NetlistIR) -> str:
    """The C type of one input code: (u)int8_t up to 8 bits, (u)int16_t up to 16."""
    fmt = ir.encoder.input_format
    width = 8 if fmt.bits <= 8 else 16
    return f"{'int' if fmt.signed else 'uint'}{width}_t"


def c_int_rows(values, per_line: int = 24, indent: str = "    ") -> str:
    """Integers as the lines of a C initialiser list (a single 0 when empty)."""
    values = [str(int(v)) for v in values]
    if not values:
        values = ["0"]
    return ",\n".join(indent + ", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line))
