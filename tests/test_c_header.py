"""The C backend: generated headers compiled with gcc -Werror agree with the IR evaluator bit for bit."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from difflut.hw.c_header import CBackendError, generate_header, generate_selftest
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.ir import LUTLayer, NetlistIR, load_ir, save_ir
from difflut.input_format import InputFormat
from irtools import random_codes, random_ir

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror"]


def run_selftest(folder, ir, name, codes, scores, classes, flags=CFLAGS):
    """Write <name>.h + <name>_selftest.c, compile, run: (exit status, stdout)."""
    (folder / f"{name}.h").write_text(generate_header(ir, name))
    (folder / f"{name}_selftest.c").write_text(generate_selftest(ir, name, codes, scores, classes))
    build = subprocess.run([CC, *flags, f"{name}_selftest.c", "-o", name], cwd=folder, capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(folder / name)], cwd=folder, capture_output=True, text=True)
    return run.returncode, run.stdout


def check_against_evaluator(folder, ir, codes, name="m"):
    scores, classes = evaluate_ir(ir, codes)
    rc, out = run_selftest(folder, ir, name, codes, scores, classes)
    assert rc == 0 and "PASS" in out, out
    assert f"{len(codes)} vectors" in out
    return scores, classes


C_FORMATS = [InputFormat(8), InputFormat(8, signed=True), InputFormat(4, signed=True), InputFormat(16),
             InputFormat(16, signed=True), InputFormat(3), InputFormat(10, signed=True), InputFormat(1)]


@pytest.mark.parametrize("i", range(len(C_FORMATS)))
def test_random_irs_compiled_match_evaluator(tmp_path, i):
    fmt = C_FORMATS[i]
    # every k 1..8 in every IR; table encoder bits except for the 16-bit formats (65536-entry tables)
    ir = random_ir(200 + i, ks=(1, 2, 3, 4, 5, 6, 7, 8), fmt=fmt, widths=(30, 25, 25, 20, 20, 20, 15, 12),
                   num_classes=4, const_p=0.1, table_fraction=0.0 if fmt.bits > 12 else 0.3)
    codes = random_codes(ir, 157, seed=i)  # 3 batches, the last one partial
    codes[0] = fmt.min_code
    codes[1] = fmt.max_code
    check_against_evaluator(tmp_path, ir, codes)


def test_wide_table_encoder(tmp_path):
    """A 12-bit code with arbitrary table bits (Shannon expansion over 12 code bits)."""
    ir = random_ir(7, ks=(6, 6), fmt=InputFormat(12, signed=True), input_shape=(3,), num_bits=2, widths=(16, 8),
                   num_classes=2, table_fraction=1.0)
    check_against_evaluator(tmp_path, ir, random_codes(ir, 100, seed=3))


def test_optimised_ir_and_dead_logic(tmp_path):
    """Layers whose outputs reach no class, and class wires on encoder bits and constants."""
    ir = random_ir(11, ks=(6, 2, 6), widths=(40, 30, 30), num_classes=5, const_p=0.3, class_consts=(0.15, 0.15))
    check_against_evaluator(tmp_path, ir, random_codes(ir, 64, seed=1))


def test_wide_classes_count_in_16_bit_fields(tmp_path):
    """350 wires per class: the adder trees' counts need more than 8 bits."""
    ir = random_ir(13, ks=(3, 3), widths=(60, 700), num_classes=2)
    assert ir.class_wires.shape[1] == 350
    check_against_evaluator(tmp_path, ir, random_codes(ir, 150, seed=2))


