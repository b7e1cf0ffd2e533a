"""Rollout metrics of the unrolling study."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..simulators import AbstractSimulator, rollout
from ._field_metrics import correlation_times
from ._long import divergence_bounds, left_bounds


def relative_error(
    prediction: Float[Array | np.ndarray, "B T *S"],
    reference: Float[Array | np.ndarray, "B T *S"],
    *,
    horizon: int,
    clamp: float = 1.0,
) -> Float[Array | np.ndarray, " B"]:
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
    return relative_error_curve(prediction[:, :horizon], reference[:, :horizon],
                                clamp=clamp)[:, -1]


def relative_error_curve(
    prediction: Float[Array | np.ndarray, "B T *S"],
    reference: Float[Array | np.ndarray, "B T *S"],
    *,
    clamp: float = 1.0,
) -> Float[Array | np.ndarray, "B T"]:
    """`relative_error` for every horizon H = 1..T at once (cumulative sums).

    **Arguments:**

    - `prediction`, `reference`: rollouts `(trajectories, time, *state)`.
    - `clamp`: largest value reported (also for non-finite values).

    **Returns:**

    `(trajectories, T)`; column H-1 is the relative error over H frames.
    """
    axes = tuple(range(2, prediction.ndim))
    num = jnp.cumsum(jnp.sum((prediction - reference) ** 2, axis=axes), axis=1)
    den = jnp.cumsum(jnp.sum(reference**2, axis=axes), axis=1)
    err = num / den
    return jnp.where(jnp.isfinite(err), jnp.minimum(err, clamp), clamp)


def mean_squared_error(
    prediction: Float[Array | np.ndarray, "B T *S"],
    reference: Float[Array | np.ndarray, "B T *S"],
    *,
    horizon: int,
) -> Float[Array | np.ndarray, " B"]:
    """Mean squared error over the first `horizon` frames, per trajectory (inf if diverged)."""
    p, r = prediction[:, :horizon], reference[:, :horizon]
    err = jnp.mean((p - r) ** 2, axis=tuple(range(1, p.ndim)))
    return jnp.where(jnp.isfinite(err), err, jnp.inf)


def frame_correlation(
    prediction: Float[Array | np.ndarray, "B T *S"],
    reference: Float[Array | np.ndarray, "B T *S"],
) -> Float[Array | np.ndarray, "B T"]:
    """Pearson correlation of each predicted frame with the reference frame.

    Each frame is flattened over channels and space; a non-finite or constant
    frame has correlation 0.

    **Returns:**

    `(trajectories, T)`.
    """
    b, t = prediction.shape[:2]
    p = prediction.reshape(b, t, -1)
    r = reference.reshape(b, t, -1)
    p = p - p.mean(axis=-1, keepdims=True)
    r = r - r.mean(axis=-1, keepdims=True)
    cov = jnp.sum(p * r, axis=-1)
    norm = jnp.sqrt(jnp.sum(p**2, axis=-1) * jnp.sum(r**2, axis=-1))
    corr = cov / norm
    return jnp.where(jnp.isfinite(corr) & (norm > 0), corr, 0.0)


def decorrelation_time(correlation: Float[Array | np.ndarray, "B T"], *,
                       threshold: float = 0.8) -> Int[Array, " B"]:
    """Frames before the correlation first drops below `threshold`.

    A rollout that stays above the threshold gets T (censored at the rollout
    length).

    **Arguments:**

    - `correlation`: per-frame correlations from `frame_correlation`.
    - `threshold`: correlation level.

    **Returns:**

    One count of frames per trajectory.
    """
    return correlation_times(correlation, (threshold,))[:, 0]


DIVERGENCE_RULE = (
    "a rollout has diverged at the first step where a value is not finite or lies outside the "
    "reference trajectory's range [min, max] widened by {margin} x (max - min) on each side"
)


def divergence_step(
    prediction: Float[Array | np.ndarray, "B T *S"],
    reference: Float[Array | np.ndarray, "B T *S"],
    *,
    margin: float = 1.0,
) -> Int[Array, " B"]:
    """The first rollout step (1-based) at which a rollout has diverged.

    Diverged: a value of the frame is not finite, or lies outside the range
    [lo, hi] of the reference trajectory (all its frames and channels)
    widened by `margin * (hi - lo)` on each side. With the default margin 1,
    a field whose values reach twice the reference's extent has left it,
    which is what a user sees in a plot (a checkerboard, a blow-up) long
    before the values overflow. A rollout that never diverges gets T + 1.

    **Arguments:**

    - `prediction`, `reference`: rollouts `(trajectories, time, *state)`.
    - `margin`: allowed excursion beyond the reference's range, in units of
        its width.

    **Returns:**

    One step per trajectory.
    """
    b, t = prediction.shape[:2]
    lower, upper = divergence_bounds(reference, margin=margin)
    frames = jnp.asarray(prediction).reshape((b * t,) + tuple(prediction.shape[2:]))
    bad = left_bounds(frames, jnp.repeat(lower, t), jnp.repeat(upper, t)).reshape(b, t)
    return jnp.where(bad.any(axis=1), jnp.argmax(bad, axis=1) + 1, t + 1)


@eqx.filter_jit
def rollout_batch(
    simulator: AbstractSimulator,
    initial: Float[Array | np.ndarray, "B C *N"],
    params: Float[Array | np.ndarray, "B P"],
    steps: int,
) -> Float[Array | np.ndarray, "B steps C *N"]:
    """Roll out a batch of initial states (vmap of `rollout`)."""
    return jax.vmap(lambda u, p: rollout(simulator, u, p, steps=steps))(initial, params)
