"""Accuracy per LUT of the LUT-budget zoo models, trained briefly on the CPU.

For each model: fit the encoder on the training images, train ``--epochs`` epochs (batch 128, Adam at the
model's lr, cosine, last epoch kept) on ``--train`` training images, then report test accuracy of the eval
(hardware) function on ``--test`` test images, the IR's LUTs after ``passes.optimize``, the LUT cost model
(layers + 0.8 LUT per popcount bit + argmax, :mod:`difflut.models.budget`), the encoder bits and pixels the
LUTs read, and the check ``evaluate_ir == model.class_scores``. ``--synth DIR`` also exports each model
to Verilog and runs ``difflut synth --target xilinx`` (slow on a loaded machine).

``--json FILE`` records the runs in the result format ``benchmarks/plot_pareto.py`` draws
(``difflut-pareto-results``, see there): LUTs by part from the synthesis report with ``--synth``, else
the IR estimate (``luts.source`` says which). ``--pretrained DIR`` also writes each run as a compact
checkpoint with the metadata a shipped model carries (``DIR/<model>-s<seed>.pt``, accuracy on the whole
test split; copy the chosen one to ``difflut/models/pretrained/<model>.pt``).

    PYTHONPATH=$PWD python benchmarks/bench_pareto.py --epochs 1 --train 20000
    PYTHONPATH=$PWD python benchmarks/bench_pareto.py --models mnist_lut_small --epochs 30 --train 60000 --seeds 0 1 2 \
        --synth rtl --json benchmarks/results/pareto_mnist.json

``--record CKPT REPORT [CKPT REPORT ...] --json FILE`` trains nothing: it records models trained elsewhere (e.g.
``bench_zoo.py --save-checkpoints`` on a GPU), each checkpoint with the ``report.json`` of ``difflut synth
--target xilinx`` on its Verilog export: accuracy of the eval function on the whole test split of the
checkpoint's dataset, LUTs from the report, the recipe from the checkpoint's metadata.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from difflut import get_model
from difflut.data import DATASETS
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.lower import lower
from difflut.hw.passes import optimize
from difflut.files import write_atomic
from difflut.models import pretrained as shipped
from difflut.models.budget import lut_cost, luts_estimate
from difflut.models.pruning import prune_report
from difflut.training import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot_pareto import FORMAT, VERSION, _luts, check_results  # noqa: E402  (the result format lives there)

MODELS = ("mnist_lut_tiny", "mnist_lut_small", "mnist_lut_large", "fashion_lut_small")


def run(name: str, seed: int, args) -> dict:
    model = get_model(name, seed=seed)
    x, y = DATASETS[model.dataset]("train")
    xt, yt = DATASETS[model.dataset]("test")
    x, y, xt, yt = x[: args.train], y[: args.train], xt[: args.test], yt[: args.test]
    model.fit_encoder(x)
    start = time.time()
    train(model, x, y, epochs=args.epochs, batch_size=128, schedule="cosine", keep="last", seed=seed,
          progress=False)
    seconds = time.time() - start
    model.eval()
    scores = model.class_scores(xt)
    accuracy = float((scores.argmax(1) == yt).double().mean()) * 100
    ir = lower(model)
    ir_scores, _ = evaluate_ir(ir, xt.numpy())
    optimized, _ = optimize(ir)
    final = model.config["reduction_widths"] or model.config["layer_widths"]
    cost = lut_cost(tuple(model.config["layer_widths"]) + tuple(model.config["reduction_widths"]))
    encoder = prune_report(model)[-1]
    row = {"model": name, "dataset": model.dataset, "seed": seed, "epochs": args.epochs, "train": len(x), "test": len(xt),
           "accuracy": accuracy, "ir_luts": optimized.num_luts, "popcount_bits": final[-1],
           "estimate": cost["total"], "encoder_bits_read": encoder["bits_read"],
           "pixels_read": encoder["features_read"], "ir_equal": bool(np.array_equal(ir_scores, scores.numpy())),
           "train_s": seconds}
    if args.synth:
        from difflut.hw.export import export
        from difflut.hw.synth import synthesize

        folder = f"{args.synth}/{name}_s{seed}"
        export(model, "verilog", folder)
        report = synthesize(folder, target="xilinx", jobs=2)
        row["synth_luts"] = {role: v["luts"] for role, v in report["roles"].items()}
        row["luts"] = shipped.luts_from_synth(report)
    else:
        row["luts"] = luts_estimate(model)
    row["recipe"] = (f"bench_pareto.py: {args.epochs} epochs on the first {len(x)} training images, batch 128, "
                     f"Adam lr {model.default_lr}, cosine, last epoch, seed {seed}")
    if args.pretrained:
        images, labels = DATASETS[model.dataset]("test")
        metadata = shipped.pretrained_metadata(model, images, labels, dataset=model.dataset, luts=row["luts"],
                                               recipe=row["recipe"], extra={"epochs": args.epochs})
        Path(args.pretrained).mkdir(parents=True, exist_ok=True)
        row["pretrained_bytes"] = shipped.save_pretrained(model, Path(args.pretrained) / f"{name}-s{seed}.pt",
                                                          metadata)
    return row


def result_entry(row: dict) -> dict:
    """One run in the ``difflut-pareto-results`` format (plot_pareto.py)."""
    return {"model": row["model"], "dataset": row["dataset"], "seed": row["seed"], "test_accuracy": row["accuracy"],
            "test_images": row["test"], "luts": row["luts"], "recipe": row["recipe"], "train_images": row["train"],
            "epochs": row["epochs"], "ir_equal": row["ir_equal"], "train_s": round(row["train_s"], 1)}


def refined_text(meta: dict) -> str:
    """``; refined ...`` for a checkpoint refined by difflut.refine (its metadata's ``refined``), else ''."""
    info = meta.get("refined")
    if not info:
        return ""
    # the files of rounds 35-36 (bench_refine.py of that day) hold the last sweep, the count and no rewire flag
    sweeps = info.get("sweeps_total", len(info["sweeps"]))
    rewire = info.get("rewire", any("rewired" in s for s in info["sweeps"]))
    return f"; refined (difflut.refine) {sweeps} sweeps{' with rewiring' * rewire} at shift {info['max_shift']}"


def record(ckpt: str, report_path: str) -> dict:
    """A ``difflut-pareto-results`` run of a trained checkpoint and its synthesis report."""
    from difflut.checkpoint import load

    model = load(ckpt)
    meta = model.checkpoint_metadata
    dataset = meta.get("dataset") or model.dataset
    images, labels = DATASETS[dataset]("test")
    correct = shipped.count_correct(model, images, labels)
    report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    names = (model.model_name, meta.get("trained_as", {}).get("model"))  # difflut compact --model keeps the latter
    if report.get("design", {}).get("top") not in (*names, None):
        raise SystemExit(f"{report_path}: synthesis of {report['design']['top']!r}, not of {model.model_name!r}")
    return {"model": model.model_name, "dataset": dataset, "seed": model.seed,
            "test_accuracy": round(100 * correct / len(labels), 4), "test_images": len(labels),
            "luts": shipped.luts_from_synth(report), "recipe": meta.get("recipe", "not recorded") + refined_text(meta),
            "overrides": model.overrides,
            "checkpoint": Path(ckpt).as_posix()}  # as given: runs of one campaign share file names


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train", type=int, default=60000, help="training images (first N)")
    p.add_argument("--test", type=int, default=10000, help="test images (first N)")
    p.add_argument("--synth", metavar="DIR", help="also export to DIR/<model> and synthesise (xilinx)")
    p.add_argument("--json", metavar="FILE", help="write the runs as difflut-pareto-results (plot_pareto.py)")
    p.add_argument("--pretrained", metavar="DIR", help="also write each run as a shippable compact checkpoint")
    p.add_argument("--record", nargs="+", metavar="CKPT REPORT", default=None,
                   help="train nothing: record trained checkpoints, each followed by its synth report.json")
    args = p.parse_args()
    if args.record is not None and (len(args.record) % 2 or not args.json):
        p.error("--record takes pairs CKPT REPORT and needs --json")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    machine = platform.processor() or platform.machine()
    if torch.cuda.is_available():
        machine = torch.cuda.get_device_name()
    if args.record:
        machine = f"trained as each run's recipe says; evaluated and synthesised on {machine}"
    print(f"# {machine}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    if args.record:
        print("| model (dataset) | seed | test acc % | LUTs (xilinx) | checkpoint |\n| --- | --- | --- | --- | --- |")
    else:
        print("| model | seed | epochs | train imgs | test acc % | IR LUTs | popcount bits | estimate "
              "(layers+popcount+argmax) | encoder bits read | pixels read | IR == PyTorch | train s |")
        print("| --- " * 12 + "|")
    runs = []
    for ckpt, report in zip(args.record[::2], args.record[1::2]) if args.record else ():
        r = record(ckpt, report)
        luts = {part: _luts(n) for part, n in r["luts"].items() if part != "source"}
        print(f"| {r['model']} ({r['dataset']}) | {r['seed']} | {r['test_accuracy']:.2f} | {luts['total']} LUTs (layers "
              f"{luts['layers']}, popcount {luts['popcount']}, argmax {luts['argmax']}; encoder {luts['encoder']}) "
              f"| {r['checkpoint']} |", flush=True)
        runs.append(r)
    for name in args.models if args.record is None else ():
        for seed in args.seeds:
            r = run(name, seed, args)
            print(f"| {r['model']} | {r['seed']} | {r['epochs']} | {r['train']} | {r['accuracy']:.2f} | {r['ir_luts']} "
                  f"| {r['popcount_bits']} | {r['estimate']} | {r['encoder_bits_read']} | {r['pixels_read']} "
                  f"| {r['ir_equal']} | {r['train_s']:.0f} |" + (f" synth {r['synth_luts']}" if "synth_luts" in r else ""),
                  flush=True)
            runs.append(result_entry(r))
    if args.json:
        doc = {"format": FORMAT, "version": VERSION, "machine": machine, "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "runs": runs}
        check_results(doc, args.json)
        write_atomic(args.json, (json.dumps(doc, indent=1) + "\n").encode())
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
