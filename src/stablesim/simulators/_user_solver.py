"""The user's own NumPy solver: importing it and probing it once.

`simulator.solver_function` names it as `module:function` (importable, or a
`module.py` in the config file's folder) or `path/to/file.py:function`;
`stablesim._paths.resolve_solver_spec` makes the path absolute, so runs
evaluate from any folder.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._errors import ConfigError
from .._paths import SOLVER_KEY
from .._user_code import describe_error, load_user_function
from ._solvers import SolverOutputError, _takes_params, call_numpy_solver

KEY = SOLVER_KEY


def load_solver_function(spec: str) -> Callable:
    """Import the function a (resolved) spec names; one-line `ConfigError` otherwise."""
    return load_user_function(spec, KEY)


_describe = describe_error


_PROBED: set = set()
"""Solvers probed successfully in this process, with the shapes they were probed on."""


def probe_solver(fn: Callable, state: np.ndarray, params: np.ndarray, *, name: str,
                 batched: bool = False) -> None:
    """Call a NumPy solver once on a real state; one-line `ConfigError` if it misbehaves.

    Catches what would otherwise surface deep inside a compiled training step:
    an exception, `None`, a wrong shape (the same checks as every call during
    training, `call_numpy_solver`), non-finite values from a finite state.

    **Arguments:**

    - `fn`: the solver.
    - `state`, `params`: a state `(C, *N)` of the data and its parameters `(P,)`.
    - `name`: how to name the solver.
    - `batched`: call it on a batch of two states (`simulator.solver_batched`).

    A solver that passed with these shapes in this process is not called again.
    """
    state = np.asarray(state, np.float32)
    params = np.asarray(params, np.float32)
    key: tuple | None = (fn, batched, state.shape, params.shape)
    try:
        if key in _PROBED:  # e.g. a study's check before its first cell, then train() per cell
            return
    except TypeError:  # an unhashable callable: probed every time
        key = None
    if batched:
        state, params = np.stack([state, state]), np.stack([params, params])
    what = "a batch of 2 training states" if batched else "a training state"
    try:
        out = call_numpy_solver(fn, _takes_params(fn), state.copy(), params.copy())
    except SolverOutputError as err:
        hint = " (it is called on a batch: simulator.solver_batched is true)" if batched else ""
        raise ConfigError(f"solver {name}: {err}, on {what}{hint}") from None
    except Exception as err:
        raise ConfigError(f"solver {name}: raised {_describe(err)} on {what} of shape "
                          f"{state.shape}") from None
    bad = int((~np.isfinite(out)).sum())
    if bad:
        raise ConfigError(f"solver {name}: returned {bad} non-finite values for {what} "
                          "(finite input)")
    if key is not None:
        _PROBED.add(key)
