"""``difflut demo``: train a small MNIST model on the bundled data, evaluate it, inject faults, export it to
C (compiled and run) and Verilog (simulated), and report.

:func:`run_demo` runs the steps in :data:`DEMO_STEPS` in order, passing one :class:`DemoState` along;
a later feature appends its own step to that list.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .run_options import check_checkpoint_out, parse_device, split_validation


@dataclass
class DemoState:
    """What the demo steps share. Steps read and add entries; ``report`` lines are printed at the end."""

    args: argparse.Namespace
    out_dir: Path
    model: Any = None
    checkpoint: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)


#: the demo's model and its size: small enough to train on 2 CPU cores in a few minutes (random wiring:
#: the learnable first layer of the default costs ~18x more per step on a CPU; tau = sqrt(100 bits per class))
DEMO_MODEL = "mnist_fc_8k_dwn"
DEMO_OVERRIDES = {"layer_widths": (2000, 1000), "mapping": "random", "tau": None}
DEMO_LR = 0.03  # the random-wired network's learning rate (the default's 0.01 suits its learnable layer)


def demo_train(state: DemoState) -> None:
    from .data import load_mnist
    from .models import get_model
    from .training import train

    a = state.args
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    if a.train_limit:
        train_x, train_y = train_x[: a.train_limit], train_y[: a.train_limit]
    if a.test_limit:
        test_x, test_y = test_x[: a.test_limit], test_y[: a.test_limit]
    (train_x, train_y), (val_x, val_y) = split_validation(train_x, train_y, min(a.val_size, len(train_x) // 10))
    state.data.update(train=(train_x, train_y), test=(test_x, test_y))
    state.model = get_model(DEMO_MODEL, seed=a.seed, **DEMO_OVERRIDES)
    state.checkpoint = state.out_dir / "model.pt"
    print(f"[demo] training {DEMO_MODEL} {DEMO_OVERRIDES} ({state.model.num_nodes:,} LUT nodes) on "
          f"{len(train_x)} MNIST images for {a.epochs} epoch(s)")
    start = time.perf_counter()
    history = train(state.model, train_x, train_y, val_x, val_y, epochs=a.epochs, batch_size=a.batch_size,
                    lr=DEMO_LR if a.lr is None else a.lr, device=parse_device(a.device), out=state.checkpoint,
                    seed=a.seed, progress=not a.quiet, metadata={"dataset": "mnist"})
    state.data["history"] = history
    state.report.append(f"trained {DEMO_MODEL} ({state.model.num_nodes:,} nodes) in "
                        f"{time.perf_counter() - start:.0f} s; checkpoint {state.checkpoint}")


def demo_evaluate(state: DemoState) -> None:
    from .checkpoint import load
    from .training import evaluate

    test_x, test_y = state.data["test"]
    model = load(state.checkpoint)
    acc = evaluate(model, test_x, test_y)
    same = torch.equal(model.class_scores(test_x), state.model.cpu().class_scores(test_x))
    state.model = model
    state.data["accuracy"] = acc
    state.report.append(f"test accuracy (eval mode, binary end to end): {acc:.4f} on {len(test_x)} images")
    state.report.append(f"reloaded checkpoint reproduces the class scores exactly: {same}")
    if not same:
        raise RuntimeError("the reloaded checkpoint does not reproduce the trained model's class scores")


def demo_faults(state: DemoState) -> None:
    from .training import evaluate

    test_x, test_y = state.data["test"]
    accs = {q: evaluate(state.model, test_x, test_y, flip_rate=q, seed=0) for q in (0.01, 0.05)}
    state.report.append("with LUT-input bit flips: " + ", ".join(f"rate {q}: {a:.4f}" for q, a in accs.items()))


def demo_export_c(state: DemoState) -> None:
    import shutil

    from .hw.export import export

    out = state.out_dir / "c"
    test_x, _ = state.data["test"]
    cc = shutil.which("cc") or shutil.which("gcc")
    start = time.perf_counter()
    manifest = export(state.model, "c", out, vector_codes=test_x[: state.args.vectors], check=cc is not None,
                      cc=cc or "cc")
    state.report.append(f"exported to C ({manifest['num_luts']:,} LUTs after optimisation) in {out} in "
                        f"{time.perf_counter() - start:.1f} s; IR == PyTorch eval on {manifest['test_vectors']} "
                        f"test images")
    if cc is None:
        state.report.append("no C compiler found: the C selftest was not compiled")
    else:
        state.report.append(f"C selftest (compiled, run): {manifest['selftest'].splitlines()[-1]}")


def demo_export_verilog(state: DemoState) -> None:
    import shutil

    from .hw.export import export

    out = state.out_dir / "rtl"
    test_x, _ = state.data["test"]
    count = min(state.args.sim_vectors, len(test_x))
    start = time.perf_counter()
    manifest = export(state.model, "verilog", out, vector_codes=test_x[:count], pipeline="layers")
    state.report.append(f"exported to Verilog (pipelined per layer) in {out} in {time.perf_counter() - start:.1f} s")
    if shutil.which("iverilog") is None:
        state.report.append("Icarus Verilog not found: the simulation was not run (see docs/install.md)")
        return
    from .hw.sim import run_sim

    result = run_sim(out, simulator="icarus")
    state.report.append(f"Verilog simulation (Icarus, cocotb) against PyTorch on {manifest['test_vectors']} test "
                        f"images: {result.summary()}")
    if not result.passed:
        raise RuntimeError("the Verilog simulation does not match the PyTorch eval forward")


#: (name, step) pairs run in order by ``difflut demo``
DEMO_STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("train", demo_train),
    ("evaluate", demo_evaluate),
    ("fault injection", demo_faults),
    ("export C", demo_export_c),
    ("export Verilog and simulate", demo_export_verilog),
]


def check_demo_outputs(out_dir: Path) -> None:
    """Before any work: ``out_dir`` is a folder (or missing) where the checkpoint ``model.pt`` and the
    export folders ``c`` and ``rtl`` may be written (each missing or DiffLUT's own), else an
    :class:`~difflut.files.OutputError` / :class:`~difflut.hw.backends.ExportError` naming it."""
    from .files import OutputError, prepare_output_folder
    from .hw.backends import MANIFEST

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir {str(out_dir)!r} exists and is not a folder")
    if not out_dir.exists():
        return
    check_checkpoint_out(out_dir / "model.pt")
    for sub in ("c", "rtl"):
        prepare_output_folder(out_dir / sub, MANIFEST)


def run_demo(args: argparse.Namespace) -> int:
    """Run :data:`DEMO_STEPS` in order on one :class:`DemoState`, then print the report."""
    state = DemoState(args=args, out_dir=Path(args.out_dir))
    check_demo_outputs(state.out_dir)
    parse_device(args.device)
    state.out_dir.mkdir(parents=True, exist_ok=True)
    for name, step in DEMO_STEPS:
        print(f"[demo] step: {name}")
        step(state)
    print("[demo] report")
    for line in state.report:
        print(f"  - {line}")
    return 0
