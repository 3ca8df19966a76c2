"""EncoderHardwareForm: an encoder's exact bits as functions of integer input codes (numpy, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, IRError
from ..input_format import MAX_INPUT_BITS, InputFormat
from .schema import HEX_STRING, check, json_path, shown
from .truth_tables import row_to_int


#: JSON Schema of :meth:`EncoderHardwareForm.to_dict` (dimensions, ranges and canonical form are
#: checked by ``from_dict`` after it)
ENCODER_SCHEMA = {
    "title": "an encoder stage object",
    "type": "object",
    "required": ["encoder", "input_format", "num_features", "num_bits", "thresholds", "tables"],
    "additionalProperties": False,
    "properties": {
        "encoder": {"title": "an encoder name (a string)", "type": "string"},
        "input_format": {
            "title": "an input format object",
            "type": "object",
            "required": ["bits", "signed", "divisor", "offset"],
            "additionalProperties": False,
            "properties": {
                "bits": {"title": f"an integer in 1..{MAX_INPUT_BITS}", "type": "integer", "minimum": 1,
                         "maximum": MAX_INPUT_BITS},
                "signed": {"title": "true or false", "type": "boolean"},
                "divisor": {"title": "a number", "type": "number"},
                "offset": {"title": "a number", "type": "number"},
            },
        },
        "num_features": {"title": "a positive integer", "type": "integer", "minimum": 1},
        "num_bits": {"title": "a positive integer", "type": "integer", "minimum": 1},
        "thresholds": {
            "title": "a list of rows (one per feature)",
            "type": "array",
            "items": {"title": "a list of thresholds (one per bit)", "type": "array",
                      "items": {"title": "an integer threshold or null",
                                "anyOf": [{"type": "integer"}, {"type": "null"}]}},
        },
        "tables": {
            "title": "a list of rows (one per feature)",
            "type": "array",
            "items": {"title": "a list of tables (one per bit)", "type": "array",
                      "items": {"title": "a lowercase hex string or null",
                                "anyOf": [HEX_STRING, {"type": "null"}]}},
        },
    },
}


def _numeric_order(fmt: InputFormat) -> np.ndarray:
    """Addresses (raw bit patterns) of every code in ascending numeric order, int64 (2**bits,)."""
    return np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64) & (fmt.num_codes - 1)


def _threshold_view(fmt: InputFormat, tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_threshold, thresholds) of address-indexed tables (F, n, 2**bits); see EncoderHardwareForm."""
    numeric = tables[..., _numeric_order(fmt)]
    is_threshold = ~(numeric[..., :-1] & ~numeric[..., 1:]).any(-1)
    thresholds = fmt.max_code + 1 - numeric.sum(-1, dtype=np.int64)
    return is_threshold, np.where(is_threshold, thresholds, fmt.min_code - 1).astype(np.int64)


