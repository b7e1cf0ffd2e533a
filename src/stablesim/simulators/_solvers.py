"""Numerical solvers as the simulators see them: `solver(state, params)`."""

from __future__ import annotations

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

    def __call__(self, state: Float[Array, "C *N"], params: Float[Array, " P"]) -> Float[Array, "C *N"]:
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


class _Callback(eqx.Module):
    numpy_fn: Callable = eqx.field(static=True)
    takes_params: bool = eqx.field(static=True)
    vectorized: bool = eqx.field(static=True)

    def _host(self, state, params):
        state = np.asarray(state)
        out = self.numpy_fn(state, np.asarray(params)) if self.takes_params else self.numpy_fn(state)
        out = np.asarray(out, dtype=state.dtype)
        if out.shape != state.shape:
            raise ValueError(
                f"external solver returned shape {out.shape} for a state of shape {state.shape}"
            )
        return out

    def __call__(self, state, params):
        result = jax.ShapeDtypeStruct(state.shape, state.dtype)
        method = "broadcast_all" if self.vectorized else "sequential"
        return jax.pure_callback(self._host, result, state, params, vmap_method=method)


def external_solver(fn: Callable, *, vectorized: bool = False) -> Solver:
    """Wrap an ordinary NumPy function as a (non-differentiable) `Solver`.

    It runs on the host through `jax.pure_callback`. ONE and NOG training need
    no derivative of the solver; WIG refuses such a solver.

    **Arguments:**

    - `fn`: `fn(state)` or `fn(state, params)` on NumPy arrays, returning the
        next state with the same shape.
    - `vectorized`: if True, `fn` is called once per batch with leading batch
        axes on its arguments (it must broadcast over them); otherwise once
        per state.

    **Returns:**

    A `Solver` with `differentiable=False`.
    """
    if not callable(fn):
        raise ConfigError(f"an external solver must be callable, got {type(fn).__name__}")
    return Solver(_Callback(fn, _takes_params(fn), vectorized), True, False)
