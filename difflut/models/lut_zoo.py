"""Hardware-sized LUT networks: a LUT budget each, a data-chosen encoder bit budget.

Pipeline: uint8 codes -> ``code / 255`` -> ``variance_thermometer`` (at most ``encoder_bits`` thresholds
per pixel, ``encoder_budget`` in total, allotted by pixel standard deviation) -> :class:`BitSelect` of the
``encoder_budget`` bits that have a threshold -> LUT layers ``layer_widths`` (the first ``learnable_layers``
with ``mapping``, default one learnable, the rest random) -> optional grouped LUT layers ``reduction_widths``
(DWN's learnable reduction: each class's bits reduced by LUTs that read only that class's group) -> GroupSum.

The registered budget models are two layers, learnable then random over all the first layer's nodes, with no
grouped reduction: at the same LUTs that shared second layer measured 1-1.7 points better than the grouped
one (H200, 3 seeds, docs/training_features.md). ``mnist_lut_large`` is DWN's large network (distributive
thermometer, no bit budget). Widths were chosen by training within the budget of
:func:`difflut.models.budget.lut_cost` (layers + measured popcount + argmax); ``tests/test_pareto.py`` checks
that they fit. GroupSum ``tau``: the value measured best (1 for 15 and 23 bits per class, 3.333 for 100);
``tau=None`` falls back to ``sqrt(final bits per class)``. Nodes: DWN's own (``dwn``), 0.3-0.45 points above
``dwn_stable`` on every MNIST model at the same LUTs (H200, 3 seeds each, docs/training_features.md, rounds 22-25),
trained with the node's default EFD weighting, that of DWN's released kernel (``efd="released"``; 0.4-1.4 points
above the paper's weighting, rounds 26-28). ``mnist_lut_tiny`` and ``mnist_lut_small`` are then refined with
rewiring (:mod:`difflut.refine`, 2 sweeps: +1.5 and +0.8 points, rounds 34-36).
"""

from __future__ import annotations

import math

from torch import nn

from ..layers import BitSelect, GroupedLayer
from ..registry import get_encoder, get_layer, register_model
from .base import BaseModel
from .config import COMMON_DEFAULTS, COMMON_OVERRIDES, resolve_widths

_LUT_DEFAULTS = dict(
    COMMON_DEFAULTS,
    encoder="variance_thermometer",
    encoder_bits=4,
    encoder_budget=1200,
    mapping="learnable",
    learnable_layers=1,
    node_type="dwn",
    node_input_dim=6,
    layer_widths=(380, 150),
    reduction_widths=(),
)


