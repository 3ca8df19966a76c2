#!/usr/bin/env bash
# LUTs of each run's checkpoint (project machine): synth.sh LABEL... -> synth/LABEL.json, synth/LABEL.md
set -euo pipefail
cd "$(dirname "$0")"
for label in "$@"; do
    work=$(mktemp -d)
    difflut export ckpt/$label/*.pt --target verilog --lut-style xilinx --pipeline layers -o "$work/rtl" > /dev/null
    difflut synth "$work/rtl" --target xilinx > "$work/log.txt"
    cp "$work/rtl/report.json" synth/$label.json
    [ -f "$work/rtl/report.md" ] && cp "$work/rtl/report.md" synth/$label.md
    rm -rf "$work"
    echo "$label done $(date +%T)"
done
