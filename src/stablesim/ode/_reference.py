"""The continuous gradient, from a high-accuracy adaptive solve (diffrax), and
conversions between per-layer parameters and smooth parameter functions theta(t)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, Float, PyTree, Scalar

from .._errors import ConfigError
from ._layout import LayerKind, layer_times, leaf_kinds, map_layer_leaves
from ._methods import Integrator, get_integrator


class ContinuousGradient(eqx.Module):
    """The gradient of l(x(t1)) for dx/dt = f(x; theta(t)), from the continuous adjoint.

    **Arguments:**

    - `loss`: l(x(t1)).
    - `x1`: x(t1).
    - `x0`: dl/dx0 = p(t0).
    - `rate`: G(t) = (df/dtheta)^T p(t) at the requested times (a PyTree
      shaped like theta with a leading time axis): the gradient per unit time.
    - `total`: the integral of G over [t0, t1], the gradient of a parameter
      shared by the whole interval.
    """

    loss: Scalar
    x1: PyTree[Array]
    x0: PyTree[Array]
    rate: PyTree[Array]
    total: PyTree[Array]


def adaptive_solve(vector_field: Callable, theta_of_t: Callable, x0: PyTree[Array], *,
                   t1: float, t0: float = 0.0, rtol: float = 1e-10, atol: float = 1e-10,
                   max_steps: int = 100_000) -> PyTree[Array]:
    """x(t1) of dx/dt = f(x, theta(t)) by an adaptive Dopri8 solve (diffrax): the model
    "in continuous time", independent of any fixed-step discretisation.

    **Arguments:**

    - `vector_field`: `f(x, theta)`.
    - `theta_of_t`: t -> theta(t) (a `TimeFunction`, or `interpolate_parameters`).
    - `x0`, `t1`, `t0`: the initial state and the interval.
    - `rtol`, `atol`, `max_steps`: solver tolerances.

    **Returns:**

    The state at t1.
    """
    # The field and theta(t) travel as `args`: with a module-level field and a
    # `TimeFunction`, repeated solves reuse one compiled program.
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(_field_in_time), diffrax.Dopri8(), t0, t1, None, x0,
        args=(vector_field, theta_of_t),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol), max_steps=max_steps)
    return jtu.tree_map(lambda leaf: leaf[-1], solution.ys)


def _field_in_time(t, x, args):
    vector_field, theta_of_t = args
    return vector_field(x, theta_of_t(t))


def continuous_gradient(
    vector_field: Callable[[PyTree[Array], PyTree[Any]], PyTree[Array]],
    theta_of_t: Callable[[Scalar], PyTree[Any]],
    x0: PyTree[Array],
    loss: Callable[[PyTree[Array]], Scalar],
    *,
    t1: float,
    times: Float[Array, " times"] | np.ndarray,
    t0: float = 0.0,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    max_steps: int = 100_000,
) -> ContinuousGradient:
    """Solve forward, then the adjoint dp/dt = -A^T p backward, both with Dopri8.

    The state is re-integrated backward together with p and the running
    integral of G (the classical backsolve adjoint); use it in float64, on
    problems that are not strongly dissipative, as a reference.

    **Arguments:**

    - `vector_field`: `f(x, theta)`.
    - `theta_of_t`: the parameter function t -> theta(t) (see `interpolate_parameters`).
    - `x0`: the initial state.
    - `loss`: l(x(t1)), a scalar.
    - `t1`, `t0`: the interval.
    - `times`: where to report G(t), within [t0, t1].
    - `rtol`, `atol`, `max_steps`: solver tolerances.

    **Returns:**

    A `ContinuousGradient`.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ConfigError("times must be a non-empty 1-D array")
    if times.min() < t0 - 1e-12 or times.max() > t1 + 1e-12:
        raise ConfigError(f"times must lie in [{t0}, {t1}]")
    solver = diffrax.Dopri8()
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    x1 = adaptive_solve(vector_field, theta_of_t, x0, t1=t1, t0=t0, rtol=rtol, atol=atol,
                        max_steps=max_steps)
    value, p1 = jax.value_and_grad(loss)(x1)
    theta0 = theta_of_t(jnp.asarray(t0, dtype=jnp.result_type(float)))
    params0, _ = eqx.partition(theta0, eqx.is_inexact_array)

    def backward_field(t, state, args):
        x, p, _ = state
        theta, static = eqx.partition(theta_of_t(t), eqx.is_inexact_array)
        fx, vjp = jax.vjp(lambda x_, th: vector_field(x_, eqx.combine(th, static)), x, theta)
        dp, dtheta = vjp(p)
        return fx, jtu.tree_map(jnp.negative, dp), jtu.tree_map(jnp.negative, dtheta)

    saved_times = np.unique(np.concatenate([times, [t0]]))[::-1]
    state1 = (x1, p1, jtu.tree_map(jnp.zeros_like, params0))
    backward = diffrax.diffeqsolve(
        diffrax.ODETerm(backward_field), solver, t1, t0, None, state1,
        saveat=diffrax.SaveAt(ts=jnp.asarray(saved_times)),
        stepsize_controller=controller, max_steps=max_steps,
    )
    xs, ps, totals = backward.ys
    index = np.searchsorted(-saved_times, -times)

    def rate_at(t, x, p):
        theta, static = eqx.partition(theta_of_t(t), eqx.is_inexact_array)
        _, vjp = jax.vjp(lambda th: vector_field(x, eqx.combine(th, static)), theta)
        return vjp(p)[0]

    pick = lambda tree: jtu.tree_map(lambda leaf: leaf[index], tree)  # noqa: E731
    rates = jax.vmap(rate_at)(jnp.asarray(times), pick(xs), pick(ps))
    return ContinuousGradient(
        loss=value, x1=x1, x0=jtu.tree_map(lambda leaf: leaf[-1], ps), rate=rates,
        total=jtu.tree_map(lambda leaf: leaf[-1], totals),
    )


