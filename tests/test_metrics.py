"""Rollout metrics against hand-computed values."""

import jax.numpy as jnp
import numpy as np

from stablesim.evaluation import (
    decorrelation_time,
    divergence_step,
    frame_correlation,
    mean_squared_error,
    relative_error,
    relative_error_curve,
)


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


def test_relative_error_curve_is_the_cumulative_relative_error():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2, 5, 1, 3))
    pred = ref + 0.3 * rng.normal(size=ref.shape)
    curve = np.asarray(relative_error_curve(jnp.asarray(pred), jnp.asarray(ref)))
    for b in range(2):  # a naive loop over trajectories and horizons
        for h in range(1, 6):
            num = sum(np.sum((pred[b, t] - ref[b, t]) ** 2) for t in range(h))
            den = sum(np.sum(ref[b, t] ** 2) for t in range(h))
            np.testing.assert_allclose(curve[b, h - 1], min(num / den, 1.0), rtol=1e-5)


def test_mse_by_hand_and_inf_when_diverged():
    ref = jnp.zeros((2, 3, 2))
    pred = ref.at[0, 0, 0].set(2.0).at[0, 2, 1].set(1.0).at[1, 1, 0].set(jnp.inf)
    # trajectory 0 over 2 frames: (4 + 0 + 0 + 0) / 4 entries = 1; over 3: 5 / 6
    np.testing.assert_allclose(mean_squared_error(pred, ref, horizon=2)[0], 1.0)
    np.testing.assert_allclose(mean_squared_error(pred, ref, horizon=3)[0], 5 / 6)
    assert np.isinf(mean_squared_error(pred, ref, horizon=2)[1])


def test_frame_correlation_by_hand():
    ref = jnp.asarray([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]])
    pred = jnp.asarray([[[2.0, 4.0, 6.0],    # scaled: r = 1
                         [3.0, 2.0, 1.0],    # reversed: r = -1
                         [1.0, 3.0, 2.0],    # r = (-1*-1 + 1*0 + 0*1) / 2 = 0.5
                         [5.0, 5.0, 5.0]]])  # constant: defined as 0
    np.testing.assert_allclose(frame_correlation(pred, ref)[0], [1.0, -1.0, 0.5, 0.0], atol=1e-6)
    nan = pred.at[0, 0, 0].set(jnp.nan)
    assert float(frame_correlation(nan, ref)[0, 0]) == 0.0


def test_decorrelation_time_counts_frames_above_threshold():
    corr = jnp.asarray([[0.99, 0.9, 0.7, 0.95],   # drops at frame index 2: 2 frames
                        [0.5, 0.9, 0.9, 0.9],     # drops at once: 0
                        [0.9, 0.85, 0.81, 0.8]])  # never below 0.8: censored at T = 4
    np.testing.assert_array_equal(decorrelation_time(corr, threshold=0.8), [2, 0, 4])


def _naive_divergence_step(pred, ref, margin):
    """The documented rule, one frame at a time in plain Python."""
    pred, ref = np.asarray(pred), np.asarray(ref)
    steps = []
    for p, r in zip(pred, ref):
        lo, hi = r.min(), r.max()
        lower, upper = lo - margin * (hi - lo), hi + margin * (hi - lo)
        step = len(p) + 1
        for t, frame in enumerate(p):
            if not np.isfinite(frame).all() or frame.min() < lower or frame.max() > upper:
                step = t + 1
                break
        steps.append(step)
    return steps


def test_divergence_flags_a_finite_checkerboard_that_grows_to_five_times_the_range():
    x = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    t = np.arange(1, 49)
    ref = 0.6 * np.sin(x)[None, None, :] * np.exp(-0.01 * t)[:, None, None]  # (T, 1, N)
    checker = (-1.0) ** np.arange(64)
    growth = np.minimum(0.6 * 1.06 ** t, 3.0)  # reaches 5x the range's half-width, finite
    pred = ref + growth[:, None, None] * checker[None, None, :]
    pred = np.stack([pred, ref + 1e-3, ref.copy()])
    pred[2, 10, 0, 5] = np.nan  # non-finite at step 11
    refs = np.stack([ref, ref, ref])
    got = np.asarray(divergence_step(jnp.asarray(pred), jnp.asarray(refs), margin=1.0))
    assert np.isfinite(pred[0]).all() and np.abs(pred[0]).max() > 5 * np.abs(ref).max() * 0.99
    assert got[0] <= 48 and got[1] == 49 and got[2] == 11
    np.testing.assert_array_equal(got, _naive_divergence_step(pred, refs, 1.0))
    # A margin of 0 flags any excursion beyond the reference's range, none never does.
    np.testing.assert_array_equal(divergence_step(jnp.asarray(pred), jnp.asarray(refs), margin=0.0),
                                  _naive_divergence_step(pred, refs, 0.0))
    assert _naive_divergence_step(pred, refs, 0.0)[1] == 1


