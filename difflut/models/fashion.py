"""Fully connected LUT networks for Fashion-MNIST (28x28 uint8 images of clothes, 10 classes).

The ``mnist_fc_8k_dwn`` pipeline (learnable first layer, random second, ``dwn_stable`` nodes, k=6) with a
distributive thermometer of 6 bits per pixel (784 * 6 = 4,704 bits) and a wider second layer: more output
bits per class and a softer GroupSum suit Fashion-MNIST (H200, 3 seeds, 30 epochs, last epoch;
benchmarks/results/campaign_h200_2026-12-02b/): the 16k network at tau 7 reached 88.32%, at tau 14 89.87%.
"""

from __future__ import annotations

from ..registry import register_model
from .mnist import _FC_MAIN, MNISTFullyConnected

_FASHION_FC = dict(_FC_MAIN, encoder="distributive_thermometer", encoder_bits=6)


class FashionFullyConnected(MNISTFullyConnected):
    """Distributive thermometer (6 bits per pixel) + learnable and random LUT layers + GroupSum (Fashion-MNIST).

    Shapes: images uint8 (B, 28, 28) -> bits (B, 4704) -> (B, layer_widths[0]) -> (B, layer_widths[1]) ->
    logits (B, 10). Eval: thermometer bits of each pixel code, LUT lookups, popcounts; binary throughout.
    """

    defaults = _FASHION_FC
    dataset = "fashion_mnist"
    task = "Fashion-MNIST (28x28), 10 classes"
    default_lr = 0.01


@register_model("fashion_fc_12k_dwn")
class FashionDWN12k(FashionFullyConnected):
    """``fashion_fc_12k_dwn``: widths (3000, 9000), 900 bits per class, tau 12: 89.56 +- 0.05% (3 seeds;
    tau 14: 89.34%, seed 0); the compact checkpoint (1.7 MB) ships."""

    defaults = dict(_FASHION_FC, layer_widths=(3000, 9000), tau=12.0)


@register_model("fashion_fc_16k_dwn")
class FashionDWN16k(FashionFullyConnected):
    """``fashion_fc_16k_dwn``: widths (4000, 12000), 1,200 bits per class, tau 14: 89.87 +- 0.13% (3 seeds;
    tau 10: 89.20%, tau 20: 89.66%, seed 0); 2.3 MB compact, over what ships."""

    defaults = dict(_FASHION_FC, layer_widths=(4000, 12000), tau=14.0)
