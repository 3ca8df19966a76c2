"""Convolutional LUT network for CIFAR-10 (3x32x32 uint8 images, 10 classes).

Pipeline (default widths)::

    uint8 (B, 3, 32, 32) -> x = code / 255
    -> thermometer, 4 bits per colour channel, thresholds per channel shared by all pixels
       -> bits (B, 3 * 4, 32, 32)          channel c*4 + j = bit j of colour c
    -> LUT conv 3x3, padding 1 -> (B, 32, 32, 32) -> OR-pool 2x2 -> (B, 32, 16, 16)
    -> LUT conv 3x3, padding 1 -> (B, 64, 16, 16) -> OR-pool 2x2 -> (B, 64, 8, 8)
    -> flatten (channel-major, as ``Tensor.flatten``) -> 4096 bits
    -> LUT FC 2000 -> LUT FC 1000 -> GroupSum(10)  (100 bits per class)

Eval: the encoder compares each pixel code with its channel's thresholds, the
conv layers apply the same LUTs at every position, the 2x2 max pool of binary
maps is the OR of four bits (a 4-input LUT), so the whole model stays binary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import get_encoder, get_layer, register_model
from .base import BaseModel
from .config import COMMON_DEFAULTS, COMMON_OVERRIDES


class OrPool2d(nn.Module):
    """2-D max pooling of bit maps: (B, C, H, W) -> (B, C, H // s, W // s), s = ``kernel_size``.

    Training: max over each window of soft bits (gradient to the arg-max).
    Eval: on bits the maximum of a window is the OR of its bits, a fixed LUT.
    """

    registry_name = "or_pool"

    def __init__(self, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


@register_model("cifar10_conv")
class CIFAR10Conv(BaseModel):
    """Thermometer encoder + 2 LUT conv/OR-pool stages + 2 fully connected LUT layers + GroupSum.

    Shapes: images uint8 (B, 3, 32, 32) -> bits (B, 3 * encoder_bits, 32, 32) ->
    (B, conv_channels[-1], 8, 8) -> (B, layer_widths[-1]) -> logits (B, 10).
    Overrides beyond the common ones: ``conv_channels`` (two ints) and ``node_type`` (any registered node,
    e.g. ``linear_lut``; default ``dwn_stable``, see docs/models.md).
    """

    defaults = dict(
        COMMON_DEFAULTS,
        encoder="thermometer",
        encoder_bits=4,
        node_type="dwn_stable",
        node_input_dim=6,
        conv_channels=(32, 64),
        kernel_size=3,
        padding=1,
        tree_depth=2,
        layer_widths=(2000, 1000),
    )
    overridable = COMMON_OVERRIDES + ("conv_channels", "node_type")
    encoder_layout = "channels"
    input_shape = (3, 32, 32)
    num_classes = 10
    dataset = "cifar10"
    task = "CIFAR-10 images (3x32x32), 10 classes"

    def _resolve_config(self, config: dict) -> dict:
        config = super()._resolve_config(config)
        if len(config["conv_channels"]) != 2:
            raise ValueError(f"model {self.model_name!r}: conv_channels must hold two ints, "
                             f"got {config['conv_channels']!r}")
        return config

    def _training_options(self) -> dict:
        c = self.config
        return dict(node_type=c["node_type"], k=c["node_input_dim"], node_kwargs=c["node_kwargs"],
                    flip_probability=c["flip_probability"], grad_stabilization=c["grad_stabilization"],
                    residual_init=c["residual_init"])

    def _build_layers(self) -> None:
        c = self.config
        self.encoder = get_encoder(c["encoder"])(num_bits=c["encoder_bits"])
        conv_cls, fc_cls = get_layer("convolutional"), get_layer("random")
        channels = self.input_shape[0] * c["encoder_bits"]
        convs, side = [], self.input_shape[1]
        for i, out_channels in enumerate(c["conv_channels"]):
            convs.append(conv_cls(channels, out_channels, c["kernel_size"], stride=1, padding=c["padding"],
                                  tree_depth=c["tree_depth"], seed=self.seed * 1000 + i,
                                  **self._training_options()))
            channels = out_channels
            side = (side + 2 * c["padding"] - c["kernel_size"] + 1) // 2
        self.convs = nn.ModuleList(convs)
        self.pool = OrPool2d(2)
        width_in, fcs = channels * side * side, []
        for i, width in enumerate(c["layer_widths"]):
            fcs.append(fc_cls(width_in, width, seed=self.seed * 1000 + 100 + i, **self._training_options()))
            width_in = width
        self.fcs = nn.ModuleList(fcs)

    def stages(self) -> list[nn.Module]:
        convs = [stage for conv in self.convs for stage in (conv, self.pool)]
        return [*convs, nn.Flatten(), *self.fcs]
