"""Basic training with a torch DataLoader of float images in [0, 1], as torchvision's ToTensor gives them.

The images are ``float32 (B, 1, 28, 28)`` with values ``code / 255``: the model converts them exactly to the
uint8 codes the hardware sees (other floats, e.g. normalised ones, are refused with the reason).

    python examples/basic_training.py [--smoke] [--epochs N]
"""

import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from difflut import evaluate, get_model
from difflut.data import load_mnist


def float_dataset(split: str, limit: int) -> TensorDataset:
    images, labels = load_mnist(split)
    x = images[:limit].unsqueeze(1).float() / 255      # what transforms.ToTensor() makes of a uint8 image
    return TensorDataset(x, labels[:limit])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size (CI)")
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args(argv)
    widths, n_train, n_test = ((100, 50), 500, 200) if a.smoke else ((2000, 1000), 55000, 10000)
    epochs = 1 if a.smoke else a.epochs

    train_set, test_set = float_dataset("train", n_train), float_dataset("test", n_test)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = get_model("mnist_bitflip_10", layer_widths=widths)
    model.fit_encoder(train_set.tensors[0])            # thresholds from the training images
    optimizer = torch.optim.Adam(model.parameters(), lr=model.default_lr)
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y) + model.get_regularization_loss()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        acc = evaluate(model, *test_set.tensors)       # eval mode: the hardware function
        print(f"epoch {epoch}: loss {total / len(train_set):.4f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