def interpolate_parameters(theta: PyTree[Any], *, method: str | Integrator, steps: int,
                           t1: float, t0: float = 0.0,
                           layout: Any = "per_step") -> Callable[[Scalar], PyTree[Any]]:
    """Turn per-layer parameters into a function of time, piecewise linear through the layers.

    Each layer sits at the time it stands for (`layer_times`); layers at the
    same time (Heun's last stage and the next step's first) are averaged;
    outside the first and last layer times the value is held constant.
    Shared leaves are returned unchanged.

    **Arguments:**

    - `theta`, `method`, `steps`, `t1`, `t0`, `layout`: as for `integrate`.

    **Returns:**

    A function t -> theta(t) with the structure of one layer's parameters.
    """
    integrator = get_integrator(method)
    kinds = leaf_kinds(theta, layout)

    def interpolant(leaf, kind: LayerKind):
        times = layer_times(integrator, steps=steps, t1=t1, t0=t0, kind=kind)
        flat = leaf.reshape((-1,) + leaf.shape[2:]) if kind == "per_stage" else leaf
        unique, segment = np.unique(np.round(times, 12), return_inverse=True)
        counts = np.bincount(segment).astype(float)
        values = jax.ops.segment_sum(flat, jnp.asarray(segment), num_segments=len(unique))
        values = values / jnp.asarray(counts, flat.dtype).reshape((-1,) + (1,) * (flat.ndim - 1))
        return unique, values

    tables = map_layer_leaves(lambda leaf, kind: interpolant(leaf, kind), theta, kinds)

    def theta_of_t(t):
        def evaluate(kind, leaf, table):
            if kind == "shared":
                return leaf
            unique, values = table
            if len(unique) == 1:
                return values[0]
            grid = jnp.asarray(unique, dtype=values.dtype)
            t_clamped = jnp.clip(t, grid[0], grid[-1])
            right = jnp.clip(jnp.searchsorted(grid, t_clamped, side="right"), 1, len(unique) - 1)
            weight = (t_clamped - grid[right - 1]) / (grid[right] - grid[right - 1])
            return (1.0 - weight) * values[right - 1] + weight * values[right]

        return jtu.tree_map(evaluate, kinds, theta, tables)

    return theta_of_t


def sample_parameters(theta_of_t: Callable[[Scalar], PyTree[Any]], *, method: str | Integrator,
                      steps: int, t1: float, t0: float = 0.0,
                      layout: Any = "per_step") -> PyTree[Any]:
    """Per-layer parameters from a parameter function: theta(t) at each layer's time.

    **Arguments:**

    - `theta_of_t`: t -> theta(t).
    - `method`, `steps`, `t1`, `t0`, `layout`: as for `integrate`.

    **Returns:**

    The parameters for `integrate`: per-layer leaves stacked along the layer
    axes, shared leaves taken at t0.
    """
    integrator = get_integrator(method)
    one = theta_of_t(jnp.asarray(t0, dtype=jnp.result_type(float)))
    kinds = leaf_kinds(one, layout)

    def stacked(kind):
        times = layer_times(integrator, steps=steps, t1=t1, t0=t0, kind=kind)
        values = jax.vmap(theta_of_t)(jnp.asarray(times))
        if kind == "per_stage":
            values = jtu.tree_map(
                lambda leaf: leaf.reshape((steps, integrator.stages) + leaf.shape[1:]), values)
        return values

    present = set(jtu.tree_leaves(kinds))
    per_step = stacked("per_step") if "per_step" in present else one
    per_stage = stacked("per_stage") if "per_stage" in present else one
    return jtu.tree_map(
        lambda kind, leaf, step, stage: {"shared": leaf, "per_step": step,
                                         "per_stage": stage}[kind],
        kinds, one, per_step, per_stage,
    )
