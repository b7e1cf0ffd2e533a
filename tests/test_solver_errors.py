"""A host solver's failure stops the compiled program at that call (`eqx.error_if` on a result
code) and ends in one `TrainingError` line naming the solver: no polling, no traceback."""

import jax.numpy as jnp
import numpy as np
import pytest

from stablesim import TrainingError
from stablesim.evaluation import rollout_batch
from stablesim.simulators import SolverAlone, external_solver, solver_errors


def _counting(fail_at: int, how: str, calls: list):
    def step(u, p):
        calls.append(1)
        if len(calls) >= fail_at:
            if how == "raise":
                raise ValueError("boom at the wall")
            return u * np.nan
        return u * 0.9
    return step


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize("how, words", [
    ("raise", "solver flaky raised an exception: ValueError: boom at the wall"),
    ("nan", "solver flaky returned non-finite values from finite input states"),
])
def test_the_first_failure_stops_the_rollout_in_one_line(capfd, vectorized, how, words):
    calls: list = []
    sim = SolverAlone(external_solver(_counting(5, how, calls), vectorized=vectorized,
                                      name="flaky"))
    initial, params = jnp.ones((2, 1, 4)), jnp.ones((2, 1))
    with pytest.raises(TrainingError) as caught, solver_errors():
        rollout_batch(sim, initial, params, 40)
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)
    # Stopped at the failing call, not after the 40 (x 2 states) calls of the whole rollout.
    assert len(calls) <= 5 + (0 if vectorized else 1)
    assert "Traceback" not in capfd.readouterr().err


def test_a_healthy_solver_and_other_errors_pass_through():
    calls: list = []
    sim = SolverAlone(external_solver(_counting(10**6, "raise", calls), name="fine"))
    with solver_errors():
        out = rollout_batch(sim, jnp.ones((2, 1, 4)), jnp.ones((2, 1)), 6)
    np.testing.assert_allclose(np.asarray(out[:, -1]), 0.9**6, rtol=1e-6)  # the naive value
    with pytest.raises(KeyError), solver_errors():
        raise KeyError("not a solver's")


def test_a_numpy_solver_is_probed_once_per_process_for_the_same_shapes():
    from stablesim import ConfigError
    from stablesim.simulators import probe_solver

    calls: list = []

    def step(u, p):
        calls.append(u.shape)
        return u

    state, params = np.ones((1, 4)), np.ones(1)
    for _ in range(3):  # e.g. a study's check, then train() of two cells
        probe_solver(step, state, params, name="step")
    probe_solver(step, np.ones((1, 6)), params, name="step")  # other shapes: probed again
    assert calls == [(1, 4), (1, 6)]

    def bad(u, p):
        calls.append("bad")
        return u * np.nan

    for _ in range(2):  # a failing probe is never remembered
        with pytest.raises(ConfigError, match="non-finite"):
            probe_solver(bad, state, params, name="bad")
    assert calls.count("bad") == 2
