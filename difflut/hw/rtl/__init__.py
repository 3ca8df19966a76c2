"""Amaranth components of the Verilog backend, one concept per file.

* :class:`~.encoder.Encoder`: raw integer input codes -> encoder bits (comparators / small tables);
* :class:`~.lut_layer.LUTLayer`: one layer of k-input LUTs (behavioural, or Xilinx ``LUT6`` primitives);
* :class:`~.popcount.Popcount`: one class's popcount as an adder tree, optionally register-cut;
* :class:`~.argmax.Argmax`: first maximum of the class scores (ties -> lowest index);
* :class:`~.core.Core`: the whole network with fixed latency and a clock enable;
* :class:`~.stream.Stream`: the core behind a valid/ready stream interface with backpressure.

Every component reads only plain numbers (tables, wire lists, widths), never torch or the model.
"""

from .argmax import Argmax
from .core import Core
from .encoder import Encoder
from .lut_layer import LUTLayer
from .popcount import Popcount
from .stream import Stream

__all__ = ["Argmax", "Core", "Encoder", "LUTLayer", "Popcount", "Stream"]
