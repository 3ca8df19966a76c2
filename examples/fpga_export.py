"""FPGA export: a trained model to a C header and a Verilog file, then the checked folders (C selftest
compiled and run, Verilog simulated with Icarus + cocotb against the PyTorch outputs).

    python examples/fpga_export.py [--smoke] [--out DIR]
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from difflut import get_model, train
from difflut.data import load_mnist
from difflut.hw.export import export
from difflut.utils import export_to_c, export_to_fpga


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny size (CI)")
    p.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    a = p.parse_args(argv)
    widths, n_train, n_vectors = ((60, 30), 300, 10) if a.smoke else ((2000, 1000), 20000, 100)

    images, labels = load_mnist("train")
    test_x, _ = load_mnist("test")
    model = get_model("mnist_fc_8k_dwn", layer_widths=widths, mapping="random", tau=None)
    train(model, images[:n_train], labels[:n_train], epochs=1, batch_size=64, progress=False)
    model.train()                                       # any mode: the export is the eval function

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        print("wrote", export_to_c(model, out / "model.h", overwrite=True))
        print("wrote", export_to_fpga(model, out / "model.v", overwrite=True))
        print("model still in training mode:", model.training)

        model.eval()
        cc = shutil.which("cc") or shutil.which("gcc")
        manifest = export(model, "c", out / "c", vector_codes=test_x[:n_vectors], check=cc is not None,
                          cc=cc or "cc")
        print("C selftest:", manifest.get("selftest", "no C compiler found").splitlines()[-1])
        export(model, "verilog", out / "rtl", vector_codes=test_x[:n_vectors], pipeline="layers")
        if shutil.which("iverilog") is None:
            print("Icarus Verilog not found: skipping the simulation")
            return
        from difflut.hw.sim import run_sim

        result = run_sim(out / "rtl", simulator="icarus")
        print("Verilog simulation:", result.summary())
        if not result.passed:
            raise SystemExit("the Verilog simulation disagrees with PyTorch")


if __name__ == "__main__":
    main()
