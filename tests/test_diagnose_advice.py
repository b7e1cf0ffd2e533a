"""`diagnose` reads the run's config: advice names keys, is never what the run already does,
and the projection it recommends is a config key that works in training and rollouts."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import yaml

from stablesim import stability
from stablesim.cli import main
from stablesim.runs import open_run_data, read_run_config, simulator_factory
from stablesim.simulators import Correction, external_solver
from stablesim.stability import Projected, jacobian
from stablesim.training import load_trained

from _tiny import linear_subspace_data


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path, **simulator):
    cfg = {
        "system": {"name": None},
        "data": {"file": "lin.npz", "train_values": [1.0], "interpolation_values": [2.0],
                 "normalize": "off"},  # the oracles read the raw weights
        "model": {"architecture": "linear", "initializer": "he"},
        "simulator": {"setup": "prediction", "residual": False, **simulator},
        "modality": {"name": "ONE", "unroll": 1},
        "training": {"updates": 200, "seeds": [0], "optimizer": "sgd", "momentum": 0.0,
                     "learning_rate": 0.05, "schedule": "constant", "log_every": 100,
                     "checkpoint_every": 200, "batch_size": 8},
        "evaluation": {"rollout_steps": 20, "horizon": 5, "plots": False},
    }
    path = tmp_path / f"run{len(simulator)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_projection_advice_is_a_config_key_that_removes_the_unstable_block(tmp_path, capsys,
                                                                          monkeypatch):
    q = linear_subspace_data(tmp_path / "lin.npz")[0]
    up = q[:, 3:]
    plain, projected = tmp_path / "plain", tmp_path / "projected"
    assert run_cli(capsys, "train", _config(tmp_path), "--out", plain, "--quiet")[0] == 0
    spectra = []
    original = stability.energy_spectrum
    monkeypatch.setattr(stability, "energy_spectrum",
                        lambda *a, **k: spectra.append(1) or original(*a, **k))
    code, out, _ = run_cli(capsys, "diagnose", plain, "--quiet")
    assert len(spectra) == 1  # the data's spectrum, shared by the measured projection
    monkeypatch.undo()
    figures = json.loads((plain / "diagnose" / "diagnose.json").read_text())
    assert figures["normal_spectral_radius"] > 1  # He draws an unstable empty block
    assert code == 0 and "Set `simulator.projection: true`" in out
    # Measured on this run: as trained every rollout leaves the data's range; projected, none.
    long = figures["long_rollouts"]
    assert long["as_trained"]["diverged"] == long["as_trained"]["rollouts"] == 6
    assert long["projection"]["diverged"] == 0
    assert "Measured: as trained, 6 of 6 rollouts" in out
    assert "Measured: `simulator.projection: true` on the trained weights" in out
    assert "Untested: " in out  # the rest says what it is
    assert "Untested: " in (plain / "diagnose" / "diagnose.md").read_text()
    assert "`model.initializer: gershgorin`" in out and "instead of he" in out
    # Follow the advice from the config file.
    code, _, err = run_cli(capsys, "train", _config(tmp_path, projection=True), "--out",
                           projected, "--quiet")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "diagnose", projected, "--quiet")
    after = json.loads((projected / "diagnose" / "diagnose.json").read_text())
    assert code == 0 and "already projects" in out and "Set `simulator.projection" not in out
    assert after["normal_spectral_radius"] < 1e-4
    assert figures["growth_normal_max"] > 1 > after["growth_normal_max"]
    # The projection acts in training and rollouts: every step stays in the data subspace.
    cfg = read_run_config(projected)
    data = open_run_data(projected, cfg)
    sim = load_trained(simulator_factory(cfg, None, data), projected).simulator_for(0)
    assert isinstance(sim, Projected)
    u = jnp.asarray(data.trajectories[0, 0]) + 0.3 * jnp.asarray(up[:, 0], jnp.float32)
    for _ in range(50):
        u = sim(u, jnp.asarray([1.0]))
        assert np.linalg.norm(up.T @ np.asarray(u)) < 1e-5 * max(1.0, np.linalg.norm(u))
    code, out, _ = run_cli(capsys, "evaluate", projected, "--quiet")
    assert code == 0


def test_noise_already_set_is_not_recommended_again(tmp_path, capsys):
    linear_subspace_data(tmp_path / "lin.npz")[0]
    run = tmp_path / "run"
    assert run_cli(capsys, "train", _config(tmp_path), "--out", run, "--quiet")[0] == 0
    run_cli(capsys, "diagnose", run, "--quiet")
    sigma = json.loads((run / "diagnose" / "diagnose.json").read_text())["recommended_noise"]
    noisy = tmp_path / "noisy"
    code, _, err = run_cli(capsys, "train", _config(tmp_path), "--out", noisy, "--quiet",
                           "--set", f"modality.noise={sigma * 1.01}")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "diagnose", noisy, "--quiet")
    assert code == 0 and "Noise is already at modality.noise" in out
    assert "set `modality.noise" not in out


def test_finite_difference_jacobian_of_an_external_solver_matches_autodiff():
    """The same correction with a JAX solver (autodiff) and the solver as NumPy (FD)."""
    key = jax.random.key(0)
    w = jax.random.normal(key, (6, 6)) * 0.3

    def jax_solver(u):
        return jnp.tanh(w @ u) + 0.5 * u

    def numpy_solver(u):
        return np.tanh(np.asarray(w) @ u) + 0.5 * u

    class Net(eqx.Module):
        def __call__(self, u, p):
            return 0.1 * jnp.sin(u)

    exact = Correction(Net(), jax_solver)
    fd = Correction(Net(), external_solver(numpy_solver))
    state = jax.random.normal(jax.random.key(1), (6,))
    a = jacobian(exact, state, jnp.zeros(0))
    b = jacobian(fd, state, jnp.zeros(0))
    assert not fd.differentiable
    np.testing.assert_allclose(b, a, atol=2e-4)
    assert np.abs(a).max() > 0.1


def test_advice_accounts_for_residual_linear_models_and_weight_decay():
    """A residual linear model is told the initializer that bounds its step; weight decay
    is explained for what it does to a residual step; a deep residual net is not offered an
    initializer that cannot bound its step."""
    from stablesim.config import RunConfig, validate
    from stablesim.stability import EnergySpectrum, recommendations

    energy = EnergySpectrum(np.array([4.0, 1.0, 0.0, 0.0]), np.eye(4), 2, 1e-12)

    def advice(**model):
        cfg = validate(RunConfig, {
            "system": {"name": None}, "data": {"file": "x.npz", "train_values": [1.0]},
            "model": model, "training": {"optimizer": "adamw", "weight_decay": 0.01},
            "evaluation": {"rollout_steps": 20, "horizon": 5}})
        return " ".join(recommendations(energy, 1.0, 1.3, 10.0, tolerated_bias=0.05, steps=20,
                                        config=cfg))

    linear = advice(architecture="linear")
    assert "`model.initializer: gershgorin` (for a residual `linear` model" in linear
    assert "weight_decay: 0.01 pulls" in linear and "exactly 1 there" in linear
    deep = advice(architecture="mlp")
    assert "no initializer of net can put the step" in deep
    assert "for a residual `linear` model" not in deep
    bounded = advice(architecture="linear", initializer="gershgorin")
    assert "set `model.initializer: gershgorin`" not in bounded  # already used
