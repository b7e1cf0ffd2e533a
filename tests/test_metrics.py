"""Rollout metrics against hand-computed values."""

import jax.numpy as jnp
import numpy as np

from stablesim.evaluation import relative_error


def test_relative_error_by_hand():
    ref = jnp.ones((3, 4, 2))
    pred = ref.at[0, 1].set(2.0)  # trajectory 0: squared error 2 over |ref|^2 = 4 (H=2)
    pred = pred.at[1, 0].set(jnp.nan)  # diverged
    pred = pred.at[2, 0].set(100.0)  # huge error: clamped
    err = np.asarray(relative_error(pred, ref, horizon=2))
    np.testing.assert_allclose(err, [2 / 4, 1.0, 1.0])
    err3 = np.asarray(relative_error(pred[:1], ref[:1], horizon=3))
    np.testing.assert_allclose(err3, [2 / 6])
    np.testing.assert_allclose(relative_error(ref, ref, horizon=4), 0.0)
