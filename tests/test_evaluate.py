"""The bit-packed IR evaluator (difflut.hw.evaluate) against the plain reference (tests/irtools.py)."""

from __future__ import annotations

import numpy as np
import pytest

from difflut.errors import InputError
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.ir import CONST0, CONST1, LUTLayer, NetlistIR, load_ir, save_ir
from difflut.input_format import InputFormat
from irtools import random_codes, random_encoder, random_ir, reference_eval


# -- tests ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(1, 9))
def test_every_k_matches_the_reference(k):
    ir = random_ir(100 + k, ks=(k, k, k), widths=(12, 9, 6))
    codes = random_codes(ir, 150, seed=k)
    scores, pred = evaluate_ir(ir, codes)
    ref_scores, ref_pred = reference_eval(ir, codes)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(pred, ref_pred)
    assert scores.dtype == np.int64 and pred.dtype == np.int64


@pytest.mark.parametrize("seed", range(8))
def test_random_irs_mixed_k_and_formats(seed):
    fmt = [InputFormat(8), InputFormat(8, signed=True), InputFormat(4, signed=True), InputFormat(12),
           InputFormat(1), InputFormat(16, signed=True), InputFormat(5), InputFormat(11, signed=True)][seed]
    ir = random_ir(seed, fmt=fmt, ks=None, widths=(12, 9, 6), const_p=0.15)  # random k in 1..8
    codes = random_codes(ir, 200, seed=seed)  # rows 0 and 1: min_code, max_code
    scores, pred = evaluate_ir(ir, codes, chunk=64)  # several chunks
    ref_scores, ref_pred = reference_eval(ir, codes)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(pred, ref_pred)


def test_flat_codes_and_any_integer_dtype():
    ir = random_ir(3, fmt=InputFormat(8))
    codes = random_codes(ir, 70, seed=0)
    a = evaluate_ir(ir, codes.astype(np.uint8))
    b = evaluate_ir(ir, codes.reshape(70, -1).astype(np.int32))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_ties_go_to_lowest_class():
    enc = random_encoder(np.random.default_rng(0), InputFormat(8), 1, 1, table_fraction=0.0)
    class_wires = np.array([[CONST1, CONST0], [CONST1, CONST0], [CONST0, CONST0]])
    ir = NetlistIR((1,), enc, (), class_wires)
    scores, pred = evaluate_ir(ir, np.zeros((3, 1), dtype=np.uint8))
    assert scores.tolist() == [[1, 1, 0]] * 3 and pred.tolist() == [0, 0, 0]
    ir = NetlistIR((1,), enc, (), np.array([[CONST0], [CONST1], [CONST1]]))
    assert evaluate_ir(ir, np.zeros((2, 1), dtype=np.uint8))[1].tolist() == [1, 1]


def test_empty_batch():
    ir = random_ir(4)
    scores, pred = evaluate_ir(ir, np.zeros((0, *ir.input_shape), dtype=np.int64))
    assert scores.shape == (0, ir.num_classes) and pred.shape == (0,)


def test_json_round_trip_evaluates_identically(tmp_path):
    ir = random_ir(5)
    save_ir(ir, tmp_path / "m.ir.json")
    ir2 = load_ir(tmp_path / "m.ir.json")
    codes = random_codes(ir, 100, seed=1)
    np.testing.assert_array_equal(evaluate_ir(ir, codes)[0], evaluate_ir(ir2, codes)[0])


def test_errors():
    ir = random_ir(6, fmt=InputFormat(8, signed=True))
    codes = random_codes(ir, 4, seed=0)
    with pytest.raises(TypeError, match="integer"):
        evaluate_ir(ir, codes.astype(np.float32))
    with pytest.raises(TypeError, match="integer"):
        evaluate_ir(ir, codes.astype(bool))
    with pytest.raises(InputError, match="shape"):
        evaluate_ir(ir, codes.reshape(4, 3, 2))
    with pytest.raises(InputError, match="shape"):
        evaluate_ir(ir, codes[0])
    bad = codes.copy()
    bad[0, 0, 0] = 128
    with pytest.raises(InputError, match="out of range"):
        evaluate_ir(ir, bad)
    bad[0, 0, 0] = -129
    with pytest.raises(InputError, match="out of range"):
        evaluate_ir(ir, bad)
    with pytest.raises(TypeError, match="NetlistIR"):
        evaluate_ir(ir.to_dict(), codes)
    with pytest.raises(ValueError, match="multiple of 64"):
        evaluate_ir(ir, codes, chunk=100)


def _replace_table(ir: NetlistIR, layer_index: int, node: int, address: int) -> NetlistIR:
    layers = list(ir.layers)
    layer = layers[layer_index]
    tables = layer.tables.copy()
    tables[node, address] ^= True
    layers[layer_index] = LUTLayer(layer.name, layer.inputs, tables)
    return NetlistIR(ir.input_shape, ir.encoder, tuple(layers), ir.class_wires, ir.metadata)


def test_corrupted_truth_table_is_caught():
    """The comparison can fail: flipping one table bit of a node that reaches a class changes scores."""
    enc = random_encoder(np.random.default_rng(0), InputFormat(8), 2, 1, table_fraction=0.0)
    layer = LUTLayer("l0", np.array([[0, 1]]), np.array([[False, False, False, True]]))
    ir = NetlistIR((2,), enc, (layer,), np.array([[2], [CONST0]]))
    codes = np.array([[255, 255]] * 3, dtype=np.uint8)
    before = evaluate_ir(ir, codes)[0]
    after = evaluate_ir(_replace_table(ir, 0, 0, 3), codes)[0]
    assert not np.array_equal(before, after)
    # and on random IRs: flipping addressed entries of nodes that feed a class changes the scores
    ir = random_ir(9, ks=(3, 3, 3), widths=(12, 9, 6), const_p=0.0, class_consts=(0, 0))
    codes = random_codes(ir, 300, seed=2)
    ref = reference_eval(ir, codes)[0]
    read = sorted({int(w) for w in ir.class_wires.ravel() if w >= ir.num_encoder_wires})[:3]
    assert read
    changed = 0
    for w in read:
        i = max(j for j, b in enumerate(ir.layer_bases) if b <= w)
        for a in range(8):
            if not np.array_equal(evaluate_ir(_replace_table(ir, i, w - ir.layer_bases[i], a), codes)[0], ref):
                changed += 1
    assert changed > 0
