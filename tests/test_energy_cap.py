"""The energy cap: every state scaled back onto the training data's largest energy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim.runs._fixes import Outcome, capped_fix
from stablesim.simulators import SolverAlone, as_solver
from stablesim.stability import EnergyCapped
from stablesim.stability._energy_cap import largest_mean_square


def test_states_above_the_cap_land_on_it_and_those_inside_are_untouched():
    rng = np.random.default_rng(0)
    trajectories = rng.normal(size=(3, 5, 2, 8)) * np.array([0.5, 1.0, 2.0])[:, None, None, None]
    cap = largest_mean_square(trajectories)
    naive = max(float(np.mean(frame**2)) for trajectory in trajectories for frame in trajectory)
    assert cap == pytest.approx(naive, rel=1e-12)
    grow = SolverAlone(as_solver(lambda u, p: 1.5 * u))
    capped = EnergyCapped(grow, cap)
    states = jnp.asarray(rng.normal(size=(6, 2, 8)) * np.array([0.2, 0.5, 1.0, 2.0, 3.0, 4.0])
                         [:, None, None], jnp.float32)
    params = jnp.zeros((6, 1))
    out = np.asarray(jax.vmap(capped)(states, params), np.float64)
    grown = 1.5 * np.asarray(states, np.float64)
    for o, g in zip(out, grown):
        if np.mean(g**2) <= cap:
            np.testing.assert_allclose(o, g, rtol=1e-6)  # untouched inside the cap
        else:  # on the cap, same direction
            assert np.mean(o**2) == pytest.approx(cap, rel=1e-5)
            np.testing.assert_allclose(o / np.linalg.norm(o), g / np.linalg.norm(g), atol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        EnergyCapped(grow, 0.0)


def test_a_bounded_candidate_whose_only_fault_is_its_energy_is_retried_with_the_cap():
    steps = np.full((1, 4), 101)
    before = Outcome("before", {}, np.full((1, 4), 5), {"validation": 1.0}, 100, 0)
    drifting = Outcome("projection + noise 0.01", {"simulator.projection": True,
                                                   "modality.noise": 0.01}, steps,
                       {"validation": 0.7}, 100, 300, unphysical=3,
                       unphysical_reason="rms 1.54x the reference's largest (allowed 1.5x)")
    two_faults = Outcome("noise 1", {"modality.noise": 1.0}, steps, {"validation": 0.5}, 100,
                         300, unphysical=1, unphysical_reason="rms 2.00x the reference's "
                         "largest (allowed 1.5x); values 1.20 data stds (W1) from the data's")
    leaky = Outcome("band", {"modality.noise": 0.1}, steps, {"validation": 0.4}, 100, 300,
                    unphysical=1, unphysical_reason="3% of its energy in bands where the data "
                    "have none (allowed 1%)")
    fix = capped_fix(before, [two_faults, leaky, drifting], 0.1)
    assert fix is not None and fix.trains and fix.name == "projection + noise 0.01 + energy cap"
    assert fix.changes == {"simulator.projection": True, "modality.noise": 0.01,
                           "simulator.energy_cap": True}
    untrained = Outcome("projection", {"simulator.projection": True}, steps,
                        {"validation": 1.0}, 100, 0, unphysical=1,
                        unphysical_reason="rms 1.60x the reference's largest (allowed 1.5x)")
    assert not capped_fix(before, [untrained], 0.1).trains  # nothing to fine-tune
    good = Outcome("noise 0.3", {"modality.noise": 0.3}, steps, {"validation": 1.05}, 100, 300)
    assert capped_fix(before, [drifting, good], 0.1) is None  # a stable candidate is kept


def test_a_run_with_the_cap_never_rolls_out_beyond_the_training_datas_energy(tmp_path, capsys):
    """`simulator.energy_cap` from a config: a prediction whose residual step gains energy
    (a large initial output) is held at the training data's largest mean square."""
    import copy

    import yaml

    from stablesim.cli import main
    from stablesim.evaluation import rollout_batch
    from stablesim.runs import Run

    from _tiny import TINY

    config = copy.deepcopy(TINY)
    config["simulator"] = {"energy_cap": True}
    config["model"]["initializer"] = "default"
    config["training"].update(updates=5, learning_rate=0.3)  # a step that is far from tuned
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    run = Run(tmp_path / "run")
    train = run.parts["train"]
    cap = largest_mean_square(np.asarray(train.trajectories))
    simulator = run.trained.simulator_for(0)
    assert isinstance(simulator, EnergyCapped) and simulator.cap == pytest.approx(cap)
    start = jnp.asarray(train.trajectories[:, 0]) * 3.0  # far above the cap from the start
    states = np.asarray(rollout_batch(simulator, start, jnp.asarray(train.params), 50),
                        np.float64)
    squares = np.mean(states.reshape(*states.shape[:2], -1) ** 2, axis=-1)
    assert squares.max() <= cap * (1 + 1e-5)


GAIN = '''
import equinox as eqx
import jax.numpy as jnp
import numpy as np


class Gain(eqx.Module):
    """u -> (g R - I) u: with the residual step, u' = g R u (R a rotation, g > 1)."""
    weight: jnp.ndarray  # trainable but unused: the map stays what it is
    matrix: tuple = eqx.field(static=True)

    def __call__(self, x):
        m = jnp.asarray(self.matrix, x.dtype)
        return m @ x[: m.shape[0]] + 0.0 * self.weight


def make_network(num_spatial_dims, in_channels, out_channels, *, key):
    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, c, s], [0, 0, -s, c]])
    return Gain(jnp.zeros(()), tuple(map(tuple, (1.002 * rotation - np.eye(4)).tolist())))
'''


def test_stabilize_keeps_the_cap_for_a_model_that_gains_energy(tmp_path, capsys):
    """The target in small: the truth conserves energy (a rotation), the model gains 0.2%
    per step and diverges; the energy cap, no training, is kept and never diverges."""
    import json

    import yaml

    from stablesim.cli import main

    rng = np.random.default_rng(0)
    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, c, s], [0, 0, -s, c]])
    starts = rng.normal(size=(12, 4))
    starts /= np.linalg.norm(starts, axis=1, keepdims=True)
    frames = [starts]
    for _ in range(29):
        frames.append(frames[-1] @ rotation.T)
    np.savez(tmp_path / "rot.npz", trajectories=np.stack(frames, 1).astype(np.float32),
             params=np.repeat([[1.0], [2.0]], 6, axis=0))
    (tmp_path / "gain.py").write_text(GAIN)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "system": {"name": None},
        "data": {"file": "rot.npz", "train_values": [1.0], "interpolation_values": [2.0],
                 "normalize": "off"},
        "model": {"architecture": "gain.py:make_network"},
        "modality": {"name": "ONE", "unroll": 1},
        "training": {"updates": 20, "seeds": [0], "log_every": 10, "checkpoint_every": 10,
                     "batch_size": 4},
        "evaluation": {"rollout_steps": 10, "horizon": 5, "plots": False}}))
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    code = main(["stabilize", str(tmp_path / "run"), "--out", str(tmp_path / "stable"),
                 "--updates", "10", "--horizon", "1000", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "stable" / "stabilize" / "stabilize.json").read_text())
    assert report["before"]["diverged"] == report["before"]["rollouts"] == 6
    assert report["chosen"] == "energy cap"
    kept = next(o for o in report["candidates"] if o["name"] == "energy cap")
    assert kept["diverged"] == 0 and kept["unphysical"] == 0 and kept["updates"] == 0
    assert kept["errors"]["train"] <= report["before"]["errors"]["train"]
