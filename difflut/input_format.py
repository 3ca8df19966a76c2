"""The integer input format a model is fed in hardware, and its map to floats.

Hardware sees each input feature as a ``bits``-wide integer code (two's
complement when ``signed``). The model sees floats obtained by one fixed map,
computed in float32 exactly as :meth:`InputFormat.to_float` does::

    x = float32(code) / float32(divisor) + float32(offset)

The values are computed once per format on the CPU (IEEE division) and looked up per code on
every device: CUDA's ``tensor / scalar`` multiplies by the rounded reciprocal instead, which
differs in the last bit for some codes and would move a thermometer bit on the GPU.

Examples: uint8 pixels used as 0..255 -> ``InputFormat(8)``; pixels scaled to
[0, 1] -> ``InputFormat(8, divisor=255.0)``. Encoders turn this map into their
exact per-feature bit functions (``encoder.hardware_form(fmt)``) by running
every code through ``to_float`` and their own ``encode``.

The description (fields, code range, dict form) needs no torch, so the hardware
core uses it without torch; ``codes``, ``to_float`` and ``address`` import torch
when called.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

MAX_INPUT_BITS = 16

#: (format, device) -> float32 value of every code (see :meth:`InputFormat.values`)
_VALUES: dict = {}


@dataclass(frozen=True)
class InputFormat:
    bits: int = 8
    signed: bool = False
    divisor: float = 1.0
    offset: float = 0.0

    def __post_init__(self):
        if not isinstance(self.bits, int) or not 1 <= self.bits <= MAX_INPUT_BITS:
            raise ValueError(f"InputFormat.bits must be an int in 1..{MAX_INPUT_BITS}, got {self.bits!r}")
        for name in ("divisor", "offset"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"InputFormat.{name} must be a finite number, got {value!r}")
        if self.divisor == 0:
            raise ValueError("InputFormat.divisor must be non-zero")

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def num_codes(self) -> int:
        return 1 << self.bits

    def codes(self) -> torch.Tensor:
        """Every code in ascending numeric order, int64, shape (2**bits,)."""
        import torch

        return torch.arange(self.min_code, self.max_code + 1, dtype=torch.int64)

    def to_float(self, codes: torch.Tensor) -> torch.Tensor:
        """The model-side value of integer ``codes`` (any shape), float32."""
        import torch

        codes = torch.as_tensor(codes)
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise TypeError(f"codes must be an integer tensor, got dtype {codes.dtype}")
        if codes.numel() and (int(codes.min()) < self.min_code or int(codes.max()) > self.max_code):
            raise ValueError(
                f"codes out of range for a {self.bits}-bit {'signed' if self.signed else 'unsigned'} input: "
                f"allowed {self.min_code}..{self.max_code}, got {int(codes.min())}..{int(codes.max())}"
            )
        return self.values(codes.device)[codes.to(torch.int64) - self.min_code]

    def values(self, device=None) -> torch.Tensor:
        """float32 (2**bits,): the value of every code in ascending order, computed on the CPU
        (``float32(code) / float32(divisor) + float32(offset)``), then copied to ``device``."""
        import torch

        device = torch.device(device or "cpu")
        key = (self, str(device))
        if key not in _VALUES:
            x = self.codes().to(torch.float32) / torch.tensor(self.divisor, dtype=torch.float32)
            x = x + torch.tensor(self.offset, dtype=torch.float32)
            _VALUES[key] = x.to(device)
        return _VALUES[key]

    def address(self, codes: torch.Tensor) -> torch.Tensor:
        """The raw bit pattern of ``codes`` (two's complement when signed), int64 in [0, 2**bits)."""
        import torch

        return torch.as_tensor(codes, dtype=torch.int64) & (self.num_codes - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InputFormat":
        unknown = set(d) - {"bits", "signed", "divisor", "offset"}
        if unknown:
            raise ValueError(f"unknown InputFormat fields: {sorted(unknown)}")
        return cls(**d)
