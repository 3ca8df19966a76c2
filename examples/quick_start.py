"""Quick start: build a zoo model, train it, evaluate the hardware function, save and reload it.

    python examples/quick_start.py            # mnist_fc_8k_dwn, random wiring, 1 epoch on 20,000 images
    python examples/quick_start.py --smoke    # a tiny network on 1,000 images (seconds; what CI runs)
"""

import argparse
import tempfile
from pathlib import Path

import difflut
from difflut import evaluate, get_model, train
from difflut.data import load_mnist


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size (CI)")
    a = p.parse_args(argv)
    widths, n_train, n_test = ((100, 50), 500, 200) if a.smoke else ((2000, 1000), 20000, 10000)

    images, labels = load_mnist("train")              # uint8 (60000, 28, 28), int64 labels
    test_x, test_y = load_mnist("test")
    model = get_model("mnist_fc_8k_dwn", layer_widths=widths, mapping="random", tau=None)
    print(f"{model.model_name}: {model.num_nodes:,} LUT nodes")
    train(model, images[:n_train], labels[:n_train], epochs=1, batch_size=64, progress=False)
    print(f"test accuracy (eval mode = the hardware function): {evaluate(model, test_x[:n_test], test_y[:n_test]):.4f}")
    print("class scores (popcounts) of 2 images:", model.class_scores(test_x[:2]).tolist())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        model.save_checkpoint(path)
        again = difflut.load(path)
        same = bool((again.class_scores(test_x[:n_test]) == model.class_scores(test_x[:n_test])).all())
        print(f"reloaded checkpoint gives the same class scores: {same}")
        if not same:
            raise SystemExit("checkpoint round trip changed the model")


if __name__ == "__main__":
    main()
