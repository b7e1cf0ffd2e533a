"""Parameters that are smooth functions of time: one model for every integrator and step count.

Per-layer parameters belong to one discretisation: N layers of one method.
A `TimeFunction` holds K coefficients per leaf instead (K independent of N)
and gives theta(t) at any time; `integrate_in_time` evaluates it at the node
or stage times of whatever method and step count it is asked to run, so a
trained model can be re-run by another integrator, or with more steps,
without any re-sampling. Gradients reach the coefficients through the
evaluation (plain or corrected per-layer cotangents, as `integrate` says).
"""

from __future__ import annotations

import warnings
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array, Float, PyTree

from .._errors import ConfigError
from ._integrate import InconsistentGradientWarning, Solution, integrate
from ._methods import Integrator, get_integrator
from ._reference import sample_parameters

Basis = Literal["linear", "chebyshev"]


def basis_weights(basis: Basis, t: Float[Array, ""], *, knots: int, t0: float,
                  t1: float) -> Float[Array, " knots"]:
    """The K basis functions at time t: hat functions on K equally spaced knots of
    [t0, t1] (`linear`), or Chebyshev polynomials T_0..T_{K-1} of the mapped time
    (`chebyshev`)."""
    s = (t - t0) / (t1 - t0)
    if basis == "linear":
        if knots == 1:
            return jnp.ones(1, dtype=jnp.result_type(s))
        position = s * (knots - 1)
        return jnp.maximum(0.0, 1.0 - jnp.abs(position - jnp.arange(knots)))
    x = 2.0 * s - 1.0
    values = [jnp.ones_like(x), x]
    for _ in range(2, knots):
        values.append(2.0 * x * values[-1] - values[-2])
    return jnp.stack(values[:knots])


class TimeFunction(eqx.Module):
    """theta(t) = sum_k w_k(t) c_k: a PyTree of parameters as a smooth function of time.

    **Arguments:**

    - `coefficients`: the PyTree of parameters with a leading axis of K
        (knot values for `linear`, Chebyshev coefficients for `chebyshev`).
    - `basis`: `"linear"` (piecewise linear through K knots) or `"chebyshev"`.
    - `t0`, `t1`: the interval the basis spans.
    """

    coefficients: PyTree[Array]
    basis: Basis = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)

    def __init__(self, coefficients, *, basis: Basis = "linear", t0: float = 0.0,
                 t1: float = 1.0):
        if basis not in ("linear", "chebyshev"):
            raise ConfigError(f"basis must be 'linear' or 'chebyshev', got {basis!r}")
        if not t1 > t0:
            raise ConfigError(f"the interval needs t1 > t0, got [{t0}, {t1}]")
        sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None
                 for leaf in jtu.tree_leaves(coefficients)}
        if len(sizes) != 1 or None in sizes:
            raise ConfigError("every coefficient leaf needs the same leading axis K (knots), "
                              f"got leading sizes {sorted(map(str, sizes))}")
        self.coefficients = coefficients
        self.basis = basis
        self.t0, self.t1 = float(t0), float(t1)

    @classmethod
    def constant(cls, theta: PyTree[Array], *, knots: int, basis: Basis = "linear",
                 t0: float = 0.0, t1: float = 1.0) -> TimeFunction:
        """theta(t) = theta for all t, with K = `knots` coefficients to train."""
        if knots < 1:
            raise ConfigError(f"knots must be >= 1, got {knots}")

        def spread(leaf):
            leaf = jnp.asarray(leaf)
            if basis == "linear":
                return jnp.broadcast_to(leaf, (knots,) + leaf.shape)
            return jnp.zeros((knots,) + leaf.shape, leaf.dtype).at[0].set(leaf)

        return cls(jtu.tree_map(spread, theta), basis=basis, t0=t0, t1=t1)

    @property
    def knots(self) -> int:
        return int(jnp.shape(jtu.tree_leaves(self.coefficients)[0])[0])

    def __call__(self, t) -> PyTree[Array]:
        w = basis_weights(self.basis, jnp.asarray(t), knots=self.knots, t0=self.t0, t1=self.t1)
        return jtu.tree_map(lambda c: jnp.tensordot(w.astype(c.dtype), c, axes=1),
                            self.coefficients)


def default_layout(method: str | Integrator) -> str:
    """One parameter set per stage for multi-stage Runge-Kutta methods, per step otherwise
    (each evaluation of the vector field at its own time)."""
    integrator = get_integrator(method)
    multi_stage = integrator.kind == "runge_kutta" and integrator.stages > 1
    return "per_stage" if multi_stage else "per_step"


def integrate_in_time(
    vector_field,
    theta: TimeFunction,
    x0: PyTree[Array],
    *,
    t1: float,
    steps: int,
    method: str | Integrator = "rk4",
    t0: float = 0.0,
    gradients: str = "autodiff",
    order: int | None = None,
    trajectory: bool = False,
) -> Solution:
    """Run a time-parameterised model with any integrator and step count.

    theta(t) is evaluated at the time of every field evaluation (node times
    for multistep methods, stage times for Runge-Kutta) and handed to
    `integrate` as per-layer parameters.

    **Arguments:**

    - `vector_field`: `f(x, theta)`.
    - `theta`: a `TimeFunction`.
    - `x0`, `t1`, `t0`, `steps`, `method`, `gradients`, `order`, `trajectory`:
        as for `integrate`. Plain autodiff (the default) is the exact gradient
        of the discrete loss with respect to the coefficients: the parameters
        cannot zigzag along the layers, so the per-layer warning is not raised.

    **Returns:**

    The `Solution`.
    """
    layout = default_layout(method)
    layers = sample_parameters(theta, method=method, steps=steps, t1=t1, t0=t0, layout=layout)
    with warnings.catch_warnings():
        # The layers' parameters are not independent here: plain autodiff is the exact
        # gradient of the discrete loss with respect to the coefficients, with no zigzag
        # for the per-layer warning to be about.
        warnings.simplefilter("ignore", InconsistentGradientWarning)
        return integrate(vector_field, layers, x0, t1=t1, steps=steps, method=method, t0=t0,
                         layout=layout, gradients=gradients, order=order,
                         trajectory=trajectory)