class LUTBudgetNet(BaseModel):
    """Budget-sized fully connected LUT network (see the module docstring).

    Shapes: images uint8 (B, 28, 28) -> encoder bits (B, 784 * encoder_bits) -> selected (B, encoder_budget)
    -> (B, layer_widths[-1]) [-> (B, reduction_widths[-1])] -> logits (B, 10).
    Eval: thermometer bits, a fixed bit selection (wires), LUT lookups, popcounts of the last widths' groups.
    """

    defaults = _LUT_DEFAULTS
    overridable = COMMON_OVERRIDES + ("node_type", "encoder", "mapping", "learnable_layers", "encoder_budget",
                                         "reduction_widths")
    input_shape = (28, 28)
    num_classes = 10
    dataset = "mnist"
    default_lr = 0.01
    task = "MNIST digits (28x28), 10 classes, LUT-budget network"

    def _resolve_config(self, config: dict) -> dict:
        tau = config.get("tau")
        config = resolve_widths(self.model_name, config, self.overrides, self.num_classes)
        for w in config["reduction_widths"]:
            if w % self.num_classes:
                raise ValueError(f"model {self.model_name!r}: reduction width {w} must be a multiple of "
                                 f"num_classes={self.num_classes}")
        if config["encoder_budget"] is not None and config["encoder"] != "variance_thermometer":
            raise ValueError(f"model {self.model_name!r}: encoder_budget needs encoder='variance_thermometer', "
                             f"got {config['encoder']!r} (set encoder_budget=None)")
        if config["learnable_layers"] > len(config["layer_widths"]):
            raise ValueError(f"model {self.model_name!r}: learnable_layers={config['learnable_layers']} exceeds the "
                             f"{len(config['layer_widths'])} layer_widths")
        if tau is None:
            config["tau"] = math.sqrt(self.final_width(config) // self.num_classes)
        return config

    @staticmethod
    def final_width(config: dict) -> int:
        return (config["reduction_widths"] or config["layer_widths"])[-1]

    def _build_layers(self) -> None:
        c = self.config
        budget = c["encoder_budget"]
        if budget is None:
            self.encoder = get_encoder(c["encoder"])(num_bits=c["encoder_bits"])
            self.select = None
            width_in = self.encoded_shape[0]
        else:
            self.encoder = get_encoder("variance_thermometer")(num_bits=c["encoder_bits"], total_bits=budget)
            self.select = BitSelect(budget)
            width_in = budget
        common = dict(node_type=c["node_type"], k=c["node_input_dim"], node_kwargs=c["node_kwargs"],
                      flip_probability=c["flip_probability"], grad_stabilization=c["grad_stabilization"],
                      residual_init=c["residual_init"])
        layers = []
        for i, width in enumerate(c["layer_widths"]):
            layer_cls = get_layer(c["mapping"] if i < c["learnable_layers"] else "random")
            layers.append(layer_cls(width_in, width, seed=self.seed * 1000 + i, **common))
            width_in = width
        for i, width in enumerate(c["reduction_widths"], start=len(layers)):
            layers.append(GroupedLayer(width_in, width, self.num_classes, seed=self.seed * 1000 + i, **common))
            width_in = width
        self.layers = nn.ModuleList(layers)

    def fit_encoder(self, images) -> "LUTBudgetNet":
        """Fit the encoder, then select its ``encoder_budget`` bits that have a threshold; returns self."""
        super().fit_encoder(images)
        if self.select is not None:
            self.select.set_index(self.encoder.live_bits(), self.encoder.output_size)
        return self

    def stages(self) -> list[nn.Module]:
        return ([self.select] if self.select is not None else []) + list(self.layers)


@register_model("mnist_lut_tiny")
class MNISTLUTTiny(LUTBudgetNet):
    """<= 700 LUTs: 1,200 encoder bits, learnable 380, random 150 (15 bits per class), tau 1, Adam lr 0.03.

    Trained 30 epochs: 96.43 +- 0.09% (3 seeds, H200), 692 LUTs; then refined (``difflut refine --rewire
    --sweeps 2``, :mod:`difflut.refine`): 97.89 +- 0.06%, 668-679 LUTs from ``difflut synth --target xilinx``."""

    defaults = dict(_LUT_DEFAULTS, encoder_budget=1200, layer_widths=(380, 150), reduction_widths=(), tau=1.0)
    default_lr = 0.03


@register_model("mnist_lut_small")
class MNISTLUTSmall(LUTBudgetNet):
    """<= 1,400 LUTs: 1,600 encoder bits, learnable 900, random 230 (23 bits per class), tau 1, Adam lr 0.03.

    Trained 30 epochs: 97.27 +- 0.22% (3 seeds, H200), 1,374 LUTs; then refined (``difflut refine --rewire
    --sweeps 2``, :mod:`difflut.refine`): 98.03 +- 0.18%, 1,223-1,235 LUTs from ``difflut synth --target xilinx``."""

    defaults = dict(_LUT_DEFAULTS, encoder_budget=1600, layer_widths=(900, 230), reduction_widths=(), tau=1.0)
    default_lr = 0.03


@register_model("mnist_lut_large")
class MNISTLUTLarge(LUTBudgetNet):
    """<= 4,000 LUTs (estimate 3,899; 3,900 from ``difflut synth --target xilinx``): distributive
    thermometer 3 bits (2,352), learnable 2000, random 1000, popcount of 100 bits per class, tau 3.333.

    DWN's large MNIST network (DWN's tau 1/0.3): 98.51 +- 0.09% (3 seeds, 30 epochs, H200; the paper's EFD
    weighting 98.12%, ``dwn_stable`` nodes 97.68%). It beat the budget-encoder form (2,400 bits, 1590 + 1590,
    reduction to 400, tau 2: 97.49%, 4,033 LUTs; ``dwn_stable``) (docs/training_features.md)."""

    defaults = dict(_LUT_DEFAULTS, encoder="distributive_thermometer", encoder_bits=3, encoder_budget=None,
                    layer_widths=(2000, 1000), reduction_widths=(), tau=3.333)


@register_model("fashion_lut_small")
class FashionLUTSmall(LUTBudgetNet):
    """Fashion-MNIST, <= 1,400 LUTs: as ``mnist_lut_small`` at Adam lr 0.01 (lr 0.03: 83.06%, no better);
    83.51 +- 0.14% (3 seeds, 30 epochs, H200; the paper's EFD weighting 83.01%, ``dwn_stable`` nodes 83.03%)."""

    defaults = dict(_LUT_DEFAULTS, encoder_budget=1600, layer_widths=(900, 230), reduction_widths=(), tau=1.0)
    dataset = "fashion_mnist"
    task = "Fashion-MNIST (28x28), 10 classes, LUT-budget network"
