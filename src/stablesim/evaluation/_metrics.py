"""Rollout metrics of the unrolling study."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..simulators import AbstractSimulator, rollout


def relative_error(
    prediction: Float[Array, "B T *S"],
    reference: Float[Array, "B T *S"],
    *,
    horizon: int,
    clamp: float = 1.0,
) -> Float[Array, " B"]:
    """Relative squared error over the first `horizon` frames, per trajectory.

    sum_t<H ||pred_t - ref_t||^2 / sum_t<H ||ref_t||^2, with non-finite values
    (diverged rollouts) and values above `clamp` set to `clamp`, so that one
    blow-up does not dominate a mean.

    **Arguments:**

    - `prediction`, `reference`: rollouts `(trajectories, time, *state)`.
    - `horizon`: number of frames H.
    - `clamp`: largest value reported.

    **Returns:**

    One value per trajectory.
    """
    p, r = prediction[:, :horizon], reference[:, :horizon]
    axes = tuple(range(1, p.ndim))
    err = jnp.sum((p - r) ** 2, axis=axes) / jnp.sum(r**2, axis=axes)
    return jnp.where(jnp.isfinite(err), jnp.minimum(err, clamp), clamp)


@eqx.filter_jit
def rollout_batch(
    simulator: AbstractSimulator,
    initial: Float[Array, "B C *N"],
    params: Float[Array, "B P"],
    steps: int,
) -> Float[Array, "B steps C *N"]:
    """Roll out a batch of initial states (vmap of `rollout`)."""
    return jax.vmap(lambda u, p: rollout(simulator, u, p, steps=steps))(initial, params)
