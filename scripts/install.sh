#!/usr/bin/env bash
# Install DiffLUT and everything its tests, demo and benchmarks need (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch first and pinned: an unpinned torch pulls the newest CUDA build (see docs/install.md)
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,plot]"

# Icarus Verilog for the cocotb simulations (Debian package; needs root)
if ! command -v iverilog >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog >/dev/null
    else
        echo "scripts/install.sh: iverilog not found and cannot be installed here (needs apt-get as root)" >&2
    fi
fi
