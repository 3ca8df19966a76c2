"""Bit-packed evaluation of a :class:`~difflut.hw.ir.NetlistIR` on any torch device (the GPU's validation).

The same function as :func:`difflut.hw.evaluate.evaluate_ir` (the numpy reference), in torch ops, so
it runs on the GPU: samples are packed 64 to an ``int64`` word (sample ``s`` of a chunk is bit
``s % 64`` of word ``s // 64``), encoder bits are looked up in the encoder's per-code tables, every
LUT layer is a Shannon expansion of its table rows with word-wide multiplexers
``t0 ^ (x & (t0 ^ t1))``, class scores are per-sample popcounts of each class's wires and the
decision is the first maximum. Pure bit operations and integer sums: bit-exact on every device.
"""

from __future__ import annotations

import numpy as np
import torch

from .hw.evaluate import check_codes
from .hw.ir import NetlistIR

#: samples per chunk (a multiple of 64)
DEFAULT_CHUNK = 1 << 14


def _shifts(device) -> torch.Tensor:
    return torch.arange(64, dtype=torch.int64, device=device)


def pack_samples(bits: torch.Tensor) -> torch.Tensor:
    """bool (B, M) -> int64 (M, ceil(B / 64)); sample s is bit s % 64 of word s // 64."""
    b, m = bits.shape
    words = -(-b // 64)
    padded = torch.zeros((words * 64, m), dtype=torch.int64, device=bits.device)
    padded[:b] = bits
    # distinct powers of two: the (wrapping) int64 sum is their bitwise OR
    return (padded.view(words, 64, m) << _shifts(bits.device).view(1, 64, 1)).sum(1).T.contiguous()


def popcounts(words: torch.Tensor, batch: int) -> torch.Tensor:
    """int64 (G, W) -> int64 (batch,): per sample, the number of set bits over the G rows."""
    bits = (words.unsqueeze(-1) >> _shifts(words.device)) & 1  # (G, W, 64)
    return bits.sum(0).reshape(-1)[:batch]


class PackedNetlist:
    """A :class:`NetlistIR` held on ``device`` for bit-packed evaluation.

    ``class_scores(codes)``: integer codes (B, *input_shape) or (B, F) -> int64 (B, C) on ``device``,
    equal to ``evaluate_ir(ir, codes)[0]``.
    """

    def __init__(self, ir: NetlistIR, device="cpu"):
        if not isinstance(ir, NetlistIR):
            raise TypeError(f"ir must be a NetlistIR, got {type(ir).__name__}")
        self.ir, self.device = ir, torch.device(device)
        form = ir.encoder
        self.encoder_tables = torch.from_numpy(np.array(form.tables)).to(self.device)  # bool (F, n, 2**bits)
        self.code_mask = form.input_format.num_codes - 1
        rows = ir.num_wires + 2  # then CONST1 (id -2) and CONST0 (id -1)
        self.layers = []
        for layer, base in zip(ir.layers, ir.layer_bases):
            inputs = np.where(layer.inputs < 0, rows + layer.inputs, layer.inputs)
            tables = torch.from_numpy(np.array(layer.tables)).to(self.device)
            mask = lambda t: torch.where(t, -1, 0).to(torch.int64).unsqueeze(-1)  # noqa: E731 (all-ones word)
            self.layers.append((base, torch.as_tensor(inputs, device=self.device),
                                mask(tables[:, 0::2]), mask(tables[:, 1::2])))
        self.class_wires = torch.from_numpy(np.array(ir.class_wires)).to(self.device)

    def class_scores(self, codes, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
        if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 64 or chunk % 64:
            raise ValueError(f"chunk must be a positive multiple of 64, got {chunk!r}")
        if isinstance(codes, torch.Tensor):
            if codes.is_floating_point() or codes.dtype == torch.bool:
                raise TypeError(f"codes must be an integer tensor (raw input codes), got dtype {codes.dtype}")
            check_codes(self.ir, codes[:0].cpu().numpy())  # the shape; the range below, on the device
            codes = codes.to(self.device).reshape(len(codes), self.ir.num_features)
            fmt = self.ir.encoder.input_format
            if codes.numel() and (int(codes.min()) < fmt.min_code or int(codes.max()) > fmt.max_code):
                check_codes(self.ir, codes.cpu().numpy())  # raises the reference's InputError
        else:
            codes = torch.as_tensor(check_codes(self.ir, codes), device=self.device)
        parts = [self._chunk(codes[lo:lo + chunk].to(torch.int64)) for lo in range(0, len(codes), chunk)]
        return torch.cat(parts) if parts else torch.zeros(0, self.ir.num_classes, dtype=torch.int64,
                                                          device=self.device)

    def predict(self, codes, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
        """Class indices int64 (B,): first maximum of :meth:`class_scores` (ties -> lowest index)."""
        return self.class_scores(codes, chunk).argmax(1)

    def _chunk(self, codes: torch.Tensor) -> torch.Tensor:
        batch, features = codes.shape
        address = codes & self.code_mask
        bits = self.encoder_tables[torch.arange(features, device=self.device), :, address]  # (B, F, n)
        enc = pack_samples(bits.reshape(batch, -1))
        wires = torch.empty((self.ir.num_wires + 2, enc.shape[1]), dtype=torch.int64, device=self.device)
        wires[:len(enc)] = enc
        wires[-2], wires[-1] = -1, 0
        for base, inputs, t0, t1 in self.layers:
            x = wires[inputs]  # (N, k, W)
            cur = t0 ^ (x[:, 0:1] & (t0 ^ t1))  # first halving on input 0
            for j in range(1, inputs.shape[1]):
                lo, hi = cur[:, 0::2], cur[:, 1::2]
                cur = lo ^ (x[:, j:j + 1] & (lo ^ hi))
            wires[base:base + len(inputs)] = cur[:, 0]
        return torch.stack([popcounts(wires[w], batch) for w in self.class_wires], 1)


def packed_class_scores(model, images: torch.Tensor, device=None) -> torch.Tensor:
    """Hardware class scores int64 (B, C) of a zoo model on integer ``images``: the model is lowered
    (:func:`difflut.hw.lower.lower`, in eval mode) and its IR evaluated bit-packed on ``device``
    (default: the model's)."""
    from .hw.lower import lower

    with model._eval_mode():
        ir = lower(model)
    return PackedNetlist(ir, device or model.device).class_scores(images)
