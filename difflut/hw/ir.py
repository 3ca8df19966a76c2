"""The netlist IR: what every hardware backend reads. Independent of torch.

A :class:`NetlistIR` is a DAG over single-bit *wires*:

* **input**: ``F = prod(input_shape)`` integer features (row-major order of the model's input),
  each an ``input_format.bits``-wide code.
* **encoder stage** (an :class:`~difflut.encoders.EncoderHardwareForm` with F features): wire
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
import os
from dataclasses import dataclass, field

import numpy as np

from ..encoders.hardware_form import EncoderHardwareForm
from ..files import write_atomic

IR_VERSION = 1
IR_FORMAT = "difflut-netlist-ir"
CONST0 = -1
CONST1 = -2
MAX_IR_K = 16


class IRError(ValueError):
    """An IR (in memory or on disk) is malformed; the message names the problem."""


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
        packed = np.packbits(self.tables, axis=1, bitorder="little")
        tables = [format(int.from_bytes(row.tobytes(), "little"), f"0{width}x") for row in packed]
        return {"name": self.name, "k": self.k, "inputs": self.inputs.tolist(), "tables": tables}

    @classmethod
    def from_dict(cls, d: dict) -> "LUTLayer":
        _expect_keys(d, {"name", "k", "inputs", "tables"}, "layer")
        k, name = d["k"], d["name"]
        if not isinstance(k, int) or not 1 <= k <= MAX_IR_K:
            raise IRError(f"layer {name!r}: k must be an int in 1..{MAX_IR_K}, got {k!r}")
        try:
            inputs = np.array(d["inputs"], dtype=np.int64).reshape(-1, k)
        except (TypeError, ValueError):
            raise IRError(f"layer {name!r}: inputs must be a list of {k}-element integer lists") from None
        if len(d["inputs"]) != inputs.shape[0] or len(d["tables"]) != inputs.shape[0]:
            raise IRError(f"layer {name!r}: {len(d['inputs'])} input rows but {len(d['tables'])} tables")
        tables = np.empty((inputs.shape[0], 1 << k), dtype=np.bool_)
        nbytes = max(1, (1 << k) // 8)
        for m, h in enumerate(d["tables"]):
            try:
                value = int(h, 16)
                raw = value.to_bytes(nbytes, "little")
            except (OverflowError, TypeError, ValueError):
                raise IRError(f"layer {name!r}: table {m} is not a {1 << k}-bit hex string: {h!r}") from None
            if value >> (1 << k):
                raise IRError(f"layer {name!r}: table {m} has bits beyond its {1 << k} entries")
            tables[m] = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[: 1 << k]
        return cls(name, inputs, tables)


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
        if int(np.prod(self.input_shape)) != self.encoder.num_features:
            raise IRError(f"input_shape {self.input_shape} has {int(np.prod(self.input_shape))} features, "
                          f"the encoder stage {self.encoder.num_features}")
        for layer, base in zip(self.layers, self.layer_bases):
            if not isinstance(layer, LUTLayer):
                raise IRError(f"layers must be LUTLayer, got {type(layer).__name__}")
            bad = (layer.inputs >= base) | (layer.inputs < CONST1)
            if bad.any():
                m, j = map(int, np.argwhere(bad)[0])
                raise IRError(f"layer {layer.name!r}: node {m} input {j} reads wire {int(layer.inputs[m, j])}, "
                              f"not an earlier wire (0..{base - 1}) or a constant ({CONST0}, {CONST1})")
        if self.class_wires.ndim != 2 or 0 in self.class_wires.shape:
            raise IRError(f"class_wires must be (num_classes, G) with both >= 1, got {self.class_wires.shape}")
        bad = (self.class_wires >= self.num_wires) | (self.class_wires < CONST1)
        if bad.any():
            c, g = map(int, np.argwhere(bad)[0])
            raise IRError(f"class {c} wire {g} is {int(self.class_wires[c, g])}, outside 0..{self.num_wires - 1} "
                          f"and not a constant")

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
            "decision": "argmax, ties to the lowest class index",
        }

    @classmethod
    def from_dict(cls, d: dict) -> "NetlistIR":
        if not isinstance(d, dict) or d.get("format") != IR_FORMAT:
            raise IRError(f"not a DiffLUT netlist IR (expected format {IR_FORMAT!r})")
        if d.get("version") != IR_VERSION:
            raise IRError(f"IR version {d.get('version')!r} is not supported (this library reads {IR_VERSION})")
        _expect_keys(d, {"format", "version", "metadata", "input_shape", "encoder", "layers", "class_wires",
                         "decision"}, "IR")
        try:
            encoder = EncoderHardwareForm.from_dict(d["encoder"])
        except (TypeError, ValueError, KeyError) as e:
            raise IRError(f"encoder stage: {e}") from None
        layers = tuple(LUTLayer.from_dict(layer) for layer in d["layers"])
        try:
            class_wires = np.array(d["class_wires"], dtype=np.int64)
        except (TypeError, ValueError):
            raise IRError("class_wires must be a rectangular list of integer lists") from None
        return cls(tuple(d["input_shape"]), encoder, layers, class_wires, d["metadata"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"


def _expect_keys(d, keys: set, what: str) -> None:
    if not isinstance(d, dict):
        raise IRError(f"{what} must be a JSON object")
    missing, extra = keys - set(d), set(d) - keys
    if missing or extra:
        raise IRError(f"{what}: missing keys {sorted(missing)}, unexpected keys {sorted(extra)}")


def save_ir(ir: NetlistIR, path: str | os.PathLike) -> None:
    """Write the IR as canonical JSON (sorted keys), atomically."""
    write_atomic(path, ir.to_json().encode())


def load_ir(path: str | os.PathLike) -> NetlistIR:
    """Read and validate an IR JSON file."""
    try:
        with open(path, "rb") as f:
            d = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IRError(f"{path}: not valid JSON ({e})") from None
    return NetlistIR.from_dict(d)
