"""Fixtures shared by the test modules."""

import importlib.util
from pathlib import Path

import pytest
import torch

#: the datasets folder beside the project (CI has it; only MNIST is bundled with the package)
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark("bench_zoo")``: a script of ``benchmarks/`` imported as a module (not run)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" /
                                                      f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """:data:`SHARED_DATASETS`, the datasets folder beside the project (it may be absent)."""
    return SHARED_DATASETS


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of tiny tensors: as fast, and no OpenMP threads spinning
    against other processes on a busy small machine. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained_tiny_lut():
    """A small ``mnist_lut_tiny`` (60 learnable nodes, reduction to 20, 300 encoder bits) trained 2 epochs on
    3,000 MNIST images on the CPU (seed 1), in eval mode. Shared: tests only read it."""
    from difflut.data import load_mnist
    from difflut.models import get_model
    from difflut.training import train

    x, y = load_mnist("train")
    model = get_model("mnist_lut_tiny", seed=1, layer_widths=(60,), reduction_widths=(20,),
                      encoder_budget=300).fit_encoder(x[:3000])
    train(model, x[:3000], y[:3000], epochs=2, batch_size=128, progress=False, seed=1)
    return model.eval()