def _checked_tables(fmt: InputFormat, tables) -> np.ndarray:
    if not isinstance(fmt, InputFormat):
        raise TypeError(f"input_format must be an InputFormat, got {type(fmt).__name__}")
    tables = np.asarray(tables)
    if tables.dtype != np.bool_ or tables.ndim != 3 or tables.shape[2] != fmt.num_codes or 0 in tables.shape:
        raise ValueError(f"tables must be bool (F, num_bits, {fmt.num_codes}) with F, num_bits >= 1, "
                         f"got {tables.dtype} {tables.shape}")
    return tables


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class EncoderHardwareForm:
    """What an encoder computes on every integer code of an :class:`~difflut.InputFormat`.

    Fields:

    * ``tables``: bool (F, num_bits, 2**bits); ``tables[f, b, a]`` is bit b of feature f
      when that feature's code has raw bit pattern ``a = input_format.address(code)``
      (two's complement when signed).
    * ``is_threshold``: bool (F, num_bits); true where the bit is monotone non-decreasing in
      the numeric code order.
    * ``thresholds``: int64 (F, num_bits); where ``is_threshold``, the bit is exactly
      ``code >= thresholds[f, b]`` (``min_code`` when always 1, ``max_code + 1`` when always 0);
      elsewhere it holds ``min_code - 1`` and means nothing.

    Build it with :meth:`from_tables` (or ``encoder.hardware_form(fmt)``); the constructor
    checks that ``is_threshold`` and ``thresholds`` agree with ``tables``.
    """

    input_format: InputFormat
    encoder: str
    tables: np.ndarray
    is_threshold: np.ndarray
    thresholds: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "tables", _frozen(_checked_tables(self.input_format, self.tables), np.bool_))
        object.__setattr__(self, "is_threshold", _frozen(self.is_threshold, np.bool_))
        object.__setattr__(self, "thresholds", _frozen(self.thresholds, np.int64))
        is_threshold, thresholds = _threshold_view(self.input_format, self.tables)
        if not (np.array_equal(self.is_threshold, is_threshold) and np.array_equal(self.thresholds, thresholds)):
            raise ValueError("is_threshold / thresholds do not agree with tables")

    @classmethod
    def from_tables(cls, input_format: InputFormat, encoder: str, tables: np.ndarray) -> "EncoderHardwareForm":
        """The form of address-indexed bool tables (F, num_bits, 2**bits)."""
        tables = _checked_tables(input_format, tables)
        is_threshold, thresholds = _threshold_view(input_format, tables)
        return cls(input_format, encoder, tables, is_threshold, thresholds)

    @property
    def num_features(self) -> int:
        return self.tables.shape[0]

    @property
    def num_bits(self) -> int:
        return self.tables.shape[1]

    @property
    def output_size(self) -> int:
        return self.num_features * self.num_bits

    def evaluate(self, codes) -> np.ndarray:
        """Bits of integer codes (B, F) -> bool (B, F * num_bits), feature-major like ``encode``."""
        codes = np.asarray(codes)
        if not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"codes must be an integer array, got dtype {codes.dtype}")
        if codes.ndim != 2 or codes.shape[1] != self.num_features:
            raise InputError(f"codes must have shape (batch, {self.num_features}), got {codes.shape}")
        fmt = self.input_format
        if codes.size and (codes.min() < fmt.min_code or codes.max() > fmt.max_code):
            raise InputError(
                f"codes out of range for the input format: allowed {fmt.min_code}..{fmt.max_code}, "
                f"got {codes.min()}..{codes.max()}"
            )
        address = codes.astype(np.int64) & (fmt.num_codes - 1)
        bits = self.tables[np.arange(self.num_features), :, address]  # (B, F, num_bits)
        return bits.reshape(codes.shape[0], -1)

    def to_dict(self) -> dict:
        """JSON-friendly dict: per bit either an int threshold or a hex table (bit a = address a)."""
        width = (self.input_format.num_codes + 3) // 4
        thresholds, tables = [], []
        for f in range(self.num_features):
            thresholds.append([int(self.thresholds[f, b]) if self.is_threshold[f, b] else None
                               for b in range(self.num_bits)])
            tables.append([None if self.is_threshold[f, b]
                           else format(row_to_int(self.tables[f, b]), f"0{width}x")
                           for b in range(self.num_bits)])
        return {
            "encoder": self.encoder,
            "input_format": self.input_format.to_dict(),
            "num_features": self.num_features,
            "num_bits": self.num_bits,
            "thresholds": thresholds,
            "tables": tables,
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "EncoderHardwareForm":
        """The form that :meth:`to_dict` wrote; refuses anything else with an :class:`IRError` naming
        the field (JSON path after the prefix ``where``)."""
        check(d, ENCODER_SCHEMA, where)
        return cls._from_checked_dict(d, where)

    @classmethod
    def _from_checked_dict(cls, d: dict, where: str) -> "EncoderHardwareForm":
        """:meth:`from_dict` after the schema check: dimensions, ranges, widths, canonical form."""
        at = (lambda *parts: json_path(parts, where))
        try:
            fmt = InputFormat.from_dict(d["input_format"])
        except (ValueError, OverflowError) as e:
            raise IRError(f"{at('input_format')}: {e}") from None
        features, n = d["num_features"], d["num_bits"]
        for key in ("thresholds", "tables"):
            if len(d[key]) != features:
                raise IRError(f"{at(key)}: expected {features} rows (num_features), got {len(d[key])}")
            for f, row in enumerate(d[key]):
                if len(row) != n:
                    raise IRError(f"{at(key, f)}: expected {n} entries (num_bits), got {len(row)}")
        stored_thresholds = [t for row in d["thresholds"] for t in row]
        stored_tables = [h for row in d["tables"] for h in row]
        is_threshold = np.array([t is not None for t in stored_thresholds], dtype=bool)
        has_table = np.array([h is not None for h in stored_tables], dtype=bool)
        if (bad := np.flatnonzero(is_threshold == has_table)).size:
            f, b = divmod(int(bad[0]), n)
            raise IRError(f"{at('thresholds', f, b)} / {at('tables', f, b)}: bit ({f}, {b}) needs exactly one "
                          f"of a threshold and a table, got {shown(stored_thresholds[bad[0]])} and "
                          f"{shown(stored_tables[bad[0]])}")
        thresholds = np.array([t if t is not None else fmt.min_code for t in stored_thresholds], dtype=object)
        out_of_range = is_threshold & ((thresholds < fmt.min_code) | (thresholds > fmt.max_code + 1))
        if (bad := np.flatnonzero(out_of_range)).size:
            f, b = divmod(int(bad[0]), n)
            raise IRError(f"{at('thresholds', f, b)}: expected a threshold in {fmt.min_code}..{fmt.max_code + 1} "
                          f"(bits={fmt.bits}, signed={fmt.signed}), got {thresholds[bad[0]]}")
        codes = np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
        tables = np.empty((features * n, fmt.num_codes), dtype=np.bool_)
        tables[:, _numeric_order(fmt)] = codes >= thresholds.astype(np.int64)[:, None]
        width, nbytes = (fmt.num_codes + 3) // 4, (fmt.num_codes + 7) // 8
        for i in np.flatnonzero(has_table):
            h = stored_tables[i]
            value = int(h, 16) if len(h) == width else -1
            if not 0 <= value < 1 << fmt.num_codes:
                raise IRError(f"{at('tables', *divmod(int(i), n))}: expected {width} hex digits holding "
                              f"{fmt.num_codes} bits, got {shown(h)}")
            raw = value.to_bytes(nbytes, "little")
            tables[i] = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[: fmt.num_codes]
        form = cls.from_tables(fmt, d["encoder"], tables.reshape(features, n, fmt.num_codes))
        if (bad := np.flatnonzero(form.is_threshold.reshape(-1) & has_table)).size:
            f, b = divmod(int(bad[0]), n)
            raise IRError(f"{at('tables', f, b)}: this table is the threshold code >= {form.thresholds[f, b]}, "
                          f"which must be written as {at('thresholds', f, b)} (the dict is not canonical)")
        return form

    def __eq__(self, other) -> bool:
        if not isinstance(other, EncoderHardwareForm):
            return NotImplemented
        return (self.input_format == other.input_format and self.encoder == other.encoder
                and np.array_equal(self.tables, other.tables))

    __hash__ = None
