#!/usr/bin/env bash
# Install DiffLUT and everything its tests, demo and benchmarks need (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch first and pinned: an unpinned torch pulls the newest CUDA build (see docs/install.md)
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,plot]"
