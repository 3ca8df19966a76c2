"""Image batches as users have them -> the integer codes a model (and its hardware) takes.

:func:`as_codes` is the one conversion every model entry point uses (``fit_encoder``, ``forward``,
``class_scores``, ``predict``, and through them ``train``, ``evaluate`` and the export's test vectors):

* **integer** tensors or numpy arrays are the codes themselves (values inside the input format's range);
* **float** tensors or arrays are accepted when every value is exactly the model-side value of a code,
  ``x == float32(code) / divisor + offset`` up to float32 rounding (``torchvision``'s ``ToTensor``
  gives ``uint8 / 255``, which is exactly such a value); the code is ``round((x - offset) * divisor)``.
  Any other float (normalised data, blurred or resized images) has no hardware code and is refused
  with the reason;
* **shapes**: ``(B, *input_shape)``, the same with singleton dimensions added or removed (MNIST
  ``(B, 1, 28, 28)``), or flattened ``(B, prod(input_shape))`` in row-major order (``Tensor.flatten(1)``);
  a model with a flat ``input_shape = (F,)`` takes any sample shape of F values, flattened row-major.

Bool and complex data are refused.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from ..input_format import InputFormat

#: how far a float may sit from its code's value: a few float32 ulps relative, far below half a code step
_REL_TOLERANCE = 2.0 ** -20


def _as_tensor(images, who: str) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images
    if isinstance(images, np.ndarray):
        if images.dtype == object or images.dtype.kind not in "biuf":
            raise InputError(f"{who}: cannot take a numpy array of dtype {images.dtype}; pass integer codes "
                             f"(e.g. uint8 images) or floats in the input format's range")
        return torch.from_numpy(np.array(images, copy=True) if not images.flags.writeable
                                else np.ascontiguousarray(images))
    raise TypeError(f"{who} expects a torch.Tensor or numpy array of images, got {type(images).__name__}")


def _same_without_singletons(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return tuple(s for s in a if s != 1) == tuple(s for s in b if s != 1)


def _reshape(x: torch.Tensor, input_shape: tuple[int, ...], who: str) -> torch.Tensor:
    sample = tuple(x.shape[1:])
    if x.dim() >= 1 and sample != input_shape:
        flat = math.prod(input_shape)
        same_count = math.prod(sample) == flat
        if same_count and (sample == (flat,) or len(input_shape) == 1
                           or _same_without_singletons(sample, input_shape)):
            return x.reshape(x.shape[0], *input_shape)
    if x.dim() < 1 or sample != input_shape:
        dims = ", ".join(map(str, input_shape))
        raise InputError(f"{who} expects images of shape (batch, {dims}) (or (batch, {math.prod(input_shape)}) "
                         f"flattened), got {tuple(x.shape)}")
    return x


def _float_to_codes(x: torch.Tensor, fmt: InputFormat, who: str) -> torch.Tensor:
    if x.numel() == 0:
        return torch.zeros(x.shape, dtype=torch.int64, device=x.device)
    x64 = x.detach().to(torch.float64)
    if not torch.isfinite(x64).all():
        raise InputError(f"{who}: the images hold NaN or infinite values")
    lo_value, hi_value = float(fmt.to_float(torch.tensor(fmt.min_code))), float(fmt.to_float(torch.tensor(fmt.max_code)))
    lo, hi = float(x64.min()), float(x64.max())
    span = f"[{lo_value:g}, {hi_value:g}]"
    if lo < lo_value - 1e-6 or hi > hi_value + 1e-6:
        if lo < lo_value:
            hint = ("they look normalised (e.g. transforms.Normalize(mean, std)): undo it with x * std + mean, "
                    "or leave Normalize out (the encoder learns its own thresholds)")
        elif float(x64.frac().abs().max()) == 0:
            hint = "whole numbers above the range look like raw codes stored as floats: pass x.to(torch.uint8)"
        else:
            hint = "the hardware input has no code for them"
        raise InputError(f"{who}: float images must lie in {span}, the values of the model's "
                         f"{fmt.bits}-bit input codes (x = code / {fmt.divisor:g}{' + ' + format(fmt.offset, 'g') if fmt.offset else ''}); "
                         f"got values in [{lo:g}, {hi:g}]: {hint}")
    codes = torch.round((x64 - fmt.offset) * fmt.divisor).clamp(fmt.min_code, fmt.max_code).to(torch.int64)
    exact = fmt.to_float(codes.cpu()).to(torch.float64).to(x.device)
    off = (x64 - exact).abs() > _REL_TOLERANCE * exact.abs().clamp(min=1.0)
    if off.any():
        bad = float(x64[off][0])
        raise InputError(f"{who}: float images must hold exact multiples of 1/{fmt.divisor:g} (the values of the "
                         f"{fmt.bits}-bit input codes, as ToTensor() gives for uint8 images); {int(off.sum())} value(s) "
                         f"are not, e.g. {bad!r}: the hardware sees integer codes only. If the data was resized, "
                         f"blurred or normalised, quantise it on purpose: (x * {fmt.divisor:g}).round().to(torch.uint8)")
    return codes


def as_codes(images, input_format: InputFormat, input_shape, who: str = "model") -> torch.Tensor:
    """User images -> integer codes ``(B, *input_shape)`` of ``input_format`` (same device; int dtype kept).

    Raises :class:`~difflut.errors.InputError` naming the problem (shape, dtype, range, a float that is
    not a code's value) and TypeError for something that is not a tensor or array.
    """
    x = _as_tensor(images, who)
    input_shape = tuple(int(s) for s in input_shape)
    if x.dtype == torch.bool or x.is_complex():
        raise InputError(f"{who} takes integer codes (e.g. uint8 images 0..255) or float images in the input "
                         f"format's range, got {x.dtype}")
    x = _reshape(x, input_shape, who)
    if x.is_floating_point():
        return _float_to_codes(x, input_format, who)
    if x.numel() and (int(x.min()) < input_format.min_code or int(x.max()) > input_format.max_code):
        raise InputError(
            f"{who}: codes out of range for a {input_format.bits}-bit "
            f"{'signed' if input_format.signed else 'unsigned'} input: allowed {input_format.min_code}.."
            f"{input_format.max_code}, got {int(x.min())}..{int(x.max())}")
    return x
