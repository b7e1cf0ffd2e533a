"""Paths a config names, resolved by one rule (importable without JAX).

A relative path resolves against the folder of the file that names it; a
path given on the command line (`--set`) against the working directory.
"""

from __future__ import annotations

import os
import pathlib

from ._errors import ConfigError

SOLVER_KEY = "simulator.solver_function"


def _base(base_dir: str | os.PathLike | None) -> pathlib.Path:
    return pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()


def resolve_data_path(path: str, base_dir: str | os.PathLike | None) -> str:
    """`path` made absolute against `base_dir` (default: the working directory)."""
    p = pathlib.Path(path).expanduser()
    return str(p if p.is_absolute() else (_base(base_dir) / p).resolve())


def split_solver_spec(spec: str, key: str = SOLVER_KEY) -> tuple[str, str]:
    """`(module or file, function name)` of a spec naming a user's function (`key` names the
    config key in the one-line error if it is malformed)."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise ConfigError(f"{key}: expected 'module:function' or "
                          f"'path/to/file.py:function', got {spec!r}")
    return target, name


def is_file_spec(target: str) -> bool:
    """Whether a spec's target is a file path (not a module name)."""
    return target.endswith(".py") or "/" in target or os.sep in target


def resolve_solver_spec(spec: str, base_dir: str | os.PathLike | None,
                        key: str = SOLVER_KEY) -> str:
    """The spec with its file made absolute (against `base_dir`, default: the cwd).

    A `module:function` whose module is a `module.py` (or a package) in
    `base_dir` becomes the file form, so a run keeps working from any folder.
    Other module names (installed packages) stay as they are.

    **Arguments:**

    - `spec`: `module:function` or `path/to/file.py:function`.
    - `base_dir`: the folder of the config file that names it.
    - `key`: the config key that names it (`simulator.solver_function`,
        `model.architecture`), for messages.

    **Returns:**

    The resolved spec.
    """
    target, name = split_solver_spec(spec, key)
    base = _base(base_dir)
    if is_file_spec(target):
        path = pathlib.Path(target).expanduser()
        path = path if path.is_absolute() else base / path
        return f"{path.resolve()}:{name}"
    local = base / pathlib.Path(*target.split("."))
    for candidate in (local.with_suffix(".py"), local / "__init__.py"):
        if candidate.is_file():
            return f"{candidate.resolve()}:{name}"
    return spec
