"""Numerical solvers as the simulators see them: `solver(state, params)`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError


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


class SolverHealth:
    """What the host saw of an external solver: its first exception, non-finite outputs.

    A solver that raises inside a compiled rollout would end in a long JAX
    traceback; instead the callback records the problem here, returns NaN,
    and the trainer or the evaluation reports it in one line.
    """

    def __init__(self, name: str):
        self.name = name
        self.error: str | None = None
        self.nonfinite = 0

    def problem(self) -> str | None:
        """One line describing what went wrong, or None."""
        if self.error is not None:
            return f"solver {self.name} failed: {self.error}"
        if self.nonfinite:
            return (f"solver {self.name} returned non-finite values from finite input states "
                    f"({self.nonfinite} calls); fix the solver (its time step, its stability "
                    "limit) for the states the simulator reaches")
        return None


class _Callback(eqx.Module):
    numpy_fn: Callable = eqx.field(static=True)
    takes_params: bool = eqx.field(static=True)
    vectorized: bool = eqx.field(static=True)
    health: SolverHealth = eqx.field(static=True)

    def _host(self, state_rank: int, state, params):
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
        except Exception as err:  # reported in one line by the caller, not as a traceback
            if self.health.error is None:
                self.health.error = f"{type(err).__name__}: {err}"
            return np.full(state.shape, np.nan, state.dtype)
        if np.isfinite(flat_state).all() and not np.isfinite(out).all():
            self.health.nonfinite += 1
        return out.reshape(state.shape)

    def __call__(self, state, params):
        result = jax.ShapeDtypeStruct(state.shape, state.dtype)
        host = functools.partial(self._host, state.ndim)
        if self.vectorized:  # an unbatched call still hands the solver a batch of one
            out = jax.pure_callback(host, jax.ShapeDtypeStruct((1,) + state.shape, state.dtype),
                                    state[None], params[None], vmap_method="broadcast_all")
            return out[0]
        return jax.pure_callback(host, result, state, params, vmap_method="sequential")


def external_solver(fn: Callable, *, vectorized: bool = False, name: str | None = None) -> Solver:
    """Wrap an ordinary NumPy function as a (non-differentiable) `Solver`.

    It runs on the host through `jax.pure_callback`. ONE and NOG training need
    no derivative of the solver; WIG refuses such a solver. An exception, a
    wrong shape, `None` or non-finite values from `fn` are recorded in the
    solver's `health` (see `solver_problem`) instead of ending in a traceback.

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
    health = SolverHealth(name or str(getattr(fn, "__name__", repr(fn))))
    return Solver(_Callback(fn, _takes_params(fn), vectorized, health), True, False)


def solver_health(simulator) -> SolverHealth | None:
    """The `SolverHealth` of the external solver of `simulator` (None: it has none)."""
    for leaf in jax.tree_util.tree_leaves(simulator, is_leaf=lambda x: isinstance(x, _Callback)):
        if isinstance(leaf, _Callback):
            return leaf.health
    return None


def solver_problem(simulator) -> str | None:
    """What went wrong in an external solver of `simulator` (None: nothing, or no such solver)."""
    health = solver_health(simulator)
    return None if health is None else health.problem()
