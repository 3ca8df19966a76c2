#!/usr/bin/env bash
# Install DiffLUT (idempotent), then run the demo: train a zoo model on the bundled MNIST, evaluate, report.
# Usage: bash scripts/demo.sh [difflut demo options, e.g. --epochs 1 --out-dir my-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install.sh
exec "$PY" -m difflut demo "$@"
