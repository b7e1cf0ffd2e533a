"""Importing a function the user names in a config: `module:function` or `file.py:function`.

Used for `simulator.solver_function` and `model.architecture`;
`stablesim._paths.resolve_solver_spec` makes a file path absolute first, so
runs work from any folder.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pathlib
import sys
from collections.abc import Callable

from ._errors import ConfigError
from ._paths import is_file_spec, split_solver_spec


def describe_error(err: BaseException) -> str:
    """`Type: message`, its first line, at most 300 characters."""
    text = f"{type(err).__name__}: {err}".splitlines()[0]
    return text if len(text) <= 300 else text[:297] + "..."


def load_user_function(spec: str, key: str) -> Callable:
    """Import the function a (resolved) spec names; one-line `ConfigError` naming `key` otherwise.

    **Arguments:**

    - `spec`: `module:function` or `/path/to/file.py:function`.
    - `key`: the config key that names it (for messages).

    **Returns:**

    The function (any callable).
    """
    target, name = split_solver_spec(spec, key)
    if is_file_spec(target):
        path = pathlib.Path(target)
        if not path.is_file():
            raise ConfigError(f"{key}: no such file {path}")
        folder = str(path.parent)
        if folder not in sys.path:  # its sibling modules import as in a script
            sys.path.insert(0, folder)
        module_name = "_stablesim_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        if module_name in sys.modules:
            module = sys.modules[module_name]
        else:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ConfigError(f"{key}: cannot import {path} (not a Python file)")
            module = importlib.util.module_from_spec(loader_spec)
            try:
                loader_spec.loader.exec_module(module)
            except Exception as err:
                raise ConfigError(f"{key}: importing {path} failed: {describe_error(err)}") from None
            sys.modules[module_name] = module
        where = str(path)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise ConfigError(
                f"{key}: cannot import module {target!r} ({err}); put {target}.py next to the "
                f"config file, or write the file form 'path/to/{target}.py:{name}'") from None
        except Exception as err:
            raise ConfigError(f"{key}: importing {target} failed: {describe_error(err)}") from None
        where = target
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{key}: {where} has no function {name!r}")
    return fn
