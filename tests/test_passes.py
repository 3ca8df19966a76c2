"""IR passes: each preserves the function exactly and removes what it claims.

Function preservation is checked exhaustively on small hand-made netlists (1-bit input codes, so
every input vector is enumerated) and on lowered zoo models against PyTorch on MNIST; a negative
test shows the equivalence check catches a single corrupted table entry or threshold.
"""

import itertools
import json

import numpy as np
import pytest
import torch

from difflut import GroupSum, InputFormat, get_encoder, get_layer
from difflut.data import load_mnist
from difflut.encoders import EncoderHardwareForm
from difflut.hw import CONST0, CONST1, LUTLayer, NetlistIR
from difflut.hw.lower import lower, lower_layers
from difflut.hw.passes import (
    collapse_identities,
    depends_on,
    fold_constants,
    merge_duplicates,
    optimize,
    prune_inputs,
    remove_dead,
    same_netlist,
)
from difflut.models import get_model
from irtools import reference_eval, reference_wires

PASSES = [fold_constants, prune_inputs, collapse_identities, merge_duplicates, remove_dead, lambda ir: optimize(ir)]
BIT = InputFormat(1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bit_encoder(features: int) -> EncoderHardwareForm:
    """1-bit codes, 2 bits per feature: bit 0 = the code, bit 1 = a constant (feature parity)."""
    tables = np.zeros((features, 2, 2), dtype=bool)
    tables[:, 0] = [False, True]
    tables[1::2, 1] = True
    return EncoderHardwareForm.from_tables(BIT, "custom", tables)


def all_codes(features: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=features)), dtype=np.int64)


def random_netlist(seed: int, features: int = 9, widths=(14, 12, 9), k: int = 3, classes: int = 3) -> NetlistIR:
    """A random netlist full of what the passes remove: constants, identities, inverters, inputs a
    table ignores, repeated inputs, constant inputs, dead LUTs and constant class wires."""
    rng = np.random.default_rng(seed)
    patterns = (np.arange(1 << k)[None, :] >> np.arange(k)[:, None]) & 1 == 1
    encoder = bit_encoder(features)
    base, layers = encoder.output_size, []
    for i, width in enumerate(widths):
        inputs = rng.integers(CONST1, base, size=(width, k))
        tables = rng.random((width, 1 << k)) < 0.5
        kind = rng.integers(0, 6, size=width)
        j = rng.integers(0, k, size=width)
        tables[kind == 1] = rng.random((int((kind == 1).sum()), 1)) < 0.5  # constant
        tables[kind == 2] = patterns[j[kind == 2]]  # identity of input j
        tables[kind == 3] = ~patterns[j[kind == 3]]  # inverter of input j
        ignore = kind == 4  # ignores input j: copy the bit-clear half
        a = np.arange(1 << k)
        for jj in range(k):
            rows = np.flatnonzero(ignore & (j == jj))
            tables[rows] = tables[rows][:, a & ~(1 << jj)]
        inputs[kind == 5, 1] = inputs[kind == 5, 0]  # a repeated input
        layers.append(LUTLayer(f"l{i}", inputs, tables))
        base += width
    last = np.arange(base - widths[-1], base)
    group = rng.permutation(np.concatenate([last, rng.integers(CONST1, base, size=classes * 4 - last.size)]))
    return NetlistIR((features,), encoder, tuple(layers), group.reshape(classes, -1), {"model": f"random{seed}"})


def assert_equivalent(a: NetlistIR, b: NetlistIR, codes: np.ndarray) -> None:
    sa, pa = reference_eval(a, codes)
    sb, pb = reference_eval(b, codes)
    assert np.array_equal(sa, sb) and np.array_equal(pa, pb)


# -- function preservation ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("run", PASSES, ids=["fold", "prune", "collapse", "merge", "dead", "optimize"])
def test_passes_preserve_the_function_exhaustively(run, seed):
    ir = random_netlist(seed, k=2 + seed % 4)
    out, report = run(ir)
    assert_equivalent(ir, out, all_codes(ir.num_features))
    assert all(isinstance(v, int) and v >= 0 for v in report.values() if not isinstance(v, dict))
    again, _ = run(ir)
    assert again.to_json() == out.to_json()  # deterministic
    assert out.metadata == ir.metadata and out.encoder == ir.encoder and out.class_wires.shape == ir.class_wires.shape


