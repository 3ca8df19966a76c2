"""Nodes nothing reads: a per-layer report of a trained model and the widths it could shrink to.

A node is *dead* when no class score depends on it. Found on the lowered IR: ``structural`` counts
the nodes some class wire reaches through the wiring (:func:`difflut.hw.passes.live_wires`),
``after_optimize`` the LUTs left by :func:`difflut.hw.passes.optimize` (which also removes nodes whose
tables ignore an input, constants and pass-throughs). The IR passes already drop dead nodes from every
export; the report says by how much the next run's training widths could shrink.
"""

from __future__ import annotations

import math

import numpy as np


def prune_report(model) -> list[dict]:
    """One dict per IR layer of ``lower(model)`` (model in eval mode, encoder fitted):
    ``{'name', 'nodes', 'structural', 'after_optimize'}`` (node counts), then a last entry
    ``{'name': 'encoder', 'bits', 'bits_read', 'features_read'}``: encoder bits and input features
    the optimised IR's LUTs read (the rest cost nothing in hardware once unread)."""
    from ..hw.lower import lower
    from ..hw.passes import live_wires, optimize

    ir = lower(model)
    live = live_wires(ir)
    optimized, _ = optimize(ir)
    kept: dict[str, int] = {}
    for layer in optimized.layers:
        kept[layer.name] = kept.get(layer.name, 0) + layer.num_nodes
    rows = [{"name": layer.name, "nodes": layer.num_nodes,
             "structural": int(live[base:base + layer.num_nodes].sum()), "after_optimize": kept.get(layer.name, 0)}
            for layer, base in zip(ir.layers, ir.layer_bases)]
    reads = np.concatenate([layer.inputs.reshape(-1) for layer in optimized.layers] + [optimized.class_wires.reshape(-1)])
    enc = reads[(reads >= 0) & (reads < optimized.num_encoder_wires)]
    n = optimized.encoder.num_bits
    rows.append({"name": "encoder", "bits": optimized.num_encoder_wires, "bits_read": int(np.unique(enc).size),
                 "features_read": int(np.unique(enc // n).size)})
    return rows


def shrunk_widths(report: list[dict], num_classes: int) -> tuple[int, ...]:
    """Widths of the layers after optimisation (the last rounded up to a multiple of ``num_classes``),
    a starting point for the next run's ``layer_widths`` / ``reduction_widths``."""
    widths = [row["after_optimize"] for row in report if row["name"] != "encoder"]
    if widths:
        widths[-1] = max(1, math.ceil(widths[-1] / num_classes)) * num_classes
    return tuple(max(w, 1) for w in widths)
