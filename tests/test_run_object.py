"""A run is an object: a `Run` reads each file of its directory once; no import cycle.

Counted with Python's audit hook (`sys.addaudithook`, event "open"): every
`open` of a file in the run directory while a command runs.
"""

from __future__ import annotations

import ast
import collections
import os
import pathlib
import sys

import yaml

from stablesim.cli import main

from _tiny import TINY

_opened: collections.Counter | None = None
_root: str = ""


def _hook(event, args):
    if event == "open" and _opened is not None and args[0] is not None:
        path = os.path.abspath(os.fsdecode(args[0])) if not isinstance(args[0], int) else ""
        mode = str(args[1]) if len(args) > 1 else "r"
        if path.startswith(_root) and "r" in mode and "+" not in mode:
            _opened[pathlib.Path(path).name] += 1


sys.addaudithook(_hook)


def _reads_during(root: pathlib.Path, *argv) -> collections.Counter:
    global _opened, _root
    _opened, _root = collections.Counter(), str(root.resolve())
    try:
        assert main([str(a) for a in argv]) == 0
    finally:
        counted, _opened = _opened, None
    return counted


def test_evaluate_reads_each_run_file_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(TINY))
    assert main(["train", "run.yaml", "--out", "r", "--quiet"]) == 0
    reads = _reads_during(tmp_path / "r", "evaluate", tmp_path / "r", "--quiet",
                          "--set", "evaluation.plots=true")
    assert reads["config.yaml"] == 1 and reads["checkpoint.eqx"] == 1
    assert reads["train_log.csv"] == 1  # for the training plot
    assert reads["metrics.json"] == 0 and reads["rollout_example.npz"] == 0  # not read back
    assert (tmp_path / "r" / "plots" / "training.png").exists()


def test_a_study_cell_reads_each_run_file_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = dict(TINY, evaluation=dict(TINY["evaluation"], plots=True))
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    study = {"name": "one", "base": "base.yaml", "grid": {"modality.name": ["NOG"]}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    reads = _reads_during(tmp_path / "s" / "runs", "study", "study.yaml", "--out", "s",
                          "--quiet")
    cells = [p.name for p in (tmp_path / "s" / "runs").iterdir() if p.is_dir()]
    assert len(cells) == 1
    assert reads["config.yaml"] <= 1 and reads["checkpoint.eqx"] == 1
    assert reads["train_log.csv"] == 1
    assert reads["metrics.json"] == 0  # the report uses the results in memory
    assert reads["rollout_example.npz"] == 0


def _module_imports(src: pathlib.Path) -> dict[str, set[str]]:
    """Every stablesim module's imports of other stablesim modules (lazy ones too)."""
    graph: dict[str, set[str]] = {}
    for path in src.rglob("*.py"):
        rel = path.relative_to(src.parent).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        package = rel[:-1]
        out = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    target = ".".join(base + tuple((node.module or "").split(".")))
                    target = target.rstrip(".")
                elif node.module and node.module.startswith("stablesim"):
                    target = node.module
                else:
                    continue
                for alias in node.names:  # `from . import x` may name a module
                    candidate = f"{target}.{alias.name}"
                    out.add(candidate if (src.parent / (candidate.replace(".", "/") + ".py"))
                            .exists() else target)
    return graph


def test_no_module_import_cycle():
    src = pathlib.Path(__file__).resolve().parents[1] / "src" / "stablesim"
    graph = _module_imports(src)
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                # a package's __init__ importing its own submodules is not a cycle
                if not all(m.startswith(cycle[0]) for m in cycle) or len(cycle) > 2:
                    raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_reporting_draws_from_data_and_never_imports_runs():
    src = pathlib.Path(__file__).resolve().parents[1] / "src" / "stablesim"
    graph = _module_imports(src)
    for module, imports in graph.items():
        if module.startswith("stablesim.reporting"):
            assert not any(i.startswith(("stablesim.runs", "stablesim.studies"))
                           for i in imports), module
