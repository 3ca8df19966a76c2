#!/usr/bin/env bash
# LUTs of a training campaign's checkpoints: synth_checkpoints.sh CAMPAIGN_DIR LABEL...
# For each LABEL: CAMPAIGN_DIR/ckpt/LABEL/*.pt (bench_zoo.py --save-checkpoints) is exported
# (--lut-style xilinx --pipeline layers) and synthesised (difflut synth --target xilinx) in a temporary folder;
# its report lands in CAMPAIGN_DIR/synth/LABEL.json (and .md). Fashion-MNIST checkpoints need DIFFLUT_DATA.
set -euo pipefail
campaign=$1; shift
mkdir -p "$campaign/synth"
for label in "$@"; do
    work=$(mktemp -d)
    difflut export "$campaign"/ckpt/"$label"/*.pt --target verilog --lut-style xilinx --pipeline layers -o "$work/rtl" > /dev/null
    difflut synth "$work/rtl" --target xilinx > "$work/log.txt"
    cp "$work/rtl/report.json" "$campaign/synth/$label.json"
    [ -f "$work/rtl/report.md" ] && cp "$work/rtl/report.md" "$campaign/synth/$label.md"
    rm -rf "$work"
    echo "$label done $(date +%T)"
done