def test_long_divergence_matches_a_naive_loop_over_the_stored_rollout():
    """Chunked long rollouts (only the state kept) give the step a naive loop finds on the
    stored rollout, across chunk boundaries, for each of several growth rates."""
    import equinox as eqx

    from stablesim.evaluation import divergence_bounds, long_divergence
    from stablesim.simulators import AbstractSimulator

    class Scale(AbstractSimulator):
        network: eqx.Module | None = None

        def __call__(self, u, p):
            return u * p[0]

    rates = np.array([1.0, 1.01, 1.05, 0.5, 1.3], np.float32)
    initial = np.ones((5, 1, 3), np.float32)
    reference = np.stack([np.linspace(0.0, 1.0, 7)] * 5)[:, :, None, None] * np.ones((1, 1, 1, 3))
    lower, upper = divergence_bounds(reference, margin=1.0)
    got = long_divergence(Scale(), initial, rates[:, None], lower, upper, steps=300, chunk=7)
    expected = []
    for rate in rates:  # naive: the first step n with rate^n outside [-1, 2]
        u, first = 1.0, 301
        for n in range(1, 301):
            u *= float(rate)
            if not -1.0 <= u <= 2.0:
                first = n
                break
        expected.append(first)
    np.testing.assert_array_equal(got, expected)
    assert got[0] == got[3] == 301 and got[1] == 70  # 1.01^70 > 2 > 1.01^69
    # The same rule as divergence_step on a stored rollout.
    stored = initial[:, None] * rates[:, None, None, None] ** np.arange(1, 31)[None, :, None, None]
    same_range = np.concatenate([reference] + [reference[:, :1]] * 23, axis=1)  # 30 frames
    np.testing.assert_array_equal(np.asarray(divergence_step(stored, same_range)),
                                  long_divergence(Scale(), initial, rates[:, None], lower, upper,
                                                  steps=30, chunk=4))


def test_long_divergence_never_feeds_a_solver_states_outside_the_data():
    """A NumPy solver that overflows far outside the data: once a rollout has left its
    bounds it is held at its last state inside them, so the solver never sees a state
    beyond the bound, reports no fault, and the divergence step is still the naive one."""
    from stablesim.evaluation import divergence_bounds, long_divergence
    from stablesim.simulators import SolverAlone, external_solver

    seen = []

    def grow(u, p):
        seen.append(float(np.abs(u).max()))
        return u * p[0]  # overflows float32 after a few hundred steps outside the bound

    sim = SolverAlone(external_solver(grow, name="grow"))
    reference = np.stack([np.linspace(0.0, 1.0, 7)] * 2)[:, :, None, None] * np.ones((1, 1, 1, 3))
    lower, upper = divergence_bounds(reference, margin=1.0)  # [-1, 2]
    rates = np.array([[3.0], [1.0]], np.float32)
    got = long_divergence(sim, np.ones((2, 1, 3), np.float32), rates, lower, upper, steps=200,
                          chunk=50)  # a solver fault (non-finite from finite) would raise here
    np.testing.assert_array_equal(got, [1, 201])  # 3 > 2 at step 1; rate 1 never leaves
    assert max(seen) <= 2.0


def test_nrmse_and_gmean_by_hand():
    from stablesim.evaluation import gmean_nrmse, nrmse

    ref = np.ones((1, 3, 1, 4))  # ||ref_t|| = 2
    pred = ref.copy()
    pred[0, 0, 0, 0] += 2.0      # ||err|| = 2 -> 1.0
    pred[0, 1] += 0.5            # ||err|| = 1 -> 0.5
    pred[0, 2, 0, :2] += 0.5     # ||err|| = sqrt(0.5) -> sqrt(0.5) / 2
    curve = np.asarray(nrmse(jnp.asarray(pred), jnp.asarray(ref)))
    np.testing.assert_allclose(curve, [[1.0, 0.5, np.sqrt(0.5) / 2]], rtol=1e-6)
    expected = (1.0 * 0.5 * np.sqrt(0.5) / 2) ** (1 / 3)
    np.testing.assert_allclose(np.asarray(gmean_nrmse(curve)), [expected], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gmean_nrmse(curve, steps=2)), [np.sqrt(0.5)], rtol=1e-6)
    pred[0, 1, 0, 0] = np.nan
    assert np.isinf(np.asarray(gmean_nrmse(nrmse(jnp.asarray(pred), jnp.asarray(ref))))).all()


def test_vrmse_by_hand_per_field():
    from stablesim.evaluation import vrmse

    ref = np.zeros((1, 1, 2, 4))
    ref[0, 0, 0] = [1.0, -1.0, 1.0, -1.0]  # field 0: mean 0, variance 1
    ref[0, 0, 1] = [3.0, 3.0, 3.0, 3.0]    # field 1: constant, variance 0
    pred = ref.copy()
    pred[0, 0, 0] = 0.0                    # the field's mean: VRMSE 1
    pred[0, 0, 1] += 2.0**-10              # mse 2^-20 over variance 0 + 1e-7
    got = np.asarray(vrmse(jnp.asarray(pred), jnp.asarray(ref)))[0, 0]
    np.testing.assert_allclose(got, [1.0 / np.sqrt(1 + 1e-7), np.sqrt(2.0**-20 / 1e-7)], rtol=1e-5)


def test_correlation_times_at_several_levels():
    from stablesim.evaluation import correlation_times

    corr = jnp.array([[0.99, 0.96, 0.92, 0.85, 0.7], [0.99, 0.99, 0.99, 0.99, 0.99]])
    np.testing.assert_array_equal(np.asarray(correlation_times(corr)), [[4, 3, 2], [5, 5, 5]])
    np.testing.assert_array_equal(np.asarray(decorrelation_time(corr, threshold=0.9)), [3, 5])
