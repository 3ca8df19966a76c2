"""Import boundaries: a torch-free hardware core, a lazy ``import difflut``, no import cycles."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import difflut

PACKAGE = Path(difflut.__file__).resolve().parent

#: the hardware core: numpy and the standard library only
HARDWARE_CORE = ("difflut.hw.ir", "difflut.hw.encoder_form", "difflut.hw.passes", "difflut.hw.evaluate",
                 "difflut.hw.c_header")

#: the public names of difflut/__init__.py and difflut/hw/__init__.py before they became lazy
PUBLIC_NAMES = {
    "difflut": ("__version__", "BaseModel", "evaluate", "get_model", "list_models", "load", "register_model",
                "train", "DiffLUTError", "GroupSum", "InputError", "InputFormat", "NotFittedError", "encoders",
                "get_encoder", "get_layer", "get_node", "layers", "list_encoders", "list_layers", "list_nodes",
                "nodes", "register_encoder", "register_layer", "register_node"),
    "difflut.hw": ("CONST0", "CONST1", "IR_VERSION", "IRError", "LUTLayer", "LoweringError", "NetlistIR",
                   "evaluate_ir", "load_ir", "lower", "lower_layers", "optimize", "save_ir"),
}

#: import edges left out of the cycle check, each with its reason
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


def run_python(code: str, block: tuple[str, ...] = ("torch",)) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing any module of ``block`` fails."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in block)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


LOADED = "import json; print(json.dumps(sorted(m for m in sys.modules if sys.modules[m] is not None)))"


def loaded_modules(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the torch-free hardware core ---------------------------------------------------------------------
def test_hardware_core_imports_without_torch_or_amaranth():
    loaded = loaded_modules(run_python(f"import {', '.join(HARDWARE_CORE)}\n{LOADED}"))
    assert set(HARDWARE_CORE) <= set(loaded)
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "amaranth")]


def test_hardware_core_works_without_torch(tmp_path):
    """Load, optimise and evaluate a lowered model's IR with torch blocked: the scores are the model's."""
    from difflut.hw import lower, save_ir
    from difflut.models import get_model

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=gen)
    model = get_model("mnist_fc_8k_linear", layer_widths=(40, 20)).fit_encoder(images).eval()
    save_ir(lower(model), tmp_path / "model.ir.json")
    np.save(tmp_path / "codes.npy", images.numpy())
    result = run_python(
        "import numpy as np\n"
        "from difflut.hw import evaluate_ir, load_ir, optimize\n"
        f"ir, _ = optimize(load_ir({str(tmp_path / 'model.ir.json')!r}))\n"
        f"scores, _ = evaluate_ir(ir, np.load({str(tmp_path / 'codes.npy')!r}))\n"
        f"np.save({str(tmp_path / 'scores.npy')!r}, scores)\n"
        f"{LOADED}"
    )
    assert not [m for m in loaded_modules(result) if m.split(".")[0] in ("torch", "amaranth")]
    with torch.no_grad():
        expected = model.class_scores(images).numpy()
    assert np.array_equal(np.load(tmp_path / "scores.npy"), expected)


def test_torch_block_is_effective():
    """Negative control: the lowering needs torch, so with torch blocked it must not import."""
    result = run_python("import difflut.hw.lower")
    assert result.returncode != 0
    assert "torch" in result.stderr and "Error" in result.stderr


# -- import difflut is lazy -----------------------------------------------------------------------------
def test_import_difflut_loads_no_torch():
    loaded = loaded_modules(run_python(f"import difflut, difflut.hw\ndifflut.InputFormat(8)\n{LOADED}"))
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "amaranth")]
    # negative control: a torch-using name does load torch (and so fails with torch blocked)
    result = run_python("import difflut\ndifflut.get_model")
    assert result.returncode != 0 and "torch" in result.stderr


@pytest.mark.parametrize("package", sorted(PUBLIC_NAMES))
def test_every_public_name_resolves_in_a_fresh_interpreter(package):
    names = PUBLIC_NAMES[package]
    code = (f"import importlib\npkg = importlib.import_module({package!r})\n"
            f"missing = [n for n in {names!r} if getattr(pkg, n, None) is None]\n"
            "assert not missing, missing\n"
            "assert set(pkg.__all__) <= set(dir(pkg))\n"
            f"from {package} import *\n")
    result = run_python(code, block=())
    assert result.returncode == 0, result.stderr


def test_public_names_are_the_defining_objects():
    import difflut.hw
    import difflut.hw.lower  # the submodule import must not replace the function difflut.hw.lower
    from difflut import layers, models, training

    assert set(PUBLIC_NAMES["difflut"]) <= set(difflut.__all__)
    assert set(PUBLIC_NAMES["difflut.hw"]) <= set(difflut.hw.__all__)
    lowering = sys.modules["difflut.hw.lower"]
    assert difflut.hw.lower is lowering.lower and callable(difflut.hw.lower)
    assert difflut.hw.LoweringError is lowering.LoweringError
    assert difflut.get_model is models.get_model and difflut.load is models.load
    assert difflut.train is training.train and difflut.evaluate is training.evaluate
    assert difflut.GroupSum is layers.GroupSum
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        difflut.not_a_name  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        difflut.hw.not_a_name  # noqa: B018


def test_registries_load_their_builtins_on_first_lookup():
    code = ("from difflut.registry import list_encoders, list_layers, list_nodes, MODELS\n"
            "assert 'thermometer' in list_encoders() and 'dwn' in list_nodes() and 'random' in list_layers()\n"
            "assert 'mnist_fc_8k_dwn' in MODELS\n")
    result = run_python(code, block=())
    assert result.returncode == 0, result.stderr


def test_registry_with_missing_builtins_fails_every_lookup():
    """A failed import of the built-ins is raised again on the next look-up, never an empty registry."""
    from difflut.registry import Registry

    reg = Registry("widget", "difflut.no_such_module")
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError, match="no_such_module"):
            reg.names()


# -- no import cycles -------------------------------------------------------------------------------------
def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Every module path an ``import`` names, function-local ones included (a deferred import is still
    a dependency), ``if TYPE_CHECKING:`` blocks excluded; ``from m import x`` names both m and m.x."""
    found = set()
    for node in ast.walk(_without_type_checking(tree)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _without_type_checking(tree: ast.Module) -> ast.Module:
    class Strip(ast.NodeTransformer):
        def visit_If(self, node):
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                return None
            return self.generic_visit(node)

    return Strip().visit(tree)


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports. Importing a.b.c also runs the ``__init__`` of a.b
    (unless the importer is inside a.b, whose ``__init__`` already runs)."""
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in files.items():
        edges = set()
        for target in imported_names(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                module = ".".join(parts[:i])
                if module in files and module != name and not name.startswith(module + "."):
                    edges.add(module)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles():
    graph = import_graph(PACKAGE)
    for importer, imported in KNOWN_CYCLE_EDGES:
        assert imported in graph[importer], f"stale exception {importer} -> {imported}: remove it"
        graph[importer].discard(imported)
    assert find_cycles(graph) == []


def test_known_exceptions_are_cycles():
    """Each exception still closes a cycle (else it hides nothing and must go)."""
    cycles = find_cycles(import_graph(PACKAGE))
    for importer, imported in KNOWN_CYCLE_EDGES:
        assert any(importer in c and imported in c for c in cycles), f"{importer} -> {imported} is no cycle"


def test_cycle_check_finds_cycles(tmp_path):
    """Negative control: a function-local import back into a package, and a cycle through an __init__."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("from .sub.d import g\n")
    (pkg / "sub" / "__init__.py").write_text("from ..c import g\n")
    (pkg / "sub" / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n")
    assert find_cycles(import_graph(pkg)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub"]]
