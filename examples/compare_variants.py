"""Compare the bit-flip and gradient-stabilisation variants of the ablation network.

Each variant is trained the same way; the table gives the clean test accuracy and the accuracy under
inference-time bit flips of every LUT-layer input (``evaluate(..., flip_rate=q)``).

    python examples/compare_variants.py [--smoke]
"""

import argparse

from difflut import evaluate, get_model, train
from difflut.data import load_mnist

VARIANTS = ["mnist_bitflip_0", "mnist_bitflip_10", "mnist_gradnorm_none", "mnist_gradnorm_layerwise"]
FLIP_RATES = (0.0, 0.05, 0.1)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size (CI)")
    a = p.parse_args(argv)
    widths, n_train, n_test, epochs = ((60, 30), 300, 200, 1) if a.smoke else ((6000, 2000), 55000, 10000, 3)
    images, labels = load_mnist("train")
    test_x, test_y = load_mnist("test")
    test_x, test_y = test_x[:n_test], test_y[:n_test]
    print(f"{'model':<26}" + "".join(f"  flips {q:<5}" for q in FLIP_RATES))
    for name in VARIANTS:
        model = get_model(name, layer_widths=widths)   # mnist_bitflip_0 is mnist_bitflip_none
        train(model, images[:n_train], labels[:n_train], epochs=epochs, batch_size=64, progress=False)
        accs = [evaluate(model, test_x, test_y, flip_rate=q, seed=0) for q in FLIP_RATES]
        print(f"{name:<26}" + "".join(f"  {acc:<11.4f}" for acc in accs))


if __name__ == "__main__":
    main()
