"""Export names: the one place for the rules a file base name / C prefix / Verilog top name follows.

* :func:`export_name`: any text (a model name) -> an identifier: characters outside ``[A-Za-z0-9_]``
  become ``_``, and ``m_`` is put in front of a name that does not start with a letter or ``_``.
* :func:`check_name`: a name must be an identifier ``[A-Za-z_][A-Za-z0-9_]*`` (and at most ``max_length``
  characters, e.g. 63 for C); raises :class:`ExportNameError` naming the rule otherwise.
"""

from __future__ import annotations

import re

from ..errors import DiffLUTError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the longest C identifier every C99 compiler tells apart (internal identifiers: 63 significant characters)
C_MAX_LENGTH = 63


class ExportNameError(DiffLUTError, ValueError):
    """A name is not a valid identifier for an export."""


def export_name(text: str) -> str:
    """``text`` made an identifier (see the module docstring); identifiers are returned unchanged."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"^[A-Za-z_]", name) else f"m_{name}"


def check_name(name: str, *, max_length: int | None = None, what: str = "name") -> str:
    """``name`` if it is an identifier of at most ``max_length`` characters, else :class:`ExportNameError`."""
    limit = "" if max_length is None else f", at most {max_length} chars"
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or (max_length and len(name) > max_length):
        raise ExportNameError(f"{what} must be an identifier ([A-Za-z_][A-Za-z0-9_]*{limit}), got {name!r}")
    return name
