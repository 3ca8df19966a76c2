"""Input encoders (registered with :func:`difflut.registry.register_encoder`).

Each maps float features to bits by exact comparisons with fitted per-feature thresholds;
see ``docs/encoders.md`` for every encoder's fit rule and bit definitions.
"""

from ..hw.encoder_form import EncoderHardwareForm
from .base import BaseEncoder
from .binary import BinaryEncoder
from .budget import VarianceThermometerEncoder, allocate_bits
from .gray import GrayEncoder
from .logarithmic import LogarithmicEncoder
from .onehot import OneHotEncoder
from .sign_magnitude import SignMagnitudeEncoder
from .thermometer import DistributiveThermometerEncoder, GaussianThermometerEncoder, ThermometerEncoder

__all__ = [
    "BaseEncoder",
    "BinaryEncoder",
    "DistributiveThermometerEncoder",
    "EncoderHardwareForm",
    "GaussianThermometerEncoder",
    "GrayEncoder",
    "LogarithmicEncoder",
    "OneHotEncoder",
    "SignMagnitudeEncoder",
    "ThermometerEncoder",
    "VarianceThermometerEncoder",
    "allocate_bits",
]