@pytest.mark.parametrize("seed", range(12))
def test_optimize_reaches_a_fixed_point_and_shrinks(seed):
    ir = random_netlist(seed, k=2 + seed % 4)
    out, report = optimize(ir)
    assert report["luts_before"] == ir.num_luts and report["luts_after"] == out.num_luts < ir.num_luts
    assert report["luts_before"] - report["luts_after"] == report["remove_dead"]["luts_removed"]
    again, second = optimize(out)
    assert same_netlist(again, out) and second["iterations"] == 1 and second["luts_after"] == out.num_luts
    # what the fixed point guarantees: no constant, identity or inverter LUT feeds a LUT; no ignored
    # input is connected; every LUT reaches a class wire
    for layer in out.layers:
        assert (depends_on(layer.tables) | (layer.inputs == CONST0)).all()
        assert not (layer.inputs == CONST1).any()
    constant = np.concatenate([l.tables.all(1) | ~l.tables.any(1) for l in out.layers]) if out.layers else []
    assert not np.any(constant)
    assert remove_dead(out)[1]["luts_removed"] == 0
    read_by_luts = np.concatenate([l.inputs.ravel() for l in out.layers] + [np.zeros(0, np.int64)])
    for layer, base in zip(out.layers, out.layer_bases):
        patterns = (np.arange(1 << layer.k)[None, :] >> np.arange(layer.k)[:, None]) & 1 == 1
        is_buffer = (layer.tables[:, None] == patterns).all(-1).any(1)
        is_inverter = (layer.tables[:, None] == ~patterns).all(-1).any(1)
        assert not is_buffer.any()  # bypassed and removed
        assert not np.isin(base + np.flatnonzero(is_inverter), read_by_luts).any()  # absorbed by LUT readers


@pytest.mark.parametrize("name,overrides", [
    ("mnist_fc_8k_dwn", {"layer_widths": (60, 30), "mapping": "learnable"}),
    ("mnist_residual_init", {"layer_widths": (60, 30)}),
    ("cifar10_conv", {"conv_channels": (2, 2), "layer_widths": (20, 10), "encoder_bits": 3}),
])
def test_optimized_zoo_models_equal_pytorch(name, overrides):
    images, _ = load_mnist("test")
    if name == "cifar10_conv":
        digits = torch.nn.functional.pad(images[:64].long(), (2, 2, 2, 2))
        images = torch.stack([digits, digits.flip(2), 255 - digits], 1)
    else:
        images = images[:500]
    model = get_model(name, **overrides).fit_encoder(images).eval()
    out, report = optimize(lower(model))
    assert report["luts_after"] < report["luts_before"]
    scores, predictions = reference_eval(out, images)
    assert np.array_equal(scores, model.class_scores(images).numpy())
    assert np.array_equal(predictions, model.predict(images).numpy())


def test_residual_init_model_collapses_onto_encoder_bits():
    images, labels = load_mnist("train")
    model = get_model("mnist_residual_init", layer_widths=(100, 50)).fit_encoder(images[:2000]).eval()
    ir = lower(model)
    # residual init: every node is "output = input 0", so everything collapses onto encoder bits
    out, report = optimize(ir)
    assert out.num_luts == 0 and report["collapse_identities"]["identity_reads"] >= 50
    assert (out.class_wires < ir.num_encoder_wires).all()
    test, _ = load_mnist("test")
    assert np.array_equal(reference_eval(out, test[:500])[0], model.class_scores(test[:500]).numpy())


# -- each pass removes what it claims --------------------------------------------------------------------
def encoder4() -> EncoderHardwareForm:
    return bit_encoder(4)  # wires 0, 2, 4, 6 = codes; 1, 5 = const 0; 3, 7 = const 1


def build(layers, class_wires) -> NetlistIR:
    return NetlistIR((4,), encoder4(), tuple(LUTLayer(n, i, t) for n, i, t in layers), class_wires)


