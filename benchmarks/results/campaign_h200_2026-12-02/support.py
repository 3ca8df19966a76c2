"""How many inputs each node of the shipped budget models depends on (docs/training_features.md, rounds 26-29).

    python benchmarks/results/campaign_h200_2026-12-02/support.py   (from the repository root)

Per IR layer of the lowered model: a histogram of the nodes by the number of inputs their table depends on
(difflut.hw.passes.depends_on), before any pass.
"""

import numpy as np

import difflut
from difflut.hw.lower import lower
from difflut.hw.passes import depends_on

for name in ("mnist_lut_tiny", "mnist_lut_small", "mnist_lut_large"):
    ir = lower(difflut.get_model(name, pretrained=True).eval())
    for layer in ir.layers:
        support = depends_on(layer.tables).sum(1)
        k = layer.tables.shape[1].bit_length() - 1
        print(f"{name} {layer.name}: {layer.num_nodes} nodes; by inputs depended on 0..{k}: "
              f"{np.bincount(support, minlength=k + 1).tolist()}")