def test_mismatches_are_caught_and_counted(tmp_path):
    """Corrupted expected values, a flipped truth-table bit and a moved threshold all fail the selftest."""
    ir = random_ir(12, ks=(4, 4), fmt=InputFormat(8), widths=(30, 20), num_classes=2, const_p=0.0,
                   class_consts=(0, 0), table_fraction=0.0, class_source="last")
    codes = random_codes(ir, 200, seed=5)
    scores, classes = evaluate_ir(ir, codes)
    bad_scores = scores.copy()
    bad_scores[3, 1] += 1
    rc, out = run_selftest(tmp_path, ir, "m", codes, bad_scores, classes)
    assert rc == 1 and "batch API: 1 score / 0 class" in out and "FAIL" in out
    assert "predict_batch: 1 score / 0 class" in out
    bad_classes = classes.copy()
    bad_classes[:5] = (bad_classes[:5] + 1) % 2
    rc, out = run_selftest(tmp_path, ir, "m", codes, scores, bad_classes)
    assert rc == 1 and "5 class mismatches" in out

    # a corrupted truth table in the IR: its C disagrees with the original's expected values
    wire = next(int(w) for w in ir.class_wires.ravel() if w >= ir.layer_bases[1])
    node = wire - ir.layer_bases[1]
    for address in range(16):
        tables = ir.layers[1].tables.copy()
        tables[node, address] ^= True
        bad = NetlistIR(ir.input_shape, ir.encoder, (ir.layers[0], LUTLayer("l1", ir.layers[1].inputs, tables)),
                        ir.class_wires)
        if not np.array_equal(evaluate_ir(bad, codes)[0], scores):
            break
    else:
        pytest.fail("no table bit of a class node is addressed by the codes")
    rc, out = run_selftest(tmp_path, bad, "m", codes, scores, classes)
    assert rc == 1 and "FAIL" in out

    # a corrupted threshold in the IR's encoder stage
    enc = ir.encoder
    fmt = enc.input_format
    found = False
    for f in range(enc.num_features):
        for b in range(enc.num_bits):
            t = int(enc.thresholds[f, b])
            if not enc.is_threshold[f, b] or not fmt.min_code < t <= fmt.max_code:
                continue
            tables = enc.tables.copy()
            numeric = np.arange(fmt.min_code, fmt.max_code + 1)
            tables[f, b, numeric & (fmt.num_codes - 1)] = numeric >= t + 40
            from difflut.hw.encoder_form import EncoderHardwareForm
            bad = NetlistIR(ir.input_shape, EncoderHardwareForm.from_tables(fmt, "x", tables), ir.layers,
                            ir.class_wires)
            if not np.array_equal(evaluate_ir(bad, codes)[0], scores):
                found = True
                break
        if found:
            break
    assert found
    rc, out = run_selftest(tmp_path, bad, "m", codes, scores, classes)
    assert rc == 1 and "FAIL" in out


def test_deterministic_and_round_trip(tmp_path):
    ir = random_ir(13, ks=(5, 6))
    text = generate_header(ir, "net")
    assert generate_header(ir, "net") == text
    save_ir(ir, tmp_path / "net.ir.json")
    assert generate_header(load_ir(tmp_path / "net.ir.json"), "net") == text
    codes = random_codes(ir, 10, seed=0)
    s, c = evaluate_ir(ir, codes)
    assert generate_selftest(ir, "net", codes, s, c) == generate_selftest(ir, "net", codes, s, c)


