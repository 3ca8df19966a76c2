"""The netlist IR: what every hardware backend reads. Independent of torch.

A :class:`NetlistIR` is a DAG over single-bit *wires*:

* **input**: ``F = prod(input_shape)`` integer features (row-major order of the model's input),
  each an ``input_format.bits``-wide code.
* **encoder stage** (an :class:`~difflut.hw.encoder_form.EncoderHardwareForm` with F features): wire
  ``f * n + j`` (``n`` bits per feature) is bit j of feature f, either ``code >= threshold`` or a
  table over the code's bit pattern.
* **LUT layers**, in order: layer i owns the wires ``[base_i, base_i + N_i)`` with
  ``base_0 = F * n`` and ``base_{i+1} = base_i + N_i``. Node m of layer i reads the wires
  ``inputs[m, 0..k-1]`` (each an earlier wire, or the constants :data:`CONST0` = -1 /
  :data:`CONST1` = -2) and outputs ``tables[m, a]`` with ``a = sum_j bit(inputs[m, j]) * 2**j``.
* **GroupSum**: ``class_wires`` (C, G); the score of class c is the popcount of its G wires
  (constants count as 0 / 1).
* **decision**: the predicted class is the first maximum of the scores (ties -> lowest index).

Serialised as JSON (:meth:`NetlistIR.to_dict`, :func:`save_ir`, :func:`load_ir`); loading
validates everything and says what is wrong. Same IR in, byte-identical JSON out.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import IRError
from ..files import write_atomic
from .encoder_form import ENCODER_SCHEMA, EncoderHardwareForm
from .schema import HEX_STRING, check, json_path, shown
from .truth_tables import rows_to_ints

IR_VERSION = 1
IR_FORMAT = "difflut-netlist-ir"
IR_DECISION = "argmax, ties to the lowest class index"
CONST0 = -1
CONST1 = -2
MAX_IR_K = 16

_WIRE = {"title": f"an integer wire id (>= {CONST1})", "type": "integer", "minimum": CONST1,
         "maximum": np.iinfo(np.int64).max}

#: JSON Schema of one entry of ``layers`` (row lengths, table widths and wiring order are checked
#: by ``from_dict`` after it)
LAYER_SCHEMA = {
    "title": "a LUT layer object",
    "type": "object",
    "required": ["name", "k", "inputs", "tables"],
    "additionalProperties": False,
    "properties": {
        "name": {"title": "a layer name (a string)", "type": "string"},
        "k": {"title": f"an integer in 1..{MAX_IR_K}", "type": "integer", "minimum": 1, "maximum": MAX_IR_K},
        "inputs": {"title": "a non-empty list of rows of wire ids", "type": "array", "minItems": 1,
                   "items": {"title": "a list of wire ids", "type": "array", "items": _WIRE}},
        "tables": {"title": "a list of hex tables", "type": "array", "items": HEX_STRING},
    },
}

#: JSON Schema of a netlist IR file (:meth:`NetlistIR.to_dict`)
IR_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "a DiffLUT netlist IR object",
    "type": "object",
    "required": ["format", "version", "metadata", "input_shape", "encoder", "layers", "class_wires", "decision"],
    "additionalProperties": False,
    "properties": {
        "format": {"title": repr(IR_FORMAT), "const": IR_FORMAT},
        "version": {"title": f"the integer {IR_VERSION}", "type": "integer", "const": IR_VERSION},
        "metadata": {"title": "an object", "type": "object"},
        "input_shape": {"title": "a non-empty list of positive integers", "type": "array", "minItems": 1,
                        "items": {"title": "a positive integer", "type": "integer", "minimum": 1}},
        "encoder": ENCODER_SCHEMA,
        "layers": {"title": "a list of layers", "type": "array", "items": LAYER_SCHEMA},
        "class_wires": {"title": "a non-empty list of rows of wire ids", "type": "array", "minItems": 1,
                        "items": {"title": "a non-empty list of wire ids", "type": "array", "minItems": 1,
                                  "items": _WIRE}},
        "decision": {"title": repr(IR_DECISION), "const": IR_DECISION},
    },
}


def _frozen(a, dtype) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class LUTLayer:
    """``N`` k-input LUTs: ``inputs`` int64 (N, k) wire ids, ``tables`` bool (N, 2**k)."""

    name: str
    inputs: np.ndarray
    tables: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "inputs", _frozen(self.inputs, np.int64))
        object.__setattr__(self, "tables", _frozen(self.tables, np.bool_))
        if self.inputs.ndim != 2 or self.inputs.shape[0] == 0 or not 1 <= self.inputs.shape[1] <= MAX_IR_K:
            raise IRError(f"layer {self.name!r}: inputs must be (N >= 1, 1 <= k <= {MAX_IR_K}), "
                          f"got shape {self.inputs.shape}")
        n, k = self.inputs.shape
        if self.tables.shape != (n, 1 << k):
            raise IRError(f"layer {self.name!r}: tables must have shape ({n}, {1 << k}) for k={k}, "
                          f"got {self.tables.shape}")

    @property
    def k(self) -> int:
        return self.inputs.shape[1]

    @property
    def num_nodes(self) -> int:
        return self.inputs.shape[0]

    def to_dict(self) -> dict:
        width = max(1, (1 << self.k) // 4)
        tables = [format(value, f"0{width}x") for value in rows_to_ints(self.tables)]
        return {"name": self.name, "k": self.k, "inputs": self.inputs.tolist(), "tables": tables}

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> "LUTLayer":
        """The layer that :meth:`to_dict` wrote; refuses anything else with an :class:`IRError` naming
        the field (JSON path after the prefix ``where``)."""
        check(d, LAYER_SCHEMA, where)
        return cls._from_checked_dict(d, where)

    @classmethod
    def _from_checked_dict(cls, d: dict, where: str) -> "LUTLayer":
        """:meth:`from_dict` after the schema check: row lengths, table count and widths."""
        k, rows, hex_tables = d["k"], d["inputs"], d["tables"]
        for m, row in enumerate(rows):
            if len(row) != k:
                raise IRError(f"{json_path(('inputs', m), where)}: expected {k} wire ids (k = {k}), got {len(row)}")
        if len(hex_tables) != len(rows):
            raise IRError(f"{json_path(('tables',), where)}: expected {len(rows)} tables (one per row of inputs), "
                          f"got {len(hex_tables)}")
        entries = 1 << k
        width, nbytes = max(1, entries // 4), max(1, entries // 8)
        packed = np.empty((len(rows), nbytes), dtype=np.uint8)
        for m, h in enumerate(hex_tables):
            value = int(h, 16) if len(h) == width else -1
            if not 0 <= value < 1 << entries:
                raise IRError(f"{json_path(('tables', m), where)}: expected {width} hex digits holding {entries} "
                              f"bits (k = {k}), got {shown(h)}")
            packed[m] = np.frombuffer(value.to_bytes(nbytes, "little"), np.uint8)
        tables = np.unpackbits(packed, axis=1, bitorder="little")[:, :entries]
        return cls(d["name"], np.array(rows, dtype=np.int64).reshape(len(rows), k), tables)


@dataclass(frozen=True, eq=False)
class NetlistIR:
    """A whole model as a bit-level netlist (see the module docstring for the semantics)."""

    input_shape: tuple[int, ...]
    encoder: EncoderHardwareForm
    layers: tuple[LUTLayer, ...]
    class_wires: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "class_wires", _frozen(self.class_wires, np.int64))
        object.__setattr__(self, "metadata", dict(self.metadata))
        self.validate()

    # -- structure ----------------------------------------------------------------------------
    @property
    def num_features(self) -> int:
        return self.encoder.num_features

    @property
    def num_classes(self) -> int:
        return self.class_wires.shape[0]

    @property
    def num_encoder_wires(self) -> int:
        return self.encoder.output_size

    @property
    def layer_bases(self) -> list[int]:
        """First wire id of each layer's outputs."""
        bases, base = [], self.num_encoder_wires
        for layer in self.layers:
            bases.append(base)
            base += layer.num_nodes
        return bases

    @property
    def num_wires(self) -> int:
        return self.num_encoder_wires + sum(layer.num_nodes for layer in self.layers)

    @property
    def num_luts(self) -> int:
        return sum(layer.num_nodes for layer in self.layers)

    def validate(self) -> None:
        if not isinstance(self.encoder, EncoderHardwareForm):
            raise IRError(f"encoder must be an EncoderHardwareForm, got {type(self.encoder).__name__}")
        if not self.input_shape or min(self.input_shape) < 1:
            raise IRError(f"input_shape: expected a non-empty list of positive integers, got {list(self.input_shape)}")
        if math.prod(self.input_shape) != self.encoder.num_features:
            raise IRError(f"input_shape: {list(self.input_shape)} has {math.prod(self.input_shape)} features, "
                          f"the encoder stage {self.encoder.num_features}")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LUTLayer):
                raise IRError(f"layers[{i}]: expected a LUTLayer, got {type(layer).__name__}")
        for i, (layer, base) in enumerate(zip(self.layers, self.layer_bases)):
            bad = (layer.inputs >= base) | (layer.inputs < CONST1)
            if bad.any():
                m, j = map(int, np.argwhere(bad)[0])
                raise IRError(f"layers[{i}].inputs[{m}][{j}]: layer {layer.name!r} node {m} input {j} reads wire "
                              f"{int(layer.inputs[m, j])}, not an earlier wire (0..{base - 1}) or a constant "
                              f"({CONST0}, {CONST1})")
        if self.class_wires.ndim != 2 or 0 in self.class_wires.shape:
            raise IRError(f"class_wires: expected shape (num_classes, G) with both >= 1, got {self.class_wires.shape}")
        bad = (self.class_wires >= self.num_wires) | (self.class_wires < CONST1)
        if bad.any():
            c, g = map(int, np.argwhere(bad)[0])
            raise IRError(f"class_wires[{c}][{g}]: class {c} wire {g} is {int(self.class_wires[c, g])}, outside "
                          f"0..{self.num_wires - 1} and not a constant")

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": IR_FORMAT,
            "version": IR_VERSION,
            "metadata": self.metadata,
            "input_shape": list(self.input_shape),
            "encoder": self.encoder.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
            "class_wires": self.class_wires.tolist(),
            "decision": IR_DECISION,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "NetlistIR":
        """The IR that :meth:`to_dict` wrote. Checks the shape and type of every field against
        :data:`IR_SCHEMA`, then dimensions, table widths, threshold ranges, the canonical encoder
        form and the wiring order; raises :class:`IRError` naming the first bad field."""
        if not isinstance(d, dict) or d.get("format") != IR_FORMAT:
            raise IRError(f"not a DiffLUT netlist IR (expected format {IR_FORMAT!r})")
        if d.get("version") != IR_VERSION:
            raise IRError(f"IR version {shown(d.get('version'))} is not supported (this library reads {IR_VERSION})")
        check(d, IR_SCHEMA)
        encoder = EncoderHardwareForm._from_checked_dict(d["encoder"], "encoder")
        layers = tuple(LUTLayer._from_checked_dict(layer, f"layers[{i}]") for i, layer in enumerate(d["layers"]))
        width = len(d["class_wires"][0])
        for c, row in enumerate(d["class_wires"]):
            if len(row) != width:
                raise IRError(f"class_wires[{c}]: expected {width} wires (as class_wires[0]), got {len(row)}")
        return cls(tuple(d["input_shape"]), encoder, layers, np.array(d["class_wires"], dtype=np.int64),
                   d["metadata"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"




def save_ir(ir: NetlistIR, path: str | os.PathLike) -> None:
    """Write the IR as canonical JSON (sorted keys), atomically."""
    write_atomic(path, ir.to_json().encode())


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen = set()
        raise ValueError(f"duplicate key {next(k for k, _ in pairs if k in seen or seen.add(k))!r}")
    return d


def load_ir(path: str | os.PathLike) -> NetlistIR:
    """Read and validate an IR JSON file (see :meth:`NetlistIR.from_dict`); raises :class:`IRError`.

    Strict JSON: ``NaN`` / ``Infinity`` and an object with a repeated key are refused."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        d = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise IRError(f"{os.fspath(path)}: not valid JSON ({e})") from None
    except RecursionError:
        raise IRError(f"{os.fspath(path)}: not valid JSON (nested too deeply)") from None
    try:
        return NetlistIR.from_dict(d)
    except RecursionError:
        raise IRError(f"{os.fspath(path)}: nested too deeply") from None