AND = [0, 0, 0, 1]
OR = [0, 1, 1, 1]
XOR = [0, 1, 1, 0]
BUF0 = [0, 1, 0, 1]  # output = input 0
NOT0 = [1, 0, 1, 0]  # output = NOT input 0


def test_fold_constants():
    ir = build([
        ("a", [[0, 2], [0, 3], [2, 1]], [[1, 1, 1, 1], AND, OR]),  # 8: const 1; 9: AND(w0, 1); 10: OR(w2, 0)
        ("b", [[8, 4], [9, 10]], [AND, XOR]),                        # 11: AND(const 1, w4)
    ], [[11, 8], [12, 10]])
    out, report = fold_constants(ir)
    a, b = out.layers
    assert a.inputs.tolist() == [[0, 2], [0, CONST0], [2, CONST0]]
    assert a.tables[1].tolist() == [0, 1, 0, 1] and a.tables[2].tolist() == [0, 1, 0, 1]  # both now buffers
    assert b.inputs.tolist() == [[CONST0, 4], [9, 10]] and b.tables[0].tolist() == [0, 0, 1, 1]
    assert out.class_wires.tolist() == [[11, CONST1], [12, 10]]
    assert report == {"constant_luts": 1, "inputs_folded": 3, "class_wires_folded": 1, "tables_specialised": 3}
    assert_equivalent(ir, out, all_codes(4))


def test_constants_propagate_through_layers():
    ir = build([("a", [[1, 3]], [AND]), ("b", [[8, 0]], [OR]), ("c", [[9, 9]], [XOR])], [[10], [9]])
    out, report = fold_constants(ir)  # 8 = 0 AND 1 = 0, 9 = OR(0, w0) = w0, 10 = XOR(w0, w0) stays (not folded)
    assert report["constant_luts"] == 1 and out.class_wires.tolist() == [[10], [9]]
    out, report = optimize(ir)
    assert out.num_luts == 0 and out.class_wires.tolist() == [[CONST0], [0]]  # XOR(x, x) = 0; OR(0, x) = x
    assert_equivalent(ir, out, all_codes(4))


def test_prune_inputs():
    ignores_1 = [0, 1, 0, 1, 1, 1, 1, 1]  # k=3: (in0) OR (in2), input 1 ignored
    ir = build([
        ("a", [[0, 2, 4], [0, 0, 6], [2, CONST0, 4]], [ignores_1, [0, 0, 0, 1, 1, 1, 1, 0], [1, 0, 1, 1, 0, 0, 0, 0]]),
    ], [[8, 9], [10, 8]])
    out, report = prune_inputs(ir)
    (a,) = out.layers
    # node 0: input 1 disconnected; node 1 = (in0 AND in1) XOR in2 with in1 repeating in0 -> in0 XOR in2
    # node 2 reads CONST0 at input 1 with a non-canonical table: canonicalised, not counted
    assert report == {"inputs_pruned": 1, "duplicate_inputs_merged": 1, "columns_dropped": 1}
    assert a.k == 2 and a.inputs.tolist() == [[0, 4], [0, 6], [2, 4]]  # column 1 is CONST0 everywhere: dropped
    assert a.tables.tolist() == [[0, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0]]
    assert_equivalent(ir, out, all_codes(4))


def test_collapse_identities_and_inverters():
    ir = build([
        ("a", [[0, 2], [4, 2], [6, 6]], [BUF0, NOT0, AND]),   # 8 = w0, 9 = NOT w4, 10 = w6 AND w6
        ("b", [[8, 2], [9, 10], [9, 8]], [NOT0, BUF0, AND]),  # 11 = NOT w0, 12 = NOT w4, 13 = NOT w4 AND w0
        ("c", [[11, 12]], [[1, 0, 0, 0]]),                   # 14 = NOR(NOT w0, NOT w4) = w0 AND w4
    ], [[8, 12], [14, 13]])
    out, report = collapse_identities(ir)
    a, b, c = out.layers
    assert b.inputs.tolist() == [[0, 2], [4, 10], [4, 0]]  # read past the buffer 8 and the inverter 9
    assert b.tables[1].tolist() == NOT0 and b.tables[2].tolist() == [0, 0, 1, 0]  # inverter absorbed
    assert c.inputs.tolist() == [[0, 4]] and c.tables[0].tolist() == AND  # two inverters absorbed
    # class wires: 8 -> w0 (identity); 12 stays (an inverter: the popcount needs the true polarity)
    assert out.class_wires.tolist() == [[0, 12], [14, 13]]
    assert report == {"identity_reads": 3, "inverter_reads": 4, "luts_bypassed": 4}
    assert_equivalent(ir, out, all_codes(4))
    dead, r = remove_dead(out)
    assert r == {"luts_removed": 3, "layers_removed": 0} and dead.num_luts == 4
    assert_equivalent(ir, dead, all_codes(4))


