"""Convolutional models in C: a table shared by many LUTs of a layer is one loop; PyTorch eval == IR == C."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import numpy as np
import pytest
import torch

from difflut.hw.c_header import generate_header, generate_selftest
from difflut.hw.c_slots import LOOP_MIN_LUTS, LutLoop, SlotPlan
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.export import build_ir, expected_outputs
from difflut.hw.ir import LUTLayer, NetlistIR
from difflut.hw.passes import depends_on, optimize
from difflut.input_format import InputFormat
from difflut.models import get_model
from irtools import random_ir

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]  # as the selftest's build line
QUICK_CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror"]


def conv_model(seed: int, images: int = 100, **overrides):
    """An untrained cifar10_conv, encoder fitted on synthetic uint8 images; (eval model, test images)."""
    torch.manual_seed(seed)
    model = get_model("cifar10_conv", seed=seed, **overrides)
    count = images
    images = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8)
    model.fit_encoder(images).eval()
    return model, images[:count].numpy()


def compile_and_run(folder, ir, codes, scores, classes, name="net", flags=CFLAGS):
    """(selftest exit status, stdout, gcc seconds)."""
    (folder / f"{name}.h").write_text(generate_header(ir, name))
    (folder / f"{name}_selftest.c").write_text(generate_selftest(ir, name, codes, scores, classes))
    start = time.perf_counter()
    build = subprocess.run([CC, *flags, f"{name}_selftest.c", "-o", name], cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(folder / name)], cwd=folder, capture_output=True, text=True)
    return run.returncode, run.stdout, seconds


def test_small_conv_model_pytorch_ir_c_agree(tmp_path):
    model, codes = conv_model(1, images=64, conv_channels=(2, 4), layer_widths=(40, 20))
    ir = build_ir(model)
    scores, classes = expected_outputs(model, codes)
    assert all(np.array_equal(a, b) for a, b in zip(evaluate_ir(ir, codes), (scores, classes)))
    plan = SlotPlan(ir)
    loops = [step for step in plan.steps if isinstance(step, LutLoop)]
    assert sum(len(loop.wires) for loop in loops) > 0.9 * ir.num_luts  # conv and pool LUTs share tables
    assert all(len(loop.wires) >= LOOP_MIN_LUTS for loop in loops)
    assert sorted(np.flatnonzero(plan.slot >= 0).tolist()) == sorted(plan.live_enc + list(
        range(ir.num_encoder_wires, ir.num_wires)))  # every LUT has a slot
    assert len(np.unique(plan.slot[plan.slot >= 0])) == plan.num_slots
    text = generate_header(ir, "net")
    assert re.search(r"const size_t q = net__loop\d+\[i\];", text)  # offset form (same pattern at every position)
    assert re.search(r"const uint32_t \*p = net__loop\d+ \+ i \* \d+;", text)  # index form
    rc, out, _ = compile_and_run(tmp_path, ir, codes, scores, classes, flags=QUICK_CFLAGS)
    assert rc == 0 and "PASS" in out, out


def full_support_table(rng, k: int) -> np.ndarray:
    """A random bool (2**k,) table that depends on all k inputs."""
    while True:
        table = rng.integers(0, 2, 1 << k).astype(bool)
        if depends_on(table[None])[0].all():
            return table


def shared_table_ir(seed: int, flip: int | None = None) -> NetlistIR:
    """64 LUTs of one table over shifted encoder bits (offset-form loop), then 32 LUTs of one table over
    random layer-0 wires (index-form loop), 16 per class; ``flip``: that address of layer 1's table inverted."""
    rng = np.random.default_rng(seed)
    base_ir = random_ir(seed, ks=(3,), fmt=InputFormat(8), input_shape=(70,), num_bits=1, widths=(4,),
                        num_classes=2, const_p=0.0, table_fraction=0.0)
    encoder = base_ir.encoder
    t0, t1 = (np.tile(full_support_table(rng, k), (n, 1)) for k, n in ((3, 64), (4, 32)))
    if flip is not None:
        t1[:, flip] ^= True
    layer0 = LUTLayer("shifted", np.arange(64)[:, None] + np.array([0, 3, 6]), t0)
    # every layer-0 LUT read twice, by two different random arrangements (no two LUTs alike: none merges)
    inputs1 = np.concatenate([rng.permutation(64).reshape(16, 4), rng.permutation(64).reshape(16, 4)]) + 70
    layer1 = LUTLayer("scattered", inputs1, t1)
    return NetlistIR((70,), encoder, (layer0, layer1),
                     np.arange(70 + 64, 70 + 96).reshape(2, 16))


def test_loops_of_both_forms_and_a_flipped_shared_table_bit(tmp_path):
    ir = shared_table_ir(3)
    plan = SlotPlan(optimize(ir)[0])
    assert [len(s.wires) for s in plan.steps if isinstance(s, LutLoop)] == [64, 32]
    codes = np.random.default_rng(0).integers(0, 256, (150, 70))
    scores, classes = evaluate_ir(ir, codes)
    text = generate_header(ir, "net")
    assert re.search(r"const size_t q = net__loop\d+\[i\];", text) and re.search(r"uint32_t \*p = net__loop", text)
    rc, out, _ = compile_and_run(tmp_path, ir, codes, scores, classes, flags=QUICK_CFLAGS)
    assert rc == 0 and "PASS" in out, out
    for address in range(16):
        bad = shared_table_ir(3, flip=address)
        if not np.array_equal(evaluate_ir(bad, codes)[0], scores):
            break
    else:
        pytest.fail("no bit of the shared table is addressed by the codes")
    assert [len(s.wires) for s in SlotPlan(optimize(bad)[0]).steps if isinstance(s, LutLoop)] == [64, 32]
    rc, out, _ = compile_and_run(tmp_path, bad, codes, scores, classes, flags=QUICK_CFLAGS)
    assert rc == 1 and "FAIL" in out, out


@pytest.mark.slow
def test_default_cifar10_conv_compiles_and_agrees(tmp_path):
    """The default cifar10_conv (356,503 LUTs after optimisation): gcc -O2 builds the selftest, which
    reproduces the PyTorch eval scores of 100 images bit for bit (times: docs/c_backend.md)."""
    model, codes = conv_model(0)
    ir = build_ir(model)
    assert ir.num_luts > 300_000
    scores, classes = expected_outputs(model, codes)
    rc, out, seconds = compile_and_run(tmp_path, ir, codes, scores, classes, name="cifar10_conv")
    print(f"gcc {' '.join(CFLAGS)}: {seconds:.1f} s wall")
    assert rc == 0 and "PASS" in out and "100 vectors" in out, out
