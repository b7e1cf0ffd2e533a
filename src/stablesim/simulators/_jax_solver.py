"""A user's solver as JAX: tracing it once, checking what it returns, its gradients.

`simulator.solver_kind` decides how `simulator.solver_function` runs: `jax`
(inside the compiled step: jitted, vmapped and differentiated, so WIG can
back-propagate through it), `numpy` (a host callback, `external_solver`) or
`auto`: the function is traced once with `jax.eval_shape` on the data's state
shape; it is JAX if that succeeds and returns one floating array of the
state's shape, NumPy otherwise (NumPy code fails on tracers at its first
`np.asarray`).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError
from .._user_code import describe_error as _describe
from ._solvers import Solver, _Callback, _takes_params
from ._user_solver import probe_solver

GRADIENT_TOLERANCE = 0.05
"""Default largest relative disagreement of a solver's VJP with central differences."""


def jax_trace_problem(fn: Callable, state: np.ndarray, params: np.ndarray) -> str | None:
    """Why `fn` is not a JAX function of one state, or None if it is.

    Traces `fn` once (`jax.eval_shape`: nothing is computed) on the shape and
    dtype of `state` and `params`.

    **Arguments:**

    - `fn`: `fn(state)` or `fn(state, params)`.
    - `state`, `params`: one state `(C, *N)` and its parameters `(P,)`.

    **Returns:**

    None, or one line: the exception tracing raised, or what it returned
    instead of one floating array shaped like `state`.
    """
    takes = _takes_params(fn)
    shapes = (jax.ShapeDtypeStruct(np.shape(state), np.asarray(state).dtype),
              jax.ShapeDtypeStruct(np.shape(params), np.asarray(params).dtype))
    try:
        out = jax.eval_shape(lambda s, p: fn(s, p) if takes else fn(s), *shapes)
    except Exception as err:
        return f"tracing it raised {_describe(err)}"
    if not isinstance(out, jax.ShapeDtypeStruct):
        return f"it returned {type(out).__name__}, not one JAX array"
    if out.shape != shapes[0].shape:
        return f"it returned shape {out.shape} for a state of shape {shapes[0].shape}"
    if not jnp.issubdtype(out.dtype, jnp.floating):
        return f"it returned dtype {out.dtype}, not a floating dtype"
    return None


class _InStateDtype(eqx.Module):
    """A JAX solver function run in JAX's default float and returning the state's dtype.

    Libraries build their coefficients in the default precision (float64 once
    `jax_enable_x64` is on, by the user or by importing PhiFlow): an Exponax
    stepper given a float32 state then fails inside its scan. The solver
    sees its inputs in the default float; the data keep their own dtype.
    """

    fn: Callable
    takes_params: bool = eqx.field(static=True)

    def __call__(self, state, params):
        work = jnp.result_type(float)
        x = state.astype(work) if jnp.issubdtype(state.dtype, jnp.floating) else state
        out = self.fn(x, params.astype(work)) if self.takes_params else self.fn(x)
        return jnp.asarray(out).astype(state.dtype)


def jax_solver(fn: Callable) -> Solver:
    """The user's JAX function as a differentiable `Solver` whose result keeps the state's dtype.

    Unlike `as_solver`, the function sees its inputs in JAX's default float
    and its result is cast to the state's dtype (an Exponax stepper or PhiFlow
    code keeps working when `jax_enable_x64` is on; the data keep their
    dtype). Check it with `jax_trace_problem` and
    `check_solver_output` before training.

    **Arguments:**

    - `fn`: a JAX function `fn(state)` or `fn(state, params)` of one state.

    **Returns:**

    A `Solver` with `differentiable=True`.
    """
    return Solver(_InStateDtype(fn, _takes_params(fn)), True, True)


@eqx.filter_jit
def _advance(solver, state, params):
    return solver(state, params)


def check_solver_output(solver: Solver, state: np.ndarray, params: np.ndarray, *,
                        name: str) -> None:
    """Advance one state with `solver` (compiled); one-line `ConfigError` if the result is
    not a finite array of the state's shape and dtype.

    **Arguments:**

    - `solver`: any `Solver` (JAX or a host callback).
    - `state`, `params`: a finite training state and its parameters.
    - `name`: how the message names the solver.
    """
    x, p = jnp.asarray(state), jnp.asarray(params)
    try:
        out = _advance(solver, x, p)
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"solver {name}: raised {_describe(err)} on a training state of shape "
                          f"{x.shape}") from None
    if not isinstance(out, jax.Array):
        raise ConfigError(f"solver {name}: returned {type(out).__name__}, not a JAX array")
    if out.shape != x.shape or out.dtype != x.dtype:
        raise ConfigError(f"solver {name}: returned {out.dtype}{list(out.shape)} for a state "
                          f"{x.dtype}{list(x.shape)}")
    bad = int((~jnp.isfinite(out)).sum())
    if bad:
        raise ConfigError(f"solver {name}: returned {bad} non-finite values for a training "
                          "state (finite input)")


