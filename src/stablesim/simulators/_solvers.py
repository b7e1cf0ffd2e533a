"""Numerical solvers as the simulators see them: `solver(state, params)`."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterator

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError, TrainingError


def _takes_params(fn: Callable) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    positional = [
        p for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        return True
    if len(positional) not in (1, 2):
        raise ConfigError(
            f"a solver takes (state) or (state, params); {getattr(fn, '__name__', fn)!r} "
            f"takes {len(positional)} positional arguments"
        )
    return len(positional) == 2


class Solver(eqx.Module):
    """A numerical solver advancing one state: `solver(state, params)`.

    Build with `as_solver` (a JAX function, differentiable) or
    `external_solver` (NumPy code, not differentiable).
    """

    fn: Callable
    takes_params: bool = eqx.field(static=True)
    differentiable: bool = eqx.field(static=True)

    def __call__(self, state: Float[Array, " C *N"], params: Float[Array, " P"]) -> Float[Array, " C *N"]:
        return self.fn(state, params) if self.takes_params else self.fn(state)


def as_solver(fn: Callable | Solver) -> Solver:
    """Wrap a JAX function `fn(state)` or `fn(state, params)` as a `Solver`.

    **Arguments:**

    - `fn`: a JAX-traceable function of one state (and its parameters), or a
        `Solver` (returned unchanged).

    **Returns:**

    A differentiable `Solver`.
    """
    if isinstance(fn, Solver):
        return fn
    if not callable(fn):
        raise ConfigError(f"a solver must be callable, got {type(fn).__name__}")
    return Solver(fn, _takes_params(fn), True)


class SolverOutputError(ValueError):
    """A NumPy solver returned something that is not the next state."""


def call_numpy_solver(fn: Callable, takes_params: bool, state: np.ndarray,
                      params: np.ndarray) -> np.ndarray:
    """Call a NumPy solver and check what it returns.

    **Arguments:**

    - `fn`: the solver, `fn(state)` or `fn(state, params)`.
    - `takes_params`: whether it takes the parameters.
    - `state`, `params`: its inputs (one state, or a batch for a batched solver).

    **Returns:**

    The next state(s) as an array of `state`'s dtype and shape.

    **Raises:**

    Whatever `fn` raises; `SolverOutputError` if it returns `None`, something
    that is not an array of numbers, or an array of another shape.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are checked
        out = fn(state, params) if takes_params else fn(state)  # and reported in one line
    if out is None:
        raise SolverOutputError(f"returned None; it must return the next state, shaped "
                                f"{state.shape}")
    try:
        out = np.asarray(out, dtype=state.dtype)
    except (TypeError, ValueError):
        raise SolverOutputError(f"returned {type(out).__name__}, not an array of numbers") from None
    if out.shape != state.shape:
        raise SolverOutputError(f"returned shape {out.shape} for input of shape {state.shape}")
    return out


FAILURE = "stablesim: host solver failure:"
"""The start of every message a host solver's failure raises inside compiled code."""

_EXCEPTION, _NONFINITE = 1, 2  # the result codes a host call returns beside the state


