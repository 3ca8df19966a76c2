"""The netlist IR: validation names what is wrong, JSON round trips are byte-identical."""

import json

import numpy as np
import pytest

from difflut import InputFormat
from difflut.encoders import EncoderHardwareForm
from difflut.hw import CONST0, CONST1, IR_VERSION, IRError, LUTLayer, NetlistIR, load_ir, save_ir


def tiny_encoder(features: int = 3) -> EncoderHardwareForm:
    """2-bit codes, 2 bits per feature: bit 0 = code >= 1 (a threshold), bit 1 = code odd (a table)."""
    code = np.arange(4)
    per_feature = np.stack([code >= 1, code % 2 == 1])
    return EncoderHardwareForm.from_tables(InputFormat(2), "custom", np.broadcast_to(per_feature, (features, 2, 4)))


def tiny_ir(**metadata) -> NetlistIR:
    """6 encoder wires; layer a (wires 6..8, k=2), layer b (wires 9..10, k=3); 2 classes x 2 wires."""
    rng = np.random.default_rng(0)
    a = LUTLayer("a", [[0, 1], [2, CONST1], [4, 5]], rng.random((3, 4)) < 0.5)
    b = LUTLayer("b", [[6, 7, CONST0], [8, 3, 6]], rng.random((2, 8)) < 0.5)
    return NetlistIR((3,), tiny_encoder(), (a, b), [[9, 10], [8, CONST1]], metadata or {"model": "tiny"})


def test_structure_and_numbering():
    ir = tiny_ir()
    assert ir.num_features == 3 and ir.num_encoder_wires == 6 and ir.layer_bases == [6, 9]
    assert ir.num_wires == 11 and ir.num_luts == 5 and ir.num_classes == 2
    assert ir.encoder.is_threshold.tolist() == [[True, False]] * 3


@pytest.mark.parametrize("inputs,match", [
    ([[0, 6]], "reads wire 6"),          # its own output: not an earlier wire
    ([[0, 7]], "reads wire 7"),          # a later wire
    ([[0, -3]], "reads wire -3"),        # below CONST1
])
def test_inputs_out_of_range(inputs, match):
    with pytest.raises(IRError, match=match):
        NetlistIR((3,), tiny_encoder(), (LUTLayer("x", inputs, np.zeros((1, 4), bool)),), [[6], [6]])


def test_later_layer_may_not_read_forward():
    a = LUTLayer("a", [[0, 1]], np.zeros((1, 4), bool))
    b = LUTLayer("b", [[6, 7]], np.zeros((1, 4), bool))  # wire 7 is b's own output
    with pytest.raises(IRError, match=r"layers\[1\]\.inputs\[0\]\[1\]: layer 'b' node 0 input 1 reads wire 7"):
        NetlistIR((3,), tiny_encoder(), (a, b), [[7]])


@pytest.mark.parametrize("class_wires,match", [
    ([[9, 11], [8, 0]], r"class_wires\[0\]\[1\]: class 0 wire 1 is 11"),
    ([[9, -3]], "class 0 wire 1 is -3"),
    ([9, 10], r"\(num_classes, G\)"),
    (np.zeros((2, 0), np.int64), r"\(num_classes, G\)"),
])
def test_class_wires_out_of_range(class_wires, match):
    ir = tiny_ir()
    with pytest.raises(IRError, match=match):
        NetlistIR(ir.input_shape, ir.encoder, ir.layers, class_wires)


def test_table_and_layer_shapes():
    with pytest.raises(IRError, match=r"tables must have shape \(2, 8\) for k=3"):
        LUTLayer("x", [[0, 1, 2], [0, 1, 2]], np.zeros((2, 4), bool))
    with pytest.raises(IRError, match="inputs must be"):
        LUTLayer("x", np.zeros((0, 2), np.int64), np.zeros((0, 4), bool))
    with pytest.raises(IRError, match="inputs must be"):
        LUTLayer("x", np.zeros((1, 17), np.int64), np.zeros((1, 1 << 17), bool))
    with pytest.raises(IRError, match="input_shape"):
        NetlistIR((2, 2), tiny_encoder(), (), [[0]])
    with pytest.raises(IRError, match="EncoderHardwareForm"):
        NetlistIR((3,), "thermometer", (), [[0]])