def test_remove_dead_renumbers_and_drops_empty_layers():
    ir = build([
        ("a", [[0, 2], [2, 4]], [AND, OR]),      # 8 live, 9 dead
        ("b", [[9, 4]], [XOR]),                 # 10 dead: its layer disappears
        ("c", [[8, CONST1], [8, 9]], [AND, OR]),  # 11 live, 12 dead
    ], [[11, 0], [8, CONST0]])
    out, report = remove_dead(ir)
    assert report == {"luts_removed": 3, "layers_removed": 1}
    assert [l.name for l in out.layers] == ["a", "c"]
    assert out.layers[0].inputs.tolist() == [[0, 2]] and out.layers[1].inputs.tolist() == [[8, CONST1]]
    assert out.class_wires.tolist() == [[9, 0], [8, CONST0]]
    assert_equivalent(ir, out, all_codes(4))


# -- the equivalence check is not vacuous --------------------------------------------------------------------
def test_a_corrupted_table_entry_is_caught():
    images, _ = load_mnist("test")
    images = images[:500]
    model = get_model("mnist_fc_8k_dwn", layer_widths=(60, 30)).fit_encoder(images).eval()
    expected = model.class_scores(images).numpy()
    for ir in (lower(model), optimize(lower(model))[0]):
        assert np.array_equal(reference_eval(ir, images)[0], expected)
        # flip the one table entry that a class wire's LUT looks up for sample 0
        c, g = np.argwhere(ir.class_wires >= ir.num_encoder_wires)[0]
        wire = int(ir.class_wires[c, g])
        index = max(i for i, base in enumerate(ir.layer_bases) if base <= wire)
        layer, node = ir.layers[index], wire - ir.layer_bases[index]
        values = reference_wires(ir, images[:1])
        address = int((values[0, layer.inputs[node]].astype(int) << np.arange(layer.k)).sum())
        d = json.loads(ir.to_json())
        tables = layer.tables.copy()
        tables[node, address] ^= True
        d["layers"][index] = LUTLayer(layer.name, layer.inputs, tables).to_dict()
        bad = NetlistIR.from_dict(d)
        got = reference_eval(bad, images)[0]
        assert not np.array_equal(got, expected) and got[0, c] != expected[0, c]


def test_a_corrupted_threshold_is_caught():
    fmt = InputFormat(8, divisor=255.0)
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 256, (200, 10), generator=g)
    enc = get_encoder("thermometer")(num_bits=2).fit(fmt.to_float(codes))
    layer = get_layer("random")(20, 10, node_type="dwn", k=2, seed=0)  # 20 slots: every bit read once
    with torch.no_grad():
        layer.node.table.copy_(torch.tensor([-1.0, 1.0, 1.0, -1.0]).expand(10, 4))  # XOR: any flip shows
    enc.eval(), layer.eval()
    expected = GroupSum(10).popcount(layer(enc(fmt.to_float(codes)))).numpy()
    ir = lower_layers(enc, [layer], GroupSum(10), fmt)
    assert np.array_equal(reference_eval(ir, codes)[0], expected)
    d = json.loads(ir.to_json())
    code, threshold = int(codes[0, 3]), d["encoder"]["thresholds"][3][1]
    # move feature 3's bit-1 threshold just across sample 0's code
    d["encoder"]["thresholds"][3][1] = code + 1 if code >= threshold else code
    bad = NetlistIR.from_dict(d)
    got = reference_eval(bad, codes)[0]
    assert not np.array_equal(got, expected) and (got[0] != expected[0]).sum() == 1


