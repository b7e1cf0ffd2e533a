"""Imports point down only: base -> systems/data/models/simulators/ode ->
training/evaluation/stability -> config -> runs -> studies/reporting -> cli.

Read from the modules' source (every import, lazy ones inside functions too).
No private module of one subpackage is imported by another.
"""

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "stablesim"
BASE = ("_errors", "_lazy_files", "_file_formats",
        "_atomic", "_options", "_values", "_paths", "_user_code", "_progress", "_dataset_files", "_rundir",
        "_distributed",
        "_training_config",
        "__init__",
        "__main__")
LAYERS = {
    **{name: 0 for name in BASE},
    "systems": 1, "data": 1, "models": 1, "simulators": 1, "ode": 1,
    "training": 2, "evaluation": 2, "stability": 2,
    "config": 3,
    "runs": 4,
    "studies": 5, "reporting": 5,
    "cli": 6,
}


def _unit(parts: list[str]) -> str:
    """The layer unit of a module path inside stablesim (subpackage or base module)."""
    head = parts[0]
    return head.removesuffix(".py")


def _imports(path: pathlib.Path):
    """(unit, module parts, imported names) for every stablesim import in a file."""
    rel = path.relative_to(SRC).with_suffix("").parts
    package = list(rel[:-1]) if path.name != "__init__.py" else list(rel[:-1])
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("stablesim"):
                target = node.module.split(".")[1:]
            else:
                continue
            names = [a.name for a in node.names]
            if not target:  # "from . import x" at the top package
                for name in names:
                    yield [name], name
                continue
            yield target, names
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stablesim."):
                    yield alias.name.split(".")[1:], []


def _violations():
    upward, private = [], []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts
        source = _unit(list(rel))
        for target, names in _imports(path):
            unit = _unit(target)
            if unit not in LAYERS or source not in LAYERS:
                continue
            where = f"{'/'.join(rel)} imports {'.'.join(target)}"
            if LAYERS[unit] > LAYERS[source]:
                upward.append(where)
            crossing = unit != source and LAYERS[unit] > 0
            if crossing and any(p.startswith("_") and p != "__init__" for p in target[1:]):
                private.append(where)
            if crossing and isinstance(names, list):
                private += [f"{where}: {n}" for n in names if n.startswith("_")]
    return upward, private


def test_imports_point_down_only():
    upward, _ = _violations()
    assert not upward, "\n".join(upward)


def test_no_private_names_cross_subpackages():
    _, private = _violations()
    assert not private, "\n".join(private)


def test_every_module_is_placed_in_a_layer():
    units = {_unit(list(p.relative_to(SRC).parts)) for p in SRC.rglob("*.py")}
    assert units <= set(LAYERS), units - set(LAYERS)
