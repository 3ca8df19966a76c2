"""What the C header and the C selftest share: the error type, the name rule, the input type, int lists."""

from __future__ import annotations

from .ir import NetlistIR
from .names import ExportNameError
from .names import check_name as check_export_name

#: the longest C prefix (C99 guarantees 63 significant characters of an internal identifier)
C_MAX_LENGTH = 63


class CBackendError(ValueError):
    """The IR cannot be emitted as C (bad name, too many classes for uint16 scores, ...)."""


def check_name(name: str) -> str:
    """``name`` if it is a usable C prefix (the one name rule of :mod:`difflut.hw.names`), else CBackendError."""
    try:
        return check_export_name(name, max_length=C_MAX_LENGTH, what="C name")
    except ExportNameError as e:
        raise CBackendError(str(e)) from None


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
