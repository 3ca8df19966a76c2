"""The backend interface: one class per export target, reading only the IR and the test vectors.

A backend declares its options (:class:`Option`: name, default, help, choices, a check) and
implements :meth:`Backend.render` (IR + test vectors -> ``{file name: bytes}``); it may implement
:meth:`Backend.check` (verify a written folder, e.g. compile and run the C selftest).
:meth:`Backend.validate` fills in defaults and refuses an option the backend does not take, naming it.
Register a backend with :func:`difflut.hw.backends.register_backend`; the CLI and
:func:`difflut.hw.export.export` take their targets and options from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from ...errors import DiffLUTError
from ..ir import NetlistIR
from ..vectors import TestVectors

#: the manifest every export folder holds (also the marker that lets a later export replace the folder)
MANIFEST = "export.json"


class ExportError(DiffLUTError, ValueError):
    """An export cannot be made (bad target, option or name, unwritable output, a backend mismatch)."""


@dataclass(frozen=True)
class Option:
    """One option of a backend. ``flag``: a bool switched on by ``--name`` on the command line.
    ``choices``: the allowed values. ``check(value)``: raises ValueError with a message for a bad value
    (may import what the backend needs, e.g. Amaranth: it runs only when the option is given)."""

    name: str
    default: Any
    help: str
    choices: tuple | None = None
    flag: bool = False
    check: Callable[[Any], None] | None = None

    @property
    def cli(self) -> str:
        return "--" + self.name.replace("_", "-")


class Backend:
    """Base class of the export backends (see the module docstring). Subclasses set ``name`` through
    the registry decorator, and ``description`` and ``options``."""

    registry_name: ClassVar[str]
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    @property
    def name(self) -> str:
        return self.registry_name

    def option_names(self) -> list[str]:
        return [o.name for o in self.options]

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """The full options (defaults filled in). Raises :class:`ExportError` for an option this backend
        does not take (naming it and the backend's options) or a bad value."""
        known = {o.name: o for o in self.options}
        for key in options:
            if key not in known:
                takes = f"its options: {', '.join(known)}" if known else "it takes no options"
                raise ExportError(f"option {key!r} (--{str(key).replace('_', '-')}) does not apply to target "
                                  f"{self.name!r} ({takes})")
        full = {}
        for name, opt in known.items():
            value = options.get(name, opt.default)
            if opt.choices is not None and value not in opt.choices:
                raise ExportError(f"target {self.name!r}: {name} must be one of "
                                  f"{', '.join(map(str, opt.choices))}, got {value!r}")
            if opt.check is not None:
                try:
                    opt.check(value)
                except ExportError:
                    raise
                except ValueError as e:
                    raise ExportError(f"target {self.name!r}: bad {name} {value!r}: {e}") from None
            full[name] = value
        return full

    def render(self, ir: NetlistIR, vectors: TestVectors, *, name: str, **options) -> dict[str, bytes]:
        """The files of the export of ``ir`` (``{file name: bytes}``, the manifest aside), with the test
        vectors and the validated ``options``. Same input, byte-identical output."""
        raise NotImplementedError

    #: whether :meth:`check` is implemented (``export(check=True)`` / ``--check`` needs it)
    has_check: ClassVar[bool] = False

    def check(self, folder: Path, *, name: str, **options) -> str:
        """Verify the rendered files in ``folder``; returns a report line, raises :class:`ExportError`."""
        raise ExportError(f"target {self.name!r} has no check")