class _Callback(eqx.Module):
    numpy_fn: Callable = eqx.field(static=True)
    takes_params: bool = eqx.field(static=True)
    vectorized: bool = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def _host(self, state_rank: int, state, params):
        """The next state and a result code per state (0: fine, else `_EXCEPTION`,
        `_NONFINITE`: non-finite values from finite input states)."""
        state, params = np.asarray(state), np.asarray(params)
        lead = state.shape[: state.ndim - state_rank]
        if self.vectorized:  # the solver sees one batch axis: (B, C, *N) and (B, P)
            flat_state = state.reshape((-1,) + state.shape[len(lead):])
            flat_params = np.broadcast_to(params, lead + params.shape[len(lead):]).reshape(
                (flat_state.shape[0],) + params.shape[len(lead):])
        else:
            flat_state, flat_params = state, params
        try:
            out = call_numpy_solver(self.numpy_fn, self.takes_params, flat_state, flat_params)
        except Exception as err:  # stops the compiled program in one line (`solver_errors`)
            _FIRST_EXCEPTION.setdefault(self.name, f"{type(err).__name__}: {err}")
            return np.full(state.shape, np.nan, state.dtype), np.full(lead, _EXCEPTION, np.int32)
        failed = np.isfinite(flat_state).all() and not np.isfinite(out).all()
        return out.reshape(state.shape), np.full(lead, _NONFINITE if failed else 0, np.int32)

    def __call__(self, state, params):
        host = functools.partial(self._host, state.ndim)
        if self.vectorized:  # an unbatched call still hands the solver a batch of one
            spec = (jax.ShapeDtypeStruct((1,) + state.shape, state.dtype),
                    jax.ShapeDtypeStruct((1,), np.int32))
            out, code = jax.pure_callback(host, spec, state[None], params[None],
                                          vmap_method="broadcast_all")
            out, code = out[0], code[0]
        else:
            spec = (jax.ShapeDtypeStruct(state.shape, state.dtype),
                    jax.ShapeDtypeStruct((), np.int32))
            out, code = jax.pure_callback(host, spec, state, params, vmap_method="sequential")
        return eqx.branched_error_if(out, code != 0, jnp.maximum(code - 1, 0), (
            f"{FAILURE} solver {self.name} raised an exception",
            f"{FAILURE} solver {self.name} returned non-finite values from finite input states; "
            "fix the solver (its time step, its stability limit) for the states the simulator "
            "reaches"))


@contextlib.contextmanager
def solver_errors() -> Iterator[None]:
    """Turn a host solver's failure inside compiled code into one `TrainingError` line.

    The failure stops the program where it happens (`eqx.error_if` on the
    call's result code); this names it, with the solver's own exception, and
    keeps JAX's log of the failed callback off the terminal.
    """
    quiet = _QuietCallbackLog()
    logger = logging.getLogger("jax._src.callback")
    logger.addFilter(quiet)
    try:
        yield
    except TrainingError:
        raise
    except Exception as err:
        found = re.search(re.escape(FAILURE) + r" (solver (.*?) (?:raised an exception|returned "
                          r"non-finite)[^\n]*)", str(err))
        if found is None:
            raise
        line = found.group(1)
        first = _FIRST_EXCEPTION.get(found.group(2))
        if first is not None and line.endswith("raised an exception"):
            line += f": {first}"
        raise TrainingError(line) from None
    finally:
        logger.removeFilter(quiet)


class _QuietCallbackLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "jax.pure_callback failed"


_FIRST_EXCEPTION: dict[str, str] = {}
"""Each host solver's first exception, by the name its messages use: its text is dynamic,
so it cannot be part of `eqx.error_if`'s static message; `solver_errors` appends it."""


def external_solver(fn: Callable, *, vectorized: bool = False, name: str | None = None) -> Solver:
    """Wrap an ordinary NumPy function as a (non-differentiable) `Solver`.

    It runs on the host through `jax.pure_callback`. ONE and NOG training need
    no derivative of the solver; WIG refuses such a solver. An exception, a
    wrong shape, `None` or non-finite values from finite states stop the
    compiled program at that call; `solver_errors` says so in one line.

    **Arguments:**

    - `fn`: `fn(state)` or `fn(state, params)` on NumPy arrays, returning the
        next state with the same shape.
    - `vectorized`: if True, `fn` is called once per batch with leading batch
        axes on its arguments (states `(B, C, *N)`, params `(B, P)`) and must
        return `(B, C, *N)`; otherwise once per state.
    - `name`: how messages name the solver (default: the function's name).

    **Returns:**

    A `Solver` with `differentiable=False`.
    """
    if not callable(fn):
        raise ConfigError(f"an external solver must be callable, got {type(fn).__name__}")
    label = name or str(getattr(fn, "__name__", repr(fn)))
    _FIRST_EXCEPTION.pop(label, None)  # a new solver of that name starts with none
    return Solver(_Callback(fn, _takes_params(fn), vectorized, label), True, False)
