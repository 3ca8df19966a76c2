"""A custom model from registered parts: train it, export it to C and Verilog, and save a checkpoint.

The model is a :class:`~difflut.models.base_model.BaseModel` subclass that is not in the zoo. It declares its
encoder and its stages (here a linear_lut layer and a dwn_stable layer); the lowering to hardware reads that
declaration, so the export is bit-exact like a zoo model's. Its checkpoint records the class as
``custom_model:MyModel``; the command line loads it when told to import the module::

    python examples/custom_model.py --out my_model.pt [--smoke]
    cd examples && difflut export ../my_model.pt --import custom_model --target c -o ../my_c --check
"""

import argparse
import importlib
import tempfile
from pathlib import Path

from difflut import evaluate, get_encoder, get_layer, train
from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.models.base_model import BaseModel
from difflut.models.config import COMMON_DEFAULTS, COMMON_OVERRIDES


class MyModel(BaseModel):
    """Thermometer (3 bits per pixel) -> random-wired linear_lut layer (k=4) -> dwn_stable layer (k=6) -> GroupSum."""

    defaults = dict(COMMON_DEFAULTS, encoder_bits=3, layer_widths=(1000, 500))
    overridable = COMMON_OVERRIDES
    dataset = "mnist"
    input_shape = (28, 28)

    def __init__(self, seed: int = 0, **overrides):
        super().__init__(seed, name="my_model", input_size=784, num_classes=10, **overrides)

    def _build_layers(self) -> None:
        c = self.config
        (hidden, out) = c["layer_widths"]
        self.encoder = get_encoder("thermometer")(num_bits=c["encoder_bits"])
        self.hidden = get_layer("random")(784 * c["encoder_bits"], hidden, node_type="linear_lut", k=4,
                                          seed=self.seed * 1000)
        self.out = get_layer("random")(hidden, out, node_type="dwn_stable", k=6, seed=self.seed * 1000 + 1)

    def stages(self):
        return [self.hidden, self.out]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size (CI)")
    p.add_argument("--out", default=None, help="checkpoint path (default: a temporary folder)")
    a = p.parse_args(argv)
    widths, n_train, n_test = ((100, 50), 500, 200) if a.smoke else ((1000, 500), 20000, 10000)

    images, labels = load_mnist("train")
    test_x, test_y = load_mnist("test")
    # run as a script, this file is __main__; build the class from the importable module ``custom_model``,
    # so that the checkpoint names a class another process can import (``--import custom_model``)
    model_cls = importlib.import_module("custom_model").MyModel if __name__ == "__main__" else MyModel
    model = model_cls(layer_widths=widths)
    train(model, images[:n_train], labels[:n_train], epochs=1, batch_size=64, progress=False)
    print(f"{model.model_name}: {model.num_nodes:,} nodes, test accuracy {evaluate(model, test_x[:n_test], test_y[:n_test]):.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = export(model, "c", Path(tmp) / "c", vector_codes=test_x[:50], check=True)
        print(f"C export ({manifest['num_luts']:,} LUTs), selftest: {manifest['selftest'].splitlines()[-1]}")
        out = Path(a.out) if a.out else Path(tmp) / "my_model.pt"
        model.save_checkpoint(out)
        print(f"checkpoint {out} (class {model_cls.__module__}:MyModel)")


if __name__ == "__main__":
    main()
