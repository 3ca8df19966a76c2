"""Untrusted files: IR JSON and checkpoints that are corrupt, truncated, retyped or hostile.

Every bad file gives the library's own error naming the problem (IRError / CheckpointError, both
DiffLUTError). A file that loads is read exactly as written: an IR that loads saves back to the
canonical text of the very document that was loaded (nothing coerced, clamped or dropped), and a
checkpoint that loads computes what the original computes.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators

from difflut import InputFormat
from difflut.checkpoint import CheckpointError, read_checkpoint
from difflut.errors import DiffLUTError, IRError
from difflut.hw import CONST0, CONST1, LUTLayer, NetlistIR, load_ir
from difflut.hw.encoder_form import ENCODER_SCHEMA, EncoderHardwareForm
from difflut.hw.ir import IR_SCHEMA
from difflut.hw.schema import simple_predicate
from difflut.models import get_model, load
from irtools import corrupted

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- a small IR with every kind of field ------------------------------------------------------------
def small_ir() -> NetlistIR:
    """Signed 3-bit codes, 2 features x 2 bits (a threshold and a table bit); layers of k = 1, 2, 3."""
    fmt = InputFormat(3, signed=True, divisor=4.0, offset=0.5)
    numeric = np.arange(fmt.min_code, fmt.max_code + 1)
    per_feature = np.zeros((2, fmt.num_codes), bool)
    per_feature[0, numeric & 7] = numeric >= 1
    per_feature[1, numeric & 7] = numeric % 3 == 0
    encoder = EncoderHardwareForm.from_tables(fmt, "custom", np.broadcast_to(per_feature, (2, 2, 8)))
    rng = np.random.default_rng(1)
    a = LUTLayer("a", [[0], [3]], [[False, True], [True, False]])
    b = LUTLayer("b", [[0, 4], [5, CONST1], [1, 2]], rng.random((3, 4)) < 0.5)
    c = LUTLayer("c", [[6, 7, CONST0], [8, 4, 3]], rng.random((2, 8)) < 0.5)
    return NetlistIR((1, 2), encoder, (a, b, c), [[9, 10], [8, CONST1]], {"model": "small", "note": [1, 2.5]})


GOOD = json.loads(small_ir().to_json())


def canonical(d) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n"


def edited(path: str, value):
    """GOOD with the field at ``path`` ("layers.1.inputs.0.1") set to ``value`` (``KeyError``: deleted)."""
    d = copy.deepcopy(GOOD)
    *keys, last = path.split(".")
    target = d
    for key in keys:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = int(last) if isinstance(target, list) else last
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return d


# -- regression: what used to load in silence -------------------------------------------------------
@pytest.mark.parametrize("path,value,message", [
    ("input_shape", [-1, -2], r"^input_shape\[0\]: expected a positive integer, got -1$"),
    ("input_shape", [0], r"^input_shape\[0\]: expected a positive integer, got 0$"),
    ("input_shape", [], r"^input_shape: expected a non-empty list of positive integers, got \[\]$"),
    ("input_shape", [1, 2.0], r"^input_shape\[1\]: expected a positive integer, got 2\.0$"),
    ("input_shape", [1, 1], r"^input_shape: \[1, 1\] has 1 features, the encoder stage 2$"),
    ("layers.1.inputs.0.1", 1.5, r"^layers\[1\]\.inputs\[0\]\[1\]: expected an integer wire id \(>= -2\), got 1\.5$"),
    ("layers.1.inputs.0.1", True, r"^layers\[1\]\.inputs\[0\]\[1\]: expected an integer wire id \(>= -2\), got true$"),
    ("layers.1.inputs.0.1", 4.0, r"^layers\[1\]\.inputs\[0\]\[1\]: expected an integer wire id"),
    ("layers.1.inputs.0.1", -3, r"^layers\[1\]\.inputs\[0\]\[1\]: expected an integer wire id \(>= -2\), got -3$"),
    ("layers.1.inputs.0", [0], r"^layers\[1\]\.inputs\[0\]: expected 2 wire ids \(k = 2\), got 1$"),
    ("layers.1.inputs.0", [0, 6], r"^layers\[1\]\.inputs\[0\]\[1\]: layer 'b' node 0 input 1 reads wire 6"),
    ("layers.1.inputs", [], r"^layers\[1\]\.inputs: expected a non-empty list of rows of wire ids, got \[\]$"),
    ("layers.1.k", True, r"^layers\[1\]\.k: expected an integer in 1\.\.16, got true$"),
    ("layers.1.name", 7, r"^layers\[1\]\.name: expected a layer name \(a string\), got 7$"),
    ("layers.1.tables.0", "F", r"^layers\[1\]\.tables\[0\]: expected a lowercase hex string, got \"F\"$"),
    ("layers.1.tables.0", "0x6", r"^layers\[1\]\.tables\[0\]: expected a lowercase hex string"),
    ("layers.1.tables.0", "06", r"^layers\[1\]\.tables\[0\]: expected 1 hex digits holding 4 bits \(k = 2\)"),
    ("layers.0.tables.0", "4", r"^layers\[0\]\.tables\[0\]: expected 1 hex digits holding 2 bits \(k = 1\)"),
    ("layers.2.tables.1", "f\n", r"^layers\[2\]\.tables\[1\]: expected a lowercase hex string, got \"f\\n\"$"),
    ("layers.2", [], r"^layers\[2\]: expected a LUT layer object, got \[\]$"),
    ("metadata", "tiny", r"^metadata: expected an object, got \"tiny\"$"),
    ("metadata", None, r"^metadata: expected an object, got null$"),
    ("metadata", [1], r"^metadata: expected an object, got \[1\]$"),
    ("version", True, r"^version: expected the integer 1, got true$"),
    ("version", 1.0, r"^version: expected the integer 1, got 1\.0$"),
    ("decision", "argmin", r"^decision: expected 'argmax, ties to the lowest class index', got \"argmin\"$"),
    ("class_wires.0.1", 2.5, r"^class_wires\[0\]\[1\]: expected an integer wire id"),
    ("class_wires.0.1", 11, r"^class_wires\[0\]\[1\]: class 0 wire 1 is 11, outside 0\.\.10"),
    ("class_wires.1", [], r"^class_wires\[1\]: expected a non-empty list of wire ids, got \[\]$"),
    ("class_wires", [], r"^class_wires: expected a non-empty list of rows of wire ids, got \[\]$"),
    ("encoder.input_format.bits", 17, r"^encoder\.input_format\.bits: expected an integer in 1\.\.16, got 17$"),
    ("encoder.input_format.signed", 1, r"^encoder\.input_format\.signed: expected true or false, got 1$"),
    ("encoder.input_format.divisor", 0.0, r"^encoder\.input_format: InputFormat\.divisor must be non-zero$"),
    ("encoder.input_format.divisor", "4", r"^encoder\.input_format\.divisor: expected a number, got \"4\"$"),
    ("encoder.input_format.offset", KeyError, r"^encoder\.input_format: missing key 'offset'$"),
    ("encoder.input_format.scale", 2, r"^encoder\.input_format: unexpected key 'scale'$"),
    ("encoder.num_features", 3, r"^encoder\.thresholds: expected 3 rows \(num_features\), got 2$"),
    ("encoder.num_features", 0, r"^encoder\.num_features: expected a positive integer, got 0$"),
    ("encoder.num_bits", 1.0, r"^encoder\.num_bits: expected a positive integer, got 1\.0$"),
    ("encoder.encoder", None, r"^encoder\.encoder: expected an encoder name \(a string\), got null$"),
    ("encoder.thresholds.0.0", 1.5,
     r"^encoder\.thresholds\[0\]\[0\]: expected an integer threshold or null, got 1\.5$"),
    ("encoder.thresholds.0.0", 9, r"^encoder\.thresholds\[0\]\[0\]: expected a threshold in -4\.\.4 "
                                   r"\(bits=3, signed=True\), got 9$"),
    ("encoder.thresholds.1.0", -5, r"^encoder\.thresholds\[1\]\[0\]: expected a threshold in -4\.\.4"),
    ("encoder.tables.0.1", "FF", r"^encoder\.tables\[0\]\[1\]: expected a lowercase hex string or null"),
    ("encoder.tables.0.1", "1ff", r"^encoder\.tables\[0\]\[1\]: expected 2 hex digits holding 8 bits"),
    ("encoder.tables.0.1", None, r"^encoder\.thresholds\[0\]\[1\] / encoder\.tables\[0\]\[1\]: bit \(0, 1\) needs "
                                 r"exactly one of a threshold and a table"),
    ("encoder.extra", 1, r"^encoder: unexpected key 'extra'$"),
    ("extra", {}, r"^\(top level\): unexpected key 'extra'$"),
])
def test_bad_fields_are_named(path, value, message):
    with pytest.raises(IRError, match=message):
        NetlistIR.from_dict(edited(path, value))


def test_a_threshold_written_as_a_table_is_refused():
    # thresholds[0][0] is "code >= 1"; as an address-indexed table over signed 3-bit codes: codes 1..3
    d = edited("encoder.thresholds.0.0", None)
    d["encoder"]["tables"][0][0] = "0e"
    with pytest.raises(IRError, match=r"^encoder\.tables\[0\]\[0\]: this table is the threshold code >= 1, which "
                                      r"must be written as encoder\.thresholds\[0\]\[0\]"):
        NetlistIR.from_dict(d)
    d["encoder"]["tables"][0][0] = "0d"  # codes 0, 2, 3: not monotone, a real table
    assert NetlistIR.from_dict(d).encoder.is_threshold[0, 0] == np.False_


def test_the_encoder_stage_alone_names_its_fields():
    d = copy.deepcopy(GOOD["encoder"])
    assert EncoderHardwareForm.from_dict(d) == small_ir().encoder
    d["thresholds"][1][0] = True
    with pytest.raises(IRError, match=r"^thresholds\[1\]\[0\]: expected an integer threshold or null, got true$"):
        EncoderHardwareForm.from_dict(d)
    with pytest.raises(IRError, match=r"^layers\[4\]\.k: "):
        LUTLayer.from_dict(dict(GOOD["layers"][0], k=0), "layers[4]")


@pytest.mark.parametrize("text,message", [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ("", "not valid JSON"),
])
def test_strict_json(tmp_path, text, message):
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(IRError, match=message):
        load_ir(tmp_path / "x.json")


def test_an_infinite_divisor_is_refused(tmp_path):
    text = small_ir().to_json().replace('"divisor":4.0', '"divisor":1e999')
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(IRError, match=r"^encoder\.input_format: InputFormat\.divisor must be a finite number"):
        load_ir(tmp_path / "x.json")


# -- the fast array check accepts exactly what the schema accepts -----------------------------------
def _subschemas(schema):
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _subschemas(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _subschemas(value)


REFERENCE = validators.extend(Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({
    "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda _, v: isinstance(v, (int, float)) and not isinstance(v, bool)}))
COMPILED = [(s, simple_predicate(s)) for s in _subschemas([IR_SCHEMA, ENCODER_SCHEMA])
            if "type" in s or "anyOf" in s]
COMPILED = [(s, p) for s, p in COMPILED if p is not None]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=True) | st.sampled_from(
        ["", "0", "f", "fe", "F", "0x1", "g", "ab\n", "a-name"]) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12)


def test_the_compiled_checks_cover_the_big_arrays():
    titles = {s.get("title") for s, _ in COMPILED}
    assert {"a list of wire ids", "a list of hex tables", "a list of thresholds (one per bit)",
            "a list of tables (one per bit)", "a non-empty list of wire ids"} <= titles


@FAST
@given(index=st.integers(0, 10 ** 6), value=json_values)
def test_compiled_check_equals_the_schema(index, value):
    schema, accepts = COMPILED[index % len(COMPILED)]
    assert accepts(value) == REFERENCE(schema).is_valid(value), (schema, value)


# -- random corruptions of IR files -----------------------------------------------------------------
def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


PATHS = list(_paths(GOOD))[1:]


def _retyped(value):
    """Other JSON types that look like ``value``."""
    out = [None, True, False, [], {}, str(value)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out += [float(value), float(value) + 0.5, -value, value + 1, value - 1, 2 ** 63, -(2 ** 70), [value]]
    if isinstance(value, str):
        out += [value.upper(), value + "0", value[:-1], "0" + value, 7]
    if isinstance(value, list):
        out += [value[:-1], value + value[-1:], [value], dict(enumerate(map(str, value)))]
    if isinstance(value, dict):
        out += [list(value)]
    return out


@st.composite
def corrupted_documents(draw):
    d = copy.deepcopy(GOOD)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = d
        try:
            for key in path[:-1]:
                parent = parent[key]
            old = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier corruption removed this path
        if not isinstance(parent, (dict, list)):
            continue  # ... or turned a container into a string
        action = draw(st.sampled_from(["delete", "retype", "replace", "add_key"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = draw(st.sampled_from(_retyped(old)))
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif isinstance(old, dict):
            old[draw(st.text(max_size=3))] = draw(json_values)
    return d


@FAST
@given(d=corrupted_documents())
def test_corrupted_documents_are_refused_or_read_exactly(d):
    try:
        ir = NetlistIR.from_dict(d)
    except IRError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert ir.to_json() == canonical(d)  # read exactly as written: nothing coerced, clamped or dropped


@FAST
@given(cut=st.integers(0, len(small_ir().to_json())), flip=st.integers(0, 10 ** 6), byte=st.integers(1, 255),
       how=st.sampled_from(["truncate", "flip"]))
def test_corrupted_files_are_refused_or_read_exactly(tmp_path, cut, flip, byte, how):
    data = bytearray(small_ir().to_json().encode())
    if how == "truncate":
        data = data[:cut]
    else:
        data[flip % len(data)] ^= byte
    path = tmp_path / "x.ir.json"
    path.write_bytes(bytes(data))
    try:
        ir = load_ir(path)
    except IRError as e:
        assert str(e)
        return
    assert ir.to_json() == canonical(json.loads(bytes(data)))


# -- checkpoints --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(path, bytes, model, images) of a small fitted checkpoint."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8, generator=gen)
    model = get_model("mnist_fc_8k_linear", seed=3, layer_widths=(20, 10)).fit_encoder(images).eval()
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    model.save_checkpoint(path, metadata={"epoch": 2, "accuracy": 0.5, "notes": ["a", {"b": None}]})
    return path, path.read_bytes(), model, images


def _assert_same_function(loaded, model, images):
    assert torch.equal(loaded.class_scores(images), model.class_scores(images))
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def _rewrite(path, saved_path, change):
    ckpt = torch.load(saved_path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    return ckpt


@pytest.mark.parametrize("change,message", [
    (lambda c: c.update(metadata=[1, 2]), r"entry 'metadata' must be a dict, got list"),
    (lambda c: c.update(metadata="x"), r"entry 'metadata' must be a dict, got str"),
    (lambda c: c.update(overrides=None), r"entry 'overrides' must be a dict, got NoneType"),
    (lambda c: c.update(seed=True), r"entry 'seed' must be an integer, got bool"),
    (lambda c: c.update(seed=1.0), r"entry 'seed' must be an integer, got float"),
    (lambda c: c.update(seed=-1), r"cannot rebuild 'mnist_fc_8k_linear'.*seed must be a non-negative int"),
    (lambda c: c.update(digest=None), r"entry 'digest' must be a string, got NoneType"),
    (lambda c: c.update(library_version=1), r"entry 'library_version' must be a string"),
    (lambda c: c.update(format_version=True), r"format version True"),
    (lambda c: c.pop("config"), r"missing checkpoint entries: config"),
    (lambda c: c.update(extra=1), r"unknown checkpoint entries: 'extra'"),
    (lambda c: c["overrides"].update(bogus=1), r"cannot rebuild .*bogus"),
    (lambda c: c["overrides"].update(layer_widths=[21, 10]),
     r"another configuration.*saved \[20, 10\], model \[21, 10\]"),
    (lambda c: c["config"].update(bogus=1), r"config has keys that 'mnist_fc_8k_linear' does not have: 'bogus'"),
    (lambda c: c["metadata"].update({1: 2}), r"entry metadata: dict keys must be str"),
    (lambda c: c["metadata"].update(t=torch.zeros(1)), r"entry metadata\.t may hold only"),
    (lambda c: c["state_dict"].update({"x": 1}), r"state_dict must map names \(str\) to tensors, got str -> int"),
    (lambda c: c.update(model_name="nope"), r"holds model 'nope', which this DiffLUT"),
])
def test_bad_checkpoint_entries_are_named(saved, tmp_path, change, message):
    path = tmp_path / "bad.pt"
    _rewrite(path, saved[0], change)
    with pytest.raises(CheckpointError, match=message):
        load(path)


def test_a_retyped_tensor_with_a_matching_digest_is_refused(saved, tmp_path):
    from difflut.checkpoint import state_digest

    def change(c):
        name = next(k for k, v in c["state_dict"].items() if v.dtype == torch.int64)
        c["state_dict"][name] = c["state_dict"][name].to(torch.float32)
        c["digest"] = state_digest(c["state_dict"])

    path = tmp_path / "retyped.pt"
    _rewrite(path, saved[0], change)
    with pytest.raises(CheckpointError, match=r"does not fit .* is torch\.float32, the model's torch\.int64"):
        load(path)


def _mutations():
    def set_path(keys, value):
        def change(c):
            target = c
            for key in keys[:-1]:
                target = target[key]
            if value is KeyError:
                target.pop(keys[-1], None)
            else:
                target[keys[-1]] = value
        return change
    keys = st.sampled_from([("metadata",), ("metadata", "epoch"), ("metadata", "notes"), ("overrides",),
                            ("overrides", "layer_widths"), ("config",), ("config", "layer_widths"), ("seed",),
                            ("model_name",), ("digest",), ("state_dict",), ("library_version",),
                            ("format_version",), ("format",)])
    values = st.sampled_from([KeyError, None, True, 0, 1, 3, -1, 2.5, "x", [], {}, [20, 10], [20], (20, 10),
                              {"epoch": 2}, torch.zeros(2)])
    return st.builds(set_path, keys, values)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=_mutations())
def test_mutated_checkpoint_dicts_are_refused_or_equal(saved, tmp_path, change):
    path = tmp_path / "mutated.pt"
    ckpt = _rewrite(path, saved[0], change)
    try:
        loaded = load(path)
    except CheckpointError as e:
        assert str(e)
        return
    _assert_same_function(loaded, saved[2], saved[3])
    assert loaded.checkpoint_metadata == ckpt["metadata"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(["truncate", "flip"]), where=st.floats(0, 1), byte=st.integers(1, 255),
       count=st.integers(1, 4))
def test_corrupted_checkpoint_files_are_refused_or_equal(saved, tmp_path, how, where, byte, count):
    path, data, model, images = saved
    bad = tmp_path / "bad.pt"
    bad.write_bytes(corrupted(data, how, where, byte, count))
    try:
        loaded = load(bad)
    except CheckpointError as e:
        assert str(e)
        return
    _assert_same_function(loaded, model, images)
    assert loaded.checkpoint_metadata == read_checkpoint(path)["metadata"]


def test_errors_are_difflut_errors():
    assert issubclass(IRError, DiffLUTError) and issubclass(IRError, ValueError)
    assert issubclass(CheckpointError, DiffLUTError)
