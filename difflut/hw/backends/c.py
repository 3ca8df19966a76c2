"""Backend ``c``: a header-only C99 library ``<name>.h`` and ``<name>_selftest.c`` with the test vectors
(:mod:`difflut.hw.c_header`); its check compiles and runs the selftest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..c_header import generate_header, generate_selftest
from ..ir import NetlistIR
from ..names import C_MAX_LENGTH, check_name
from ..vectors import TestVectors
from . import register_backend
from .base import Backend, ExportError, Option

CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")


@register_backend("c")
class CBackend(Backend):
    description = "header-only C library + selftest"
    options = (Option("cc", "cc", "C compiler the check builds the selftest with"),)
    has_check = True

    def render(self, ir: NetlistIR, vectors: TestVectors, *, name: str, cc: str = "cc") -> dict[str, bytes]:
        name = check_name(name, max_length=C_MAX_LENGTH)
        return {f"{name}.h": generate_header(ir, name).encode(),
                f"{name}_selftest.c": generate_selftest(ir, name, vectors.codes, vectors.scores,
                                                        vectors.classes).encode()}

    def check(self, folder: Path, *, name: str, cc: str = "cc") -> str:
        """Compile ``<name>_selftest.c`` with ``cc`` and run it: its output, or :class:`ExportError` when it
        does not compile or reports a mismatch."""
        exe = Path(folder) / f".{name}_selftest"
        if shutil.which(cc) is None:
            raise ExportError(f"--check needs a C compiler: {cc!r} was not found")
        try:
            build = subprocess.run([cc, *CFLAGS, f"{name}_selftest.c", "-o", exe.name], cwd=folder,
                                   capture_output=True, text=True)
            if build.returncode:
                raise ExportError(f"the generated C does not compile with {cc}:\n{build.stderr[-4000:]}")
            run = subprocess.run([str(exe)], cwd=folder, capture_output=True, text=True)
            if run.returncode:
                raise ExportError(f"the C selftest fails:\n{run.stdout[-4000:]}")
            return run.stdout.strip()
        finally:
            if exe.exists():
                exe.unlink()