def test_header_only_two_units_and_unused_include(tmp_path):
    """No globals with state, no unused-function warnings: two units include it and link, one unused."""
    ir = random_ir(14, ks=(3, 3, 3), fmt=InputFormat(8, signed=True))
    (tmp_path / "net.h").write_text(generate_header(ir, "net"))
    (tmp_path / "a.c").write_text('#include "net.h"\nint a(const int8_t *x) { return net_predict(x, 0); }\n')
    (tmp_path / "b.c").write_text('#include "net.h"\nint b(void);\nint b(void) { return NET_NUM_CLASSES; }\n'
                                  'int a(const int8_t *x);\nint main(void) { int8_t x[NET_NUM_FEATURES] = {0};\n'
                                  '  return a(x) < 0 || b() != NET_NUM_CLASSES; }\n')
    (tmp_path / "c.c").write_text('#include "net.h"\nint c(void);\nint c(void) { return 0; }\n')
    for unit in ("a.c", "b.c", "c.c"):
        r = subprocess.run([CC, *CFLAGS, "-pedantic", "-c", unit], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([CC, "a.o", "b.o", "c.o", "-o", "prog"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(tmp_path / "prog")]).returncode == 0
    text = (tmp_path / "net.h").read_text()
    assert "malloc" not in text
    for line in text.splitlines():  # every file-scope object is const
        if line.startswith("static") and "(" not in line:
            assert line.startswith("static const"), line


def test_errors():
    ir = random_ir(15)
    for bad in ("1abc", "a-b", "", "x" * 64, None):
        with pytest.raises(CBackendError, match="C name must be an identifier"):
            generate_header(ir, bad)
    for reserved in ("int", "for", "__x", "_Bool", "module"):  # the one name rule refuses keywords too
        with pytest.raises(CBackendError, match="C name"):
            generate_header(ir, reserved)
    with pytest.raises(TypeError):
        generate_header(ir.to_dict(), "m")
    codes = random_codes(ir, 3, seed=0)
    s, c = evaluate_ir(ir, codes)
    with pytest.raises(CBackendError, match="at least one"):
        generate_selftest(ir, "m", codes[:0], s[:0], c[:0])
    with pytest.raises(CBackendError, match="must be"):
        generate_selftest(ir, "m", codes, s[:, :1], c)


def test_constant_classes_only(tmp_path):
    """No live logic at all (every class wire a constant or a constant LUT): still compiles with -Werror."""
    from difflut.hw.ir import CONST0, CONST1

    ir = random_ir(16, ks=(2,), widths=(4,), num_classes=2)
    const_layer = LUTLayer("c", np.array([[0, 1], [2, 3]]), np.array([[True] * 4, [False] * 4]))
    base = ir.num_encoder_wires
    ir = NetlistIR(ir.input_shape, ir.encoder, (const_layer,),
                   np.array([[CONST1, base, CONST0], [base + 1, CONST1, base]]))
    scores, classes = check_against_evaluator(tmp_path, ir, random_codes(ir, 70, seed=0))
    assert scores.tolist() == [[2, 2]] * 70 and classes.tolist() == [0] * 70


@pytest.mark.parametrize("node_index", range(10))
def test_random_models_of_every_node_type_and_encoder_pytorch_ir_c_agree(tmp_path, node_index):
    """PyTorch eval == IR evaluator == compiled C for random models: each node type, encoders in rotation."""
    import torch

    from difflut import GroupSum, get_encoder, get_layer, list_encoders, list_nodes
    from difflut.hw.lower import lower_layers

    nodes, encoders = list_nodes(), list_encoders()
    assert len(nodes) == 10 and len(encoders) <= 10  # every node type and every encoder is covered
    node_type = nodes[node_index]
    k = 2 if node_type == "difflogic" else 4
    fmt = InputFormat(8, divisor=255.0)
    torch.manual_seed(node_index)
    codes = torch.randint(0, 256, (300, 12))
    for encoder_name in (encoders[node_index % len(encoders)], encoders[(node_index + 3) % len(encoders)]):
        encoder = get_encoder(encoder_name)(num_bits=4).fit(fmt.to_float(codes))
        layers = [get_layer("random")(48, 40, node_type=node_type, k=k, seed=node_index),
                  get_layer("random")(40, 20, node_type=node_type, k=k, seed=node_index + 1)]
        head = GroupSum(5)
        for m in (encoder, *layers, head):
            m.eval()
        bits = encoder(fmt.to_float(codes))
        for layer in layers:
            bits = layer(bits)
        expected = head.popcount(bits)
        ir = lower_layers(encoder, layers, head, fmt)
        scores, classes = check_against_evaluator(tmp_path, ir, codes.numpy(), name=f"m_{encoder_name}")
        assert np.array_equal(scores, expected.numpy())
        assert np.array_equal(classes, expected.argmax(1).numpy())


def test_unoptimised_ir_gives_the_code_of_its_optimised_form():
    """generate_header runs passes.optimize: only the comment naming the given IR (digest, sizes) differs."""
    from difflut.hw.c_header import ir_digest
    from difflut.hw.passes import optimize

    ir = random_ir(201, ks=(2, 4, 6), widths=(30, 25, 20), num_classes=4, const_p=0.2)
    optimised = optimize(ir)[0]
    assert optimised.num_luts < ir.num_luts
    raw, opt = generate_header(ir, "m").splitlines(), generate_header(optimised, "m").splitlines()
    assert ir_digest(ir) in raw[1] and ir_digest(optimised) in opt[1]
    assert raw[2] != opt[2] and raw[3:] == opt[3:]