# -- common-subexpression merge ---------------------------------------------------------------------------
def with_twins(ir: NetlistIR, seed: int) -> NetlistIR:
    """``ir`` with each layer doubled: every node gets a twin reading the same wires in a random order
    (table permuted to match); later layers and class wires read twins or originals at random."""
    rng = np.random.default_rng(seed)
    layers, base, remap = [], ir.num_encoder_wires, np.arange(ir.num_wires)
    new_of = {}
    for layer, old_base in zip(ir.layers, ir.layer_bases):
        n, k = layer.inputs.shape
        inputs = layer.inputs.copy()
        real = inputs >= 0
        inputs[real] = remap[inputs[real]]
        perm = np.argsort(rng.random((n, k)), axis=1)
        twin_inputs = np.take_along_axis(inputs, perm, axis=1)
        # twin input j is original input perm[j]: T_twin[a] = T[sum_j bit_j(a) << perm[j]]
        bits = (np.arange(1 << k)[None, None, :] >> np.arange(k)[None, :, None]) & 1
        twin_tables = np.take_along_axis(layer.tables, (bits << perm[:, :, None]).sum(1), axis=1)
        layers.append(LUTLayer(layer.name, np.concatenate([inputs, twin_inputs]),
                               np.concatenate([layer.tables, twin_tables])))
        pick = rng.random(n) < 0.5
        remap[old_base:old_base + n] = base + np.arange(n) + np.where(pick, n, 0)
        base += 2 * n
    cw = ir.class_wires.copy()
    cw[cw >= 0] = remap[cw[cw >= 0]]
    return NetlistIR(ir.input_shape, ir.encoder, tuple(layers), cw, ir.metadata)


@pytest.mark.parametrize("seed", range(8))
def test_merge_duplicates_merges_permuted_twins_exhaustively(seed):
    ir = random_netlist(seed, k=2 + seed % 4)
    doubled = with_twins(ir, seed)
    assert_equivalent(ir, doubled, all_codes(ir.num_features))  # the test netlist itself is right
    merged, report = merge_duplicates(doubled)
    assert_equivalent(doubled, merged, all_codes(ir.num_features))
    # twins of a node with a repeated input differ on impossible addresses until prune_inputs merges it
    canonical, _ = prune_inputs(doubled)
    merged, report = merge_duplicates(canonical)
    assert_equivalent(doubled, merged, all_codes(ir.num_features))
    assert report["luts_merged"] >= ir.num_luts  # every twin (and any duplicate already in ir)
    out, _ = remove_dead(merged)
    assert out.num_luts <= ir.num_luts
    opt_doubled, _ = optimize(doubled)
    assert opt_doubled.num_luts <= optimize(ir)[0].num_luts


def test_merge_duplicates_keeps_nodes_that_differ():
    """Same inputs, tables differing in one entry: not merged (and the equivalence check sees a
    mismatch when one is forced onto the other)."""
    enc = bit_encoder(4)
    inputs = np.array([[0, 2, 4], [4, 0, 2]])
    table = np.random.default_rng(0).random(8) < 0.5
    bits = (np.arange(8)[None, :] >> np.arange(3)[:, None]) & 1
    perm = np.array([2, 0, 1])  # node 1 input j is node 0 input perm[j]
    permuted = table[(bits << perm[:, None]).sum(0)]
    different = permuted.copy()
    different[5] = ~different[5]
    for second, merged in ((permuted, 1), (different, 0)):
        ir = NetlistIR((4,), enc, (LUTLayer("l0", inputs, np.stack([table, second])),),
                       np.array([[8], [9]]), {})
        out, report = merge_duplicates(ir)
        assert report["luts_merged"] == merged
        assert_equivalent(ir, out, all_codes(4))
        if not merged:  # nothing to merge: the netlist (input order, tables) is unchanged
            assert same_netlist(ir, out)
    # negative: reading node 0 in place of a node that differs changes the scores
    ir = NetlistIR((4,), enc, (LUTLayer("l0", inputs, np.stack([table, different])),), np.array([[8], [9]]), {})
    wrong = NetlistIR((4,), enc, ir.layers, np.array([[8], [8]]), {})
    with pytest.raises(AssertionError):
        assert_equivalent(ir, wrong, all_codes(4))