def solvers_of(simulator) -> list[Solver]:
    """The `Solver`s inside a simulator (a correction's, the solver alone's)."""
    leaves = jax.tree_util.tree_leaves(simulator, is_leaf=lambda x: isinstance(x, Solver))
    return [leaf for leaf in leaves if isinstance(leaf, Solver)]


def check_simulator_solvers(simulator, state: np.ndarray, params: np.ndarray, *,
                            name: str | None = None) -> None:
    """The checks of `check_solver_output` (a NumPy solver: `probe_solver`'s) for every
    solver inside `simulator`: one `ConfigError` line. The command line (`runs.check_solver`)
    and `training.train` both check through here.

    **Arguments:**

    - `simulator`: e.g. a `Correction` built from the API.
    - `state`, `params`: a finite training state and its parameters.
    - `name`: how messages name the solver (default: its function's name).
    """
    for solver in solvers_of(simulator):
        host = solver.fn if isinstance(solver.fn, _Callback) else None
        if host is not None:
            probe_solver(host.numpy_fn, state, params, name=name or host.name,
                         batched=host.vectorized)
            continue
        fn = solver.fn.fn if isinstance(solver.fn, _InStateDtype) else solver.fn
        name = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        problem = jax_trace_problem(  # the function itself, not the shape-annotated wrapper
            lambda x, q, s=solver: s.fn(x, q) if s.takes_params else s.fn(x), state, params)
        if problem is not None:
            raise ConfigError(f"solver {name}: {problem} (a solver passed to as_solver must be "
                              "a JAX function of one state)")
        check_solver_output(solver, state, params, name=name)


def gradient_error(
    solver: Solver,
    states: Float[Array, "B C *N"],
    params: Float[Array, "B P"],
    key: jax.Array,
    *,
    directions: int = 2,
) -> float:
    """Relative disagreement of the solver's vector-Jacobian product with central differences.

    For each state `x` and random unit directions `v` (input) and `w`
    (output), `w . J v` is computed twice: from the VJP (`(J^T w) . v`) and as
    `w . (S(x + h v) - S(x - h v)) / 2h`, with `h` 1e-2 and 1e-3 of the
    state's norm (the better of the two, so neither truncation nor rounding
    decides alone). The error is the norm of the differences over the norm of
    the finite differences, over all states and directions.

    **Arguments:**

    - `solver`: a differentiable `Solver`.
    - `states`, `params`: training states and their parameters.
    - `key`: random directions.
    - `directions`: direction pairs per state.

    **Returns:**

    The relative error (NaN if the VJP or the solver gave non-finite values).
    """
    keys = jax.random.split(key, 2 * directions * states.shape[0])

    def one(x, p, kv, kw):
        v = jax.random.normal(kv, x.shape, x.dtype)
        w = jax.random.normal(kw, x.shape, x.dtype)
        v, w = v / jnp.linalg.norm(v), w / jnp.linalg.norm(w)
        out, pullback = jax.vjp(lambda y: solver(y, p), x)
        adjoint = jnp.vdot(pullback(w)[0], v)
        scale = jnp.linalg.norm(x) + 1e-6
        fds = [jnp.vdot(w, solver(x + h * scale * v, p) - solver(x - h * scale * v, p))
               / (2 * h * scale) for h in (1e-2, 1e-3)]
        return adjoint, jnp.stack(fds)

    xs = jnp.repeat(states, directions, axis=0)
    ps = jnp.repeat(params, directions, axis=0)
    kv, kw = keys[: xs.shape[0]], keys[xs.shape[0]:]
    adjoint, fd = eqx.filter_jit(jax.vmap(one))(xs, ps, kv, kw)
    errors = [jnp.linalg.norm(adjoint - fd[:, i]) / (jnp.linalg.norm(fd[:, i]) + 1e-30)
              for i in range(fd.shape[1])]
    return float(jnp.min(jnp.stack(errors)))


def check_solver_gradient(solver: Solver, states: np.ndarray, params: np.ndarray, *,
                          name: str, tolerance: float = GRADIENT_TOLERANCE,
                          key: jax.Array | None = None) -> float:
    """The gradient admission check before training back-propagates through a solver.

    **Arguments:**

    - `solver`: a differentiable `Solver`.
    - `states`, `params`: a few training states `(B, C, *N)` and parameters `(B, P)`.
    - `name`: how the message names the solver.
    - `tolerance`: the largest relative error admitted.
    - `key`: random directions (default: key 0).

    **Returns:**

    The measured relative error.

    **Raises:**

    `ConfigError` (one line, with the measured error) when it is not finite
    or exceeds `tolerance`.
    """
    key = jax.random.key(0) if key is None else key
    error = gradient_error(solver, jnp.asarray(states), jnp.asarray(params), key)
    if not np.isfinite(error) or error > tolerance:
        raise ConfigError(
            f"solver {name}: its gradient (VJP) disagrees with central finite differences by "
            f"{error:.3g} (relative, on {len(states)} training states; tolerance {tolerance:g}); "
            "WIG would train on wrong gradients. Fix its custom VJP, train NOG or ONE, or set "
            "simulator.gradient_check: false to train anyway")
    return error
