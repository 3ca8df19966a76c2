"""The model zoo: registered LUT networks built by name.

>>> from difflut.models import get_model
>>> model = get_model("mnist_fc_8k_linear", encoder_bits=6)   # doctest: +SKIP
>>> model.fit_encoder(train_images); logits = model(test_images)  # doctest: +SKIP

See docs/models.md for every model, its defaults and overrides.
"""

from ..checkpoint import CheckpointError, load
from ..registry import register_model
from .base import BaseModel
from .cifar10 import CIFAR10Conv, OrPool2d
from .fashion import FashionDWN12k, FashionDWN16k, FashionFullyConnected
from .lut_zoo import FashionLUTSmall, LUTBudgetNet, MNISTLUTLarge, MNISTLUTSmall, MNISTLUTTiny
from .mnist import (
    MNISTBitFlip5,
    MNISTBitFlip10,
    MNISTBitFlip20,
    MNISTBitFlipNone,
    MNISTDWNSmall,
    MNISTFullyConnected,
    MNISTGradNormBatchwise,
    MNISTGradNormLayerwise,
    MNISTGradNormLayerwiseMean,
    MNISTGradNormNone,
    MNISTLinearSmall,
    MNISTResidualInit,
)
from .pretrained import pretrained_info, pretrained_names
from .zoo import ALIASES, get_model, list_models, model_info

__all__ = [
    "ALIASES",
    "BaseModel",
    "CIFAR10Conv",
    "CheckpointError",
    "FashionDWN12k",
    "FashionDWN16k",
    "FashionFullyConnected",
    "FashionLUTSmall",
    "LUTBudgetNet",
    "MNISTLUTLarge",
    "MNISTLUTSmall",
    "MNISTLUTTiny",
    "MNISTBitFlip5",
    "MNISTBitFlip10",
    "MNISTBitFlip20",
    "MNISTBitFlipNone",
    "MNISTDWNSmall",
    "MNISTFullyConnected",
    "MNISTGradNormBatchwise",
    "MNISTGradNormLayerwise",
    "MNISTGradNormLayerwiseMean",
    "MNISTGradNormNone",
    "MNISTLinearSmall",
    "MNISTResidualInit",
    "OrPool2d",
    "get_model",
    "list_models",
    "load",
    "model_info",
    "pretrained_info",
    "pretrained_names",
    "register_model",
]
