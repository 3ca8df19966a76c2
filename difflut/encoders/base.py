"""The encoder contract: fitted per-feature thresholds, exact comparison-based bits.

Every DiffLUT encoder turns a float feature into ``num_bits`` bits in two steps:

1. the *level* ``q = #{j : t[f, j] < x}``: how many of feature f's fitted
   thresholds (sorted ascending) lie strictly below ``x``, found by comparisons
   only (``torch.searchsorted``), so it is exact on every device;
2. the bits of q under the encoder's code (thermometer, binary, Gray, one-hot,
   ...), computed with integer ops.

Both steps are identical in train and eval mode and are not differentiable.
Comparisons are made in the promoted dtype of ``x`` and the thresholds, which
represents both exactly. A feature that is constant in the fit data
(max == min) gets all thresholds at ``+inf``: it has level 0 for every input.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError, NotFittedError
from ..hw.encoder_form import EncoderHardwareForm
from ..input_format import InputFormat

#: output elements per chunk when :meth:`BaseEncoder.hardware_form` enumerates codes
_CHUNK_ELEMENTS = 1 << 22


def uniform_thresholds(lo: torch.Tensor, hi: torch.Tensor, levels: int) -> torch.Tensor:
    """Edges of ``levels`` equal-width bins of ``[lo, hi]``: (F,), (F,) -> (F, levels - 1).

    Entry ``[f, j-1] = lo[f] + (hi[f] - lo[f]) * j / levels`` for j = 1 .. levels-1.
    """
    j = torch.arange(1, levels, dtype=lo.dtype, device=lo.device)
    return lo.unsqueeze(1) + (hi - lo).unsqueeze(1) * j / levels


class BaseEncoder(nn.Module):
    """Maps features to bits through fitted thresholds (see the module docstring).

    Shapes: ``fit(data)`` takes ``(N, *S)``; ``encode(x)`` takes ``(B, *S)`` and
    returns ``(B, F * num_bits)`` (``F = prod(S)``), feature-major: feature f's
    bits at ``[f * num_bits, (f + 1) * num_bits)``; ``flatten=False`` returns
    ``(B, *S, num_bits)``. Values are 0./1. in the dtype of ``x``.

    Buffers (all in ``state_dict``): ``thresholds`` float (F, num_thresholds),
    sorted per feature, stored in the encoder's floating dtype; ``_feature_shape``
    int64 (len(S),); ``_fitted`` bool scalar. Casting the encoder to a lower
    precision than the thresholds were fitted in rounds them; upcasting is exact.
    """

    registry_name = "base"
    #: allowed range of ``num_bits`` for this encoder
    min_bits = 1
    max_bits = 16

    def __init__(self, num_bits: int):
        super().__init__()
        if (
            not isinstance(num_bits, int)
            or isinstance(num_bits, bool)
            or not self.min_bits <= num_bits <= self.max_bits
        ):
            raise ValueError(
                f"{type(self).__name__}: num_bits must be an int in {self.min_bits}..{self.max_bits}, "
                f"got {num_bits!r}"
            )
        self.num_bits = num_bits
        self.register_buffer("thresholds", torch.empty(0, self.num_thresholds))
        self.register_buffer("_feature_shape", torch.empty(0, dtype=torch.int64))
        self.register_buffer("_fitted", torch.tensor(False))

    # -- to implement -------------------------------------------------------
    @property
    def num_thresholds(self) -> int:
        """Thresholds per feature (levels - 1)."""
        raise NotImplementedError(f"{type(self).__name__} does not define num_thresholds")

    def fit_thresholds(self, data: torch.Tensor) -> torch.Tensor:
        """Thresholds from finite data (N, F) in its own dtype -> float64 (F, num_thresholds)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fit_thresholds")

    def code(self, level: torch.Tensor) -> torch.Tensor:
        """Bits of integer levels: int64 (...) -> bool (..., num_bits)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement code")

    # -- the pipeline -------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def fit(self, data: torch.Tensor) -> "BaseEncoder":
        """Fit per-feature thresholds on ``data`` (N, *S), N >= 1; remembers S. Returns self."""
        self._check_tensor(data, "fit data")
        if data.dim() < 1 or data.numel() == 0:
            raise InputError(f"{type(self).__name__}.fit needs data of shape (N, *features) with N >= 1 "
                             f"and at least one feature, got {tuple(data.shape)}")
        self._check_finite(data, "fit data")
        # fitted on the CPU whatever the data's device: float maths (erfinv, expm1, division) may round
        # differently on a GPU, and the thresholds ARE the hardware's comparison constants
        flat = data.detach().reshape(data.shape[0], -1).cpu()
        with torch.no_grad():
            thresholds = self.fit_thresholds(flat).sort(dim=1).values.contiguous()
            constant = flat.amax(0) == flat.amin(0)
            thresholds[constant] = math.inf
            thresholds = thresholds.to(device=self._fitted.device, dtype=self.thresholds.dtype)
        bad = ~torch.isfinite(thresholds[~constant.to(thresholds.device)])
        if bool(bad.any()):
            raise InputError(
                f"{type(self).__name__}.fit: the data range is too large to place finite thresholds "
                f"in {thresholds.dtype}"
            )
        self.thresholds = thresholds
        self._feature_shape = torch.tensor(data.shape[1:], dtype=torch.int64, device=self._fitted.device)
        self._fitted = torch.tensor(True, device=self._fitted.device)
        return self

    def snap_to_code_grid_(self, input_format: InputFormat, step: int) -> "BaseEncoder":
        """Move every finite threshold onto the code grid of ``step`` (a power of two); returns self.

        A threshold ``t`` splits the codes of ``input_format`` (values ascending) into those with
        ``value <= t`` and the rest, from code index ``c`` on; ``c`` moves to the nearest multiple of
        ``step`` (halves up; one that splits the codes stays inside ``[step, codes - step]``, so it keeps
        splitting them) and ``t`` becomes the value of the code below it, so every comparison reads
        ``code index >= c'``: for ``step = 2**s`` a function of the code's top ``bits - s`` bits only (on
        8-bit codes and ``step = 4``, one 6-input LUT per comparator). Thresholds stay ascending; a
        threshold below every code is set just below the smallest value, one above every code at the
        largest. Features constant in the fit data (``+inf``) are left alone.
        """
        self._check_fitted()
        if isinstance(step, bool) or not isinstance(step, int) or step < 1 or step & (step - 1):
            raise ValueError(f"step must be a power of two >= 1, got {step!r}")
        if step > input_format.num_codes:
            raise ValueError(f"step {step} exceeds the {input_format.num_codes} codes of the input format")
        if input_format.divisor < 0:
            raise ValueError("snapping needs input values that increase with the code (a positive divisor)")
        if step == 1:
            return self
        with torch.no_grad():
            t = self.thresholds.cpu()
            values = input_format.values().to(t.dtype)  # ascending, exact in float32 and wider
            finite = torch.isfinite(t)
            first = torch.searchsorted(values, t.contiguous(), right=True)  # first code index above t
            snapped = torch.div(first + step // 2, step, rounding_mode="floor") * step
            # a comparison that splits the codes keeps splitting them (never becomes a constant bit)
            splits = (first > 0) & (first < input_format.num_codes)
            snapped = torch.where(splits, snapped.clamp(step, input_format.num_codes - step), snapped)
            below = torch.nextafter(values[:1], values.new_full((1,), -math.inf))
            table = torch.cat([below, values])  # table[c] = the threshold whose first index above is c
            new = table[snapped.clamp(0, input_format.num_codes)]
            self.thresholds = torch.where(finite, new, t).to(device=self.thresholds.device)
        return self

    def encode(self, x: torch.Tensor, flatten: bool = True) -> torch.Tensor:
        """Bits of ``x`` (B, *S): (B, F * num_bits), or (B, *S, num_bits) if not ``flatten``."""
        self._check_input(x)
        batch = x.shape[0]
        with torch.no_grad():
            bits = self.encode_bits(x.detach().reshape(batch, self.num_features)).to(x.dtype)
        if flatten:
            return bits.reshape(batch, self.output_size)
        return bits.reshape(*x.shape, self.num_bits)

    def encode_bits(self, x: torch.Tensor) -> torch.Tensor:
        """Bits of checked, finite x (B, F) -> bool (B, F, num_bits): ``code(level(x))``."""
        return self.code(self.level(x))

    def level(self, x: torch.Tensor) -> torch.Tensor:
        """Level ``q[b, f] = #{j : thresholds[f, j] < x[b, f]}`` of x (B, F) -> int64 (B, F)."""
        dtype = torch.promote_types(x.dtype, self.thresholds.dtype)
        t = self.thresholds.to(device=x.device, dtype=dtype)
        return torch.searchsorted(t, x.to(dtype).T.contiguous()).T

    def hardware_form(self, input_format: InputFormat, num_features: int | None = None) -> EncoderHardwareForm:
        """The exact per-feature bit functions of integer input codes (see :class:`EncoderHardwareForm`).

        Every code of ``input_format`` is mapped by ``input_format.to_float`` and sent through
        :meth:`encode`, for every feature. ``num_features``, if given, must equal the fitted F.
        """
        if not isinstance(input_format, InputFormat):
            raise TypeError(f"input_format must be a difflut.InputFormat, got {type(input_format).__name__}")
        self._check_fitted()
        features, n = self.num_features, self.num_bits
        if num_features is not None and num_features != features:
            raise InputError(
                f"{type(self).__name__} was fitted on {features} features, the hardware form needs {num_features}"
            )
        codes = input_format.codes()
        values = input_format.to_float(codes).to(self._fitted.device)
        chunk = max(1, _CHUNK_ELEMENTS // (features * n))
        view = (-1,) + (1,) * len(self.feature_shape)
        parts = [
            self.encode(v.reshape(view).expand(-1, *self.feature_shape)).reshape(-1, features, n).bool().cpu()
            for v in values.split(chunk)
        ]
        numeric = torch.cat(parts).permute(1, 2, 0)  # (F, n, codes in ascending numeric order)
        tables = torch.empty_like(numeric)
        tables[..., input_format.address(codes)] = numeric
        return EncoderHardwareForm.from_tables(input_format, self.registry_name, tables.numpy())

    # -- state --------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return bool(self._fitted)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The feature shape S seen by :meth:`fit`."""
        self._check_fitted()
        return tuple(self._feature_shape.tolist())

    @property
    def num_features(self) -> int:
        """F = prod(S)."""
        return math.prod(self.feature_shape)

    @property
    def output_size(self) -> int:
        """Bits per sample, F * num_bits."""
        return self.num_features * self.num_bits

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # fitted buffers take the saved shape (and the saved dtype, so thresholds load exactly)
        for name in ("thresholds", "_feature_shape", "_fitted"):
            saved = state_dict.get(prefix + name)
            if isinstance(saved, torch.Tensor):
                self._buffers[name] = torch.empty(saved.shape, dtype=saved.dtype, device=self._buffers[name].device)
        saved_t, saved_s = state_dict.get(prefix + "thresholds"), state_dict.get(prefix + "_feature_shape")
        saved_fitted = state_dict.get(prefix + "_fitted")
        if all(isinstance(t, torch.Tensor) for t in (saved_t, saved_s, saved_fitted)) and bool(saved_fitted):
            expected = (math.prod(saved_s.tolist()), self.num_thresholds)
            if saved_t.dim() != 2 or tuple(saved_t.shape) != expected:
                error_msgs.append(
                    f"{type(self).__name__}(num_bits={self.num_bits}) expects thresholds of shape {expected} "
                    f"for feature shape {tuple(saved_s.tolist())}, got {tuple(saved_t.shape)} "
                    f"(was it saved with another num_bits or encoder?)"
                )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # -- checks -------------------------------------------------------------
    def _check_tensor(self, x, what: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: {what} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{type(self).__name__}: {what} must be floating point, got {x.dtype}")

    def _check_finite(self, x: torch.Tensor, what: str) -> None:
        if bool(torch.isnan(x).any()):
            raise InputError(f"{type(self).__name__}: {what} contains NaN")
        if bool(torch.isinf(x).any()):
            raise InputError(f"{type(self).__name__}: {what} contains inf")

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call .fit(data) or load a fitted state_dict")

    def _check_input(self, x) -> None:
        self._check_tensor(x, "input")
        self._check_fitted()
        shape = self.feature_shape
        if x.dim() != 1 + len(shape) or tuple(x.shape[1:]) != shape:
            raise InputError(
                f"{type(self).__name__} expects input of shape (batch, {', '.join(map(str, shape))}) "
                f"(the feature shape it was fitted on), got {tuple(x.shape)}"
            )
        self._check_finite(x, "input")

    def extra_repr(self) -> str:
        shape = self.feature_shape if self.fitted else None
        return f"num_bits={self.num_bits}, feature_shape={shape}"