def test_json_errors_name_the_problem(tmp_path):
    good = tiny_ir().to_dict()

    def broken(**changes):
        d = json.loads(json.dumps(good))
        for path, value in changes.items():
            target = d
            *keys, last = path.split("__")
            for key in keys:
                target = target[int(key)] if isinstance(target, list) else target[key]
            if value is KeyError:
                del target[last]
            else:
                target[int(last) if isinstance(target, list) else last] = value
        return d

    cases = [
        (broken(version=IR_VERSION + 1), f"IR version {IR_VERSION + 1} is not supported"),
        (broken(version=KeyError), "version null is not supported"),
        (broken(format="onnx"), "not a DiffLUT netlist IR"),
        ({"nodes": []}, "not a DiffLUT netlist IR"),
        ([1, 2], "not a DiffLUT netlist IR"),
        (broken(extra=1), r"^\(top level\): unexpected key 'extra'$"),
        (broken(class_wires=KeyError), r"^\(top level\): missing key 'class_wires'$"),
        (broken(layers__0__tables__1="zz"), r"^layers\[0\]\.tables\[1\]: expected a lowercase hex string, got \"zz\"$"),
        (broken(layers__0__tables__1="1f"), r"^layers\[0\]\.tables\[1\]: expected 1 hex digits holding 4 bits"),
        (broken(layers__0__k=17), r"^layers\[0\]\.k: expected an integer in 1\.\.16, got 17$"),
        (broken(layers__0__inputs=[[0, 1], [2, CONST1]]),
         r"^layers\[0\]\.tables: expected 2 tables \(one per row of inputs\), got 3$"),
        (broken(layers__0__inputs=[[0, "a"], [2, 1], [4, 5]]),
         r"^layers\[0\]\.inputs\[0\]\[1\]: expected an integer wire id \(>= -2\), got \"a\"$"),
        (broken(layers__1__inputs__0=[6, 7, 9]), r"^layers\[1\]\.inputs\[0\]\[2\]: .* reads wire 9"),
        (broken(layers__0__name=KeyError), r"^layers\[0\]: missing key 'name'$"),
        (broken(class_wires=[[9, 10], [8]]), r"^class_wires\[1\]: expected 2 wires \(as class_wires\[0\]\), got 1$"),
        (broken(encoder__num_bits=3), r"^encoder\.thresholds\[0\]: expected 3 entries \(num_bits\), got 2$"),
        (broken(encoder__thresholds__0__0=None), r"^encoder\.thresholds\[0\]\[0\] / encoder\.tables\[0\]\[0\]: "
                                                 r"bit \(0, 0\) needs exactly one of a threshold and a table"),
    ]
    for d, match in cases:
        with pytest.raises(IRError, match=match):
            NetlistIR.from_dict(d)
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    with pytest.raises(IRError, match="not valid JSON"):
        load_ir(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(IRError, match="not valid JSON"):
        load_ir(path)
    path.write_text(json.dumps({"format": "difflut-checkpoint"}))
    with pytest.raises(IRError, match="not a DiffLUT netlist IR"):
        load_ir(path)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 16])
def test_round_trip_is_byte_identical(k, tmp_path):
    rng = np.random.default_rng(k)
    nodes = 4
    inputs = rng.integers(CONST1, 6, size=(nodes, k))
    tables = rng.random((nodes, 1 << k)) < 0.5
    tables[0] = True  # a full row: every hex digit f
    layer = LUTLayer(f"k{k}", inputs, tables)
    ir = NetlistIR((3,), tiny_encoder(), (layer,), [[6, 7], [8, CONST0]],
                   {"model": "tiny", "overrides": {"layer_widths": [4, 2]}, "checkpoint_sha256": "ab" * 32})
    path = tmp_path / "ir.json"
    save_ir(ir, path)
    first = path.read_bytes()
    loaded = load_ir(path)
    save_ir(loaded, path)
    assert path.read_bytes() == first == ir.to_json().encode()
    assert loaded.metadata == ir.metadata and loaded.encoder == ir.encoder
    assert np.array_equal(loaded.layers[0].inputs, inputs) and np.array_equal(loaded.layers[0].tables, tables)
    d = json.loads(first)
    assert len(d["layers"][0]["tables"][0]) == max(1, (1 << k) // 4)
    assert d["decision"].startswith("argmax")


def test_table_hex_is_little_endian_by_address():
    # table bit a = output at address a: 0b0110 (XOR) -> "6"; address 3 alone -> "8"
    layer = LUTLayer("x", [[0, 1], [0, 1]], [[0, 1, 1, 0], [0, 0, 0, 1]])
    assert layer.to_dict()["tables"] == ["6", "8"]
    wide = LUTLayer("y", [[0, 1, 2]], [[1, 0, 0, 0, 0, 0, 0, 1]])
    assert wide.to_dict()["tables"] == ["81"]


def test_arrays_are_frozen():
    ir = tiny_ir()
    with pytest.raises(ValueError):
        ir.layers[0].tables[0, 0] = True
    with pytest.raises(ValueError):
        ir.class_wires[0, 0] = 0
