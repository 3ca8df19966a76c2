"""SHA-256 of every file of the exports of a few small seeded models (targets c, ir, verilog with two
pipeline settings), printed as JSON: run before and after a refactor of the export path; identical
output means byte-identical exports.

    PYTHONPATH=$PWD python3 benchmarks/export_hashes.py > before.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.models import get_model

MODELS = {
    "dwn_random": ("mnist_fc_8k_dwn", {"layer_widths": (64, 30), "mapping": "random"}),
    "linear": ("mnist_fc_8k_linear", {"layer_widths": (40, 20)}),
}
RUNS = [("c", {}), ("ir", {}), ("verilog", {"pipeline": "none"}), ("verilog", {"pipeline": "layers"})]


def main() -> int:
    images, _ = load_mnist("train")
    test, _ = load_mnist("test")
    hashes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (model_name, overrides) in MODELS.items():
            model = get_model(model_name, seed=0, **overrides).fit_encoder(images[:200]).eval()
            for target, options in RUNS:
                label = f"{key}/{target}" + "".join(f"/{k}={v}" for k, v in options.items())
                out = Path(tmp) / label.replace("/", "_")
                export(model, target, out, vector_codes=test[:20].numpy(), **options)
                hashes[label] = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.iterdir())}
    json.dump(hashes, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
