"""The rollout metrics other benchmarks quote: The Well's VRMSE, APEBench's nRMSE and GMean100.

Each is defined once here and tested against a hand computation
(`tests/test_metrics.py`); `stablesim evaluate` stores them per start.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

VRMSE_EPSILON = 1e-7  # The Well's guard for a constant true field
CORRELATION_LEVELS = (0.8, 0.9, 0.95)


def nrmse(
    prediction: Float[Array | np.ndarray, "B T C *N"],
    reference: Float[Array | np.ndarray, "B T C *N"],
) -> Float[Array, "B T"]:
    """Normalised RMSE of every frame: ||pred_t - ref_t||_2 / ||ref_t||_2 (APEBench's nRMSE).

    Norms are over channels and space; a non-finite value (a diverged
    rollout) counts as infinity.

    **Arguments:**

    - `prediction`, `reference`: rollouts `(trajectories, time, channels, *space)`.

    **Returns:**

    `(trajectories, T)`.
    """
    axes = tuple(range(2, prediction.ndim))
    err = jnp.sqrt(jnp.sum((prediction - reference) ** 2, axis=axes)
                   / jnp.sum(reference**2, axis=axes))
    return jnp.where(jnp.isfinite(err), err, jnp.inf)


def gmean_nrmse(nrmse_curve: Float[Array | np.ndarray, "B T"], *,
                steps: int = 100) -> Float[Array, " B"]:
    """Geometric mean of the nRMSE over the first `steps` frames (APEBench's GMean100).

    **Arguments:**

    - `nrmse_curve`: from `nrmse`.
    - `steps`: frames averaged (100 in APEBench; fewer if the rollout is shorter).

    **Returns:**

    One value per trajectory (infinity if any frame diverged).
    """
    head = jnp.asarray(nrmse_curve)[:, :steps]
    return jnp.exp(jnp.mean(jnp.log(head), axis=1))


def vrmse(
    prediction: Float[Array | np.ndarray, "B T C *N"],
    reference: Float[Array | np.ndarray, "B T C *N"],
) -> Float[Array, "B T C"]:
    """Variance-scaled RMSE of every frame and field (The Well's VRMSE).

    sqrt(<(pred - ref)^2> / (<(ref - <ref>)^2> + 1e-7)) with <.> the mean over
    space: 1 for a prediction that is the true field's spatial mean, 0 for a
    perfect one, per channel.

    **Arguments:**

    - `prediction`, `reference`: rollouts `(trajectories, time, channels, *space)`.

    **Returns:**

    `(trajectories, T, channels)`.
    """
    space = tuple(range(3, prediction.ndim))
    ref = jnp.asarray(reference)
    mse = jnp.mean((prediction - ref) ** 2, axis=space)
    variance = jnp.mean((ref - jnp.mean(ref, axis=space, keepdims=True)) ** 2, axis=space)
    out = jnp.sqrt(mse / (variance + VRMSE_EPSILON))
    return jnp.where(jnp.isfinite(out), out, jnp.inf)


def correlation_times(correlation: Float[Array | np.ndarray, "B T"],
                      levels: tuple[float, ...] = CORRELATION_LEVELS) -> Int[Array, "B L"]:
    """Frames before the correlation first drops below each level (T where it never does).

    **Arguments:**

    - `correlation`: per-frame correlations (`frame_correlation`).
    - `levels`: correlation levels.

    **Returns:**

    `(trajectories, len(levels))`.
    """
    corr = jnp.asarray(correlation)
    t = corr.shape[1]
    columns = []
    for level in levels:
        below = corr < level
        columns.append(jnp.where(below.any(axis=1), jnp.argmax(below, axis=1), t))
    return jnp.stack(columns, axis=1)
