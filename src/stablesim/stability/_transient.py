"""Transient growth: what eigenvalues miss in a non-normal map.

A step whose Jacobian has every eigenvalue inside the unit circle can still
amplify perturbations for many steps when the Jacobian is non-normal: the
amplification over k steps is the largest singular value of the product of
the k Jacobians along the trajectory, not the k-th power of the spectral
radius. It is computed matrix-free: the k-step map is linearized once
(`jax.linearize`), transposed (`jax.linear_transpose`), and the largest
singular value found by SciPy's `svds` on that operator.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    shape, dtype = x0.shape, x0.dtype
    p = jnp.asarray(params)

    def k_steps(flat):
        u = flat.reshape(shape)
        u = jax.lax.fori_loop(0, steps, lambda _, v: simulator(v, p), u)
        return u.reshape(-1)

    flat0 = x0.reshape(-1)
    _, forward = jax.linearize(k_steps, flat0)
    backward = jax.linear_transpose(forward, flat0)
    forward_jit = jax.jit(forward)
    backward_jit = jax.jit(lambda v: backward(v)[0])
    n = flat0.size
    if n <= 2:  # svds needs k < n: a dense product is as cheap
        dense = np.asarray(jax.vmap(forward_jit, out_axes=1)(jnp.eye(n, dtype=dtype)))
        return float(np.linalg.svd(dense, compute_uv=False)[0])
    operator = LinearOperator(
        (n, n), dtype=np.float64,
        matvec=lambda v: np.asarray(forward_jit(jnp.asarray(np.ravel(v), dtype)), np.float64),
        rmatvec=lambda v: np.asarray(backward_jit(jnp.asarray(np.ravel(v), dtype)), np.float64))
    sigma = svds(operator, k=1, return_singular_vectors=False,
                 v0=np.ones(n) / np.sqrt(n), random_state=0)
    return float(np.max(sigma))


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
