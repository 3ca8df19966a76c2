"""BitSelect: a fixed choice of input bits (no logic; a renaming of wires in hardware)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .base import check_positive_int


class BitSelect(nn.Module):
    """``y = x[:, index]``: (B, N) -> (B, size), ``index`` an int64 buffer (size,) of distinct inputs.

    Used after an encoder with a per-feature bit budget (``variance_thermometer``): ``index`` lists
    the encoder bits that carry a threshold, so the LUT layers never see the constant ones. The
    buffer is set by :meth:`set_index` (the model does it after fitting the encoder) and is part of
    the ``state_dict``. Eval = train; hardware: wires, no LUTs.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = check_positive_int("size", size)
        self.register_buffer("index", torch.arange(size, dtype=torch.int64))

    def set_index(self, index: torch.Tensor, input_size: int) -> None:
        """Select ``index`` (int64 (size,), distinct, each < input_size)."""
        index = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        if index.numel() != self.size:
            raise ValueError(f"BitSelect({self.size}) needs {self.size} indices, got {index.numel()}")
        if index.min() < 0 or index.max() >= input_size or index.unique().numel() != index.numel():
            raise ValueError(f"BitSelect indices must be distinct and in 0..{input_size - 1}")
        self.index = index.to(self.index.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the range check reads the index on the host: not inside a CUDA-graph capture (its warm-up checked)
        capturing = x.is_cuda and torch.cuda.is_current_stream_capturing()
        if x.dim() != 2 or (not capturing and x.shape[1] <= int(self.index.max())):
            raise InputError(f"BitSelect expects (batch, N) with N > {int(self.index.max())}, got {tuple(x.shape)}")
        return x.index_select(1, self.index)

    def extra_repr(self) -> str:
        return f"size={self.size}"
