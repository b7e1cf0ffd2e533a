"""Transient growth: what eigenvalues miss in a non-normal map.

A step whose Jacobian has every eigenvalue inside the unit circle can still
amplify perturbations for many steps when the Jacobian is non-normal: the
amplification over k steps is the largest singular value of the product of
the k Jacobians along the trajectory, not the k-th power of the spectral
radius. It is computed matrix-free: products with the k-step Jacobian and
its transpose (`jax.jvp`, `jax.vjp`, compiled once per model structure and k)
make a SciPy `LinearOperator` whose largest singular value `svds` finds.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def k_step_amplification(simulator, state: Float[Array | np.ndarray, "*S"], params,
                         steps: int) -> float:
    """The largest singular value of the Jacobian of `steps` steps from `state`.

    **Arguments:**

    - `simulator`: a differentiable simulator (`simulator(state, params)`).
    - `state`: where the rollout starts (one state).
    - `params`: its physical parameters.
    - `steps`: how many steps the product spans.

    **Returns:**

    sigma_max of J(u_{k-1}) ... J(u_0): the most any perturbation of `state`
    can grow over `steps` steps, to first order.
    """
    from scipy.sparse.linalg import LinearOperator, svds

    x0 = jnp.asarray(state)
    p = jnp.asarray(params)
    n = x0.size
    forward = lambda v: _forward(simulator, x0, p, v, steps)  # noqa: E731
    if n <= 2:  # svds needs k < n: a dense product is as cheap
        dense = np.stack([np.asarray(forward(e)) for e in jnp.eye(n, dtype=x0.dtype)], axis=1)
        return float(np.linalg.svd(dense, compute_uv=False)[0])
    as_state = lambda v: jnp.asarray(np.ravel(v), x0.dtype)  # noqa: E731
    operator = LinearOperator(
        (n, n), dtype=np.float64,
        matvec=lambda v: np.asarray(forward(as_state(v)), np.float64),
        rmatvec=lambda v: np.asarray(_backward(simulator, x0, p, as_state(v), steps), np.float64))
    sigma = svds(operator, k=1, return_singular_vectors=False,
                 v0=np.ones(n) / np.sqrt(n), random_state=0)
    return float(np.max(sigma))


def _k_steps(simulator, params, steps: int):
    def run(flat, shape):
        u = jax.lax.fori_loop(0, steps, lambda _, v: simulator(v, params), flat.reshape(shape))
        return u.reshape(-1)
    return run


@eqx.filter_jit
def _forward(simulator, state, params, v, steps: int):
    """J_k v: one compilation per simulator structure and k, reused across states and seeds."""
    run = _k_steps(simulator, params, steps)
    return jax.jvp(lambda x: run(x, state.shape), (state.reshape(-1),), (v,))[1]


@eqx.filter_jit
def _backward(simulator, state, params, v, steps: int):
    """J_k^T v."""
    run = _k_steps(simulator, params, steps)
    _, pullback = jax.vjp(lambda x: run(x, state.shape), state.reshape(-1))
    return pullback(v)[0]


def transient_growth(simulator, states: Float[Array | np.ndarray, "K C *N"], params,
                     horizons: Sequence[int] = (1, 4, 16, 64)) -> dict[int, float]:
    """The largest k-step amplification over `states`, for each k in `horizons`.

    **Arguments:**

    - `simulator`: a differentiable simulator.
    - `states`: `K` start states (e.g. data states); `params`: `(K, P)`.
    - `horizons`: the step counts k.

    **Returns:**

    `{k: max over states of sigma_max(J_k)}`.
    """
    states, params = np.asarray(states), np.asarray(params)
    return {int(k): max(k_step_amplification(simulator, s, p, int(k))
                        for s, p in zip(states, params)) for k in horizons}


def transient_sentence(growth: dict[int, float], radius: float) -> str | None:
    """Words when perturbations grow over some horizon although the radius promises decay.

    **Arguments:** `growth` from `transient_growth`; `radius`: the largest
    one-step spectral radius at the same states.

    **Returns:** a sentence, or None when no horizon amplifies beyond `radius^k`
    and 1.
    """
    growing = [k for k, g in growth.items() if g > max(1.0, 1.5 * radius**k)]
    if not growing:
        return None
    worst = max(growing, key=lambda k: growth[k])
    amplification = growth[worst]
    if radius < 1:
        return (f"Transient growth: perturbations grow {amplification:.3g}x over {worst} "
                f"steps although every eigenvalue is inside the unit circle (spectral radius "
                f"{radius:.4g}, radius^{worst} = {radius**worst:.3g}): the step is non-normal, "
                "and rollouts can leave the data before they decay")
    return (f"Transient growth: perturbations grow {amplification:.3g}x over {worst} steps, "
            f"more than radius^{worst} = {radius**worst:.3g} predicts (non-normal step)")
