"""The scripts in examples/ run as documented, at their --smoke size (each in its own process)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: script -> lines its output must contain
EXPECTED = {
    "quick_start.py": ["test accuracy (eval mode", "reloaded checkpoint gives the same class scores: True"],
    "basic_training.py": ["epoch 1: loss"],
    "compare_variants.py": ["mnist_bitflip_0 ", "mnist_gradnorm_layerwise "],
    "fpga_export.py": ["model.h", "model.v", "model still in training mode: True", "C selftest: PASS"],
    "custom_model.py": ["my_model: ", "selftest: PASS", "(class custom_model:MyModel)"],
}


def run(args, cwd=EXAMPLES):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(set(EXPECTED) - {"custom_model.py"}))
def test_example_runs(script):
    done = run([str(EXAMPLES / script), "--smoke"])
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED[script]:
        assert line in done.stdout, done.stdout
    if script == "fpga_export.py" and "skipping the simulation" not in done.stdout:
        assert "Verilog simulation: PASS" in done.stdout


def test_custom_model_example_and_its_checkpoint_on_the_command_line(tmp_path):
    ckpt = tmp_path / "my_model.pt"
    done = run([str(EXAMPLES / "custom_model.py"), "--smoke", "--out", str(ckpt)])
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED["custom_model.py"]:
        assert line in done.stdout, done.stdout
    export = ["-m", "difflut", "export", str(ckpt), "--target", "ir", "-o", str(tmp_path / "ir"), "--vectors", "20"]
    refused = run(export)
    assert refused.returncode == 2 and "--import custom_model" in refused.stderr
    done = run(export + ["--import", "custom_model"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "ir" / "my_model.ir.json").is_file()
