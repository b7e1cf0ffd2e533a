"""`stablesim stabilize`: candidate fixes measured on long rollouts; the best verified one
becomes a new run (end to end on a linear system whose trained model diverges)."""

import hashlib
import json

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from stablesim.cli import main
from stablesim.config import RunConfig, validate
from stablesim.data import load_dataset
from stablesim.runs import (
    Run,
    candidate_fixes,
    open_run_data,
    read_run_config,
    split_dataset,
)
from stablesim.runs._fixes import Fix, Outcome, choose, fine_tune_config, refined_noise
from stablesim.training import copy_checkpoint, read_checkpoint_header

from _tiny import linear_subspace_data


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _linear_run(tmp_path, capsys, **training):
    """A residual linear model (the default residual prediction, Adam) on data in a 3-dim
    subspace of R^10: accurate on the data, unstable normal to it."""
    linear_subspace_data(tmp_path / "lin.npz")
    cfg = {
        "system": {"name": None},
        "data": {"file": "lin.npz", "train_values": [1.0], "interpolation_values": [2.0],
                 "normalize": "off"},  # the oracles read the raw weights
        "model": {"architecture": "linear"},
        "modality": {"name": "ONE", "unroll": 1},
        "training": {"updates": 300, "seeds": [0], "learning_rate": 0.01, "log_every": 100,
                     "checkpoint_every": 100, "batch_size": 8, **training},
        "evaluation": {"rollout_steps": 20, "horizon": 5, "plots": False},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = run_cli(capsys, "train", tmp_path / "run.yaml", "--out", tmp_path / "run",
                           "--quiet")
    assert code == 0, err
    return tmp_path / "run"


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stabilize_end_to_end_on_a_diverging_linear_model(tmp_path, capsys, monkeypatch):
    run = _linear_run(tmp_path, capsys)
    before_ckpt, before_cfg = _digest(run / "checkpoint.eqx"), _digest(run / "config.yaml")
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)  # as a user: another working directory
    code, out, err = run_cli(capsys, "stabilize", run, "--out", "stable", "--updates", "50",
                             "--quiet")
    assert code == 0, err
    report = json.loads((work / "stable" / "stabilize" / "stabilize.json").read_text())
    before = report["before"]
    assert before["diverged"] == before["rollouts"] == 6  # every test rollout blows up
    assert before["first_divergence"] < 200
    kept = next(c for c in report["candidates"] if c["name"] == report["chosen"])
    assert kept["diverged"] == 0 and kept["horizon"] == 10_000
    # Measured on the training starts: these data have no validation set, and no choice
    # looks at the test set (runs._stabilize.choice_sets).
    assert set(kept["errors"]) == set(before["errors"]) == {"train"}
    assert kept["errors"]["train"] <= 1.1 * before["errors"]["train"]
    assert report["chosen"] == "projection" and kept["updates"] == 0
    assert "| projection |" in out and "**kept**" in out and "0 of 6 rollouts diverge" in out
    # The run itself is untouched (only its stabilize/ report folder is new).
    assert _digest(run / "checkpoint.eqx") == before_ckpt
    assert _digest(run / "config.yaml") == before_cfg
    assert (run / "stabilize" / "stabilize.md").exists()
    assert not (work / "stable.candidates").exists()
    # An independent check of the new run: its operator, assembled from the weights, as a
    # NumPy power loop over 10,000 steps from the test starts.
    new = work / "stable"
    cfg = read_run_config(new)
    assert cfg.simulator.projection is True
    data = open_run_data(new, cfg)
    sim = Run(new).trained.simulator_for(0)  # with the run's normalization, as it runs
    eye = np.eye(10, dtype=np.float32)
    def apply(u):
        return np.asarray(sim(jnp.asarray(u, jnp.float32), jnp.asarray([2.0])), np.float64)

    shift = apply(np.zeros(10))  # the step is affine: u -> M u + shift
    step = np.stack([apply(e) - shift for e in eye], axis=1)
    test = split_dataset(cfg, data)["interpolation"]
    x = test.trajectories[:, 0].astype(np.float64).T
    bound = 2 * np.abs(test.trajectories).max()
    for _ in range(10_000):
        x = step @ x + shift[:, None]
        assert np.abs(x).max() <= bound
    # evaluate, diagnose and rollout work on it.
    code, out, err = run_cli(capsys, "evaluate", new, "--set", "evaluation.stability_steps=10000",
                             "--quiet")
    assert code == 0, err
    assert "interpolation  learned       6 stable, 0 bounded but unphysical, 0 diverge of 6" in out
    code, out, _ = run_cli(capsys, "diagnose", new, "--quiet")
    assert code == 0 and "already projects" in out


def test_stabilize_refuses_a_used_out_directory_and_an_unfinished_run(tmp_path, capsys):
    run = _linear_run(tmp_path, capsys)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    code, _, err = run_cli(capsys, "stabilize", run, "--out", taken, "--quiet")
    assert code == 2 and err.count("\n") == 1 and "already exists" in err
    assert (taken / "keep.txt").read_text() == "mine"
    code, _, err = run_cli(capsys, "train", tmp_path / "run.yaml", "--out", tmp_path / "half",
                           "--stop-after", "100", "--quiet")
    code, _, err = run_cli(capsys, "stabilize", tmp_path / "half", "--out", tmp_path / "x")
    assert code == 2 and "not finished (100 of 300" in err
    code, _, err = run_cli(capsys, "stabilize", run, "--out", tmp_path / "y", "--horizon", "0")
    assert code == 2 and "--horizon must be >= 1" in err


def _config(**sections):
    raw = {"system": {"name": None},
           "data": {"file": "x.npz", "train_values": [1.0]},
           "evaluation": {"rollout_steps": 20, "horizon": 5}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return validate(RunConfig, raw)


def test_candidates_never_repeat_what_the_run_already_uses(tmp_path):
    linear_subspace_data(tmp_path / "lin.npz")
    data = load_dataset(tmp_path / "lin.npz")
    names = [f.name for f in candidate_fixes(_config(), data)]
    assert names[0] == "more training" and "projection" in names
    noise = [f.changes["modality.noise"] for f in candidate_fixes(_config(), data)
             if "modality.noise" in f.changes]
    assert len(noise) == 5 and noise[1] == pytest.approx(3 * noise[0], rel=0.01)
    # Already projected, already noisy beyond the first two rungs, already NOG m=4.
    cfg = _config(simulator={"projection": True},
                  modality={"name": "NOG", "unroll": 4, "noise": 1.5 * noise[1]})
    fixes = candidate_fixes(cfg, data)
    assert "projection" not in [f.name for f in fixes]
    assert [f.changes["modality.noise"] for f in fixes if "modality.noise" in f.changes] == (
        noise[2:])
    assert [f.changes for f in fixes if f.name.startswith("NOG")] == [
        {"modality.name": "NOG", "modality.unroll": 8}]
    # Full-rank data: no projection candidate either.
    full = load_dataset(tmp_path / "lin.npz")
    rng = np.random.default_rng(0)
    object.__setattr__(full, "trajectories", rng.normal(size=full.trajectories.shape)
                       .astype(np.float32))
    assert "projection" not in [f.name for f in candidate_fixes(_config(), full)]


def test_fine_tune_config_starts_from_the_run_at_a_constant_smaller_rate(tmp_path):
    cfg = _config(training={"learning_rate": 0.02, "schedule": "cosine", "ramp": 10,
                            "updates": 1000})
    fix = Fix("noise", {"modality.noise": 0.1}, "why")
    tuned = fine_tune_config(cfg, tmp_path / "src", fix, 120, 0.002)
    assert tuned.model.init_from == str((tmp_path / "src").resolve())
    assert (tuned.training.updates, tuned.training.learning_rate, tuned.training.schedule,
            tuned.training.ramp) == (120, 0.002, "constant", 0)
    assert tuned.modality.noise == 0.1 and tuned.training.total_updates == 120
    same = fine_tune_config(cfg, tmp_path / "src", Fix("p", {"simulator.projection": True},
                                                       "why", trains=False), 120, 0.002)
    assert same.training == cfg.training and same.simulator.projection


def test_choose_prefers_stable_within_tolerance_then_smallest_error():
    def outcome(name, diverged, err):
        steps = np.full((1, 4), 101)
        steps[0, :diverged] = 50
        return Outcome(name, {}, steps, {"interpolation": err}, 100, 10)

    before = outcome("before", 4, 1.0)
    a, b, c = outcome("a", 0, 1.05), outcome("b", 0, 1.2), outcome("c", 1, 0.5)
    assert choose(before, [b, c, a], 0.1) is a
    assert choose(before, [b, c], 0.1) is b  # stable but outside the tolerance: still kept
    assert choose(before, [c], 0.1) is None
    assert a.within(before, 0.1) and not b.within(before, 0.1)


def test_copy_checkpoint_keeps_the_arrays_and_changes_the_header(tmp_path, capsys):
    run = _linear_run(tmp_path, capsys)
    copy = copy_checkpoint(run / "checkpoint.eqx", tmp_path / "copy.eqx", run_config={"a": 1})
    old, new = read_checkpoint_header(run / "checkpoint.eqx"), read_checkpoint_header(copy)
    assert new["run_config"] == {"a": 1} and new["step"] == old["step"] == 300
    assert new["payload_sha256"] == old["payload_sha256"]
    raw = bytearray(copy.read_bytes())
    raw[-3] ^= 0xFF
    (tmp_path / "bad.eqx").write_bytes(bytes(raw))
    from stablesim._errors import DataError

    with pytest.raises(DataError, match="checksum mismatch"):
        copy_checkpoint(tmp_path / "bad.eqx", tmp_path / "copy2.eqx")


def test_refined_noise_bisects_between_diverging_and_too_biased():
    def noisy(value, diverged, err):
        steps = np.full((1, 2), 101)
        steps[0, :diverged] = 7
        return Outcome(f"noise {value}", {"modality.noise": value}, steps,
                       {"interpolation": err}, 100, 10)

    before = Outcome("before", {}, np.full((1, 2), 5), {"interpolation": 1.0}, 100, 0)
    tried = [noisy(0.01, 2, 1.0), noisy(0.1, 1, 1.0), noisy(1.0, 0, 3.0), noisy(10.0, 0, 9.0)]
    fix = refined_noise(tried, before, 0.1)
    assert fix.changes == {"modality.noise": pytest.approx(np.sqrt(0.1 * 1.0), rel=1e-3)}
    assert refined_noise(tried + [noisy(0.316, 0, 1.05)], before, 0.1) is None  # met
    assert refined_noise(tried[:2], before, 0.1) is None  # nothing stable to bisect toward
    assert refined_noise(tried[2:], before, 0.1) is None  # nothing diverging below
    # Bounded but unphysical (a remedy may fix that) bounds the bisection as stable does.
    leaky = Outcome("noise 1.0", {"modality.noise": 1.0}, np.full((1, 2), 101),
                    {"interpolation": 3.0}, 100, 10, unphysical=2,
                    unphysical_reason="2% of its energy in bands where the data have none")
    fix = refined_noise(tried[:2] + [leaky], before, 0.1)
    assert fix.changes == {"modality.noise": pytest.approx(np.sqrt(0.1 * 1.0), rel=1e-3)}


def test_diagnose_verify_ranks_the_fixes_by_their_measured_outcome(tmp_path, capsys,
                                                                   monkeypatch):
    from stablesim.runs import _diagnose, _stabilize

    run = _linear_run(tmp_path, capsys)
    measured_names: list[str] = []

    def counting(measure):
        def wrapped(*args, **kwargs):
            measured_names.append(kwargs.get("name", "as trained"))
            return measure(*args, **kwargs)
        return wrapped

    for module in (_diagnose, _stabilize):
        monkeypatch.setattr(module, "measure", counting(module.measure))
    code, out, err = run_cli(capsys, "diagnose", run, "--verify", "--updates", "20",
                             "--horizon", "3000", "--quiet")
    assert code == 0, err
    # diagnose's own measurements are reused by the verification, not repeated
    assert measured_names.count("as trained") == 1 and measured_names.count("projection") == 1
    figures = json.loads((run / "diagnose" / "diagnose.json").read_text())
    ranked = figures["verified"]
    assert ranked[0]["name"] == "projection" and ranked[0]["diverged"] == 0
    assert all(r["diverged"] > 0 for r in ranked[1:])  # the linear case: only it works
    assert [r["diverged"] for r in ranked[1:]] == sorted(r["diverged"] for r in ranked[1:])
    assert "Measured fix #1: projection" in out and "stable, error within tolerance" in out
    first = out.index("Measured fix #1")
    assert first < out.index("Untested: ")  # measured advice first
    untested = [line for line in out.splitlines() if line.lstrip("- ").startswith("Untested")]
    measured = {k for r in ranked for k in r["changes"]}
    assert measured >= {"simulator.projection", "modality.noise"}
    assert not [line for line in untested if any(f"`{k}:" in line for k in measured)]
    assert not (run / "stabilize" / "candidates").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lin.npz", "run", "run.yaml"]


def test_choices_are_measured_on_the_validation_set_never_a_test_set():
    from stablesim.data import TrajectoryDataset
    from stablesim.runs._stabilize import choice_sets

    parts = {name: TrajectoryDataset(np.full((1, 2, 1, 4), float(i)), np.zeros((1, 0))) for i, name in
             enumerate(("train", "validation", "interpolation", "extrapolation"))}
    assert choice_sets(parts) == {"validation": parts["validation"]}
    del parts["validation"]
    assert choice_sets(parts) == {"train": parts["train"]}


def test_stability_is_also_judged_on_evenly_spaced_training_starts():
    from stablesim.data import TrajectoryDataset
    from stablesim.runs._stabilize import stability_starts

    def part(count, value):
        traj = np.arange(count, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 1, 4))
        return TrajectoryDataset(traj.astype(np.float32) + value, np.zeros((count, 0)))

    parts = {"train": part(40, 0.0), "validation": part(3, 100.0), "interpolation": part(5, 200.0)}
    starts = stability_starts(parts)
    assert starts is not None and starts.num_trajectories == 16
    first = starts.trajectories[:, 0, 0, 0]
    assert first[0] == 0 and first[-1] == 39 and np.all(np.diff(first) > 0)  # from train only
    parts["train"] = part(5, 0.0)
    assert stability_starts(parts).num_trajectories == 5
    del parts["validation"]  # the training set is then the choice set itself
    assert stability_starts(parts) is None


def test_the_fine_tuning_budget_comes_from_the_whole_run(tmp_path):
    """A fine-tune of a fine-tune: its candidates train a fifth of all updates behind it, at a
    tenth of the largest learning rate of every stage (not its own last stage's)."""
    from stablesim.config import RunConfig, write_yaml
    from stablesim.runs import Run
    from stablesim.runs._stabilize import whole_run_budget

    def write(name, updates, rate, init_from=None, curriculum=None):
        raw = {"training": {"updates": updates, "learning_rate": rate}}
        if curriculum:
            raw["training"] = {"curriculum": curriculum}
        if init_from:
            raw["model"] = {"init_from": str(tmp_path / init_from)}
        (tmp_path / name).mkdir()
        write_yaml(RunConfig.model_validate(raw), tmp_path / name / "config.yaml")

    write("first", 0, 0.0, curriculum=[{"updates": 1000, "learning_rate": 3e-3},
                                        {"updates": 500, "learning_rate": 1e-4}])
    write("second", 300, 1e-4, init_from="first")
    write("third", 100, 1e-5, init_from="second")
    total, rate = whole_run_budget(Run(tmp_path / "third"))
    assert total == 1000 + 500 + 300 + 100
    assert rate == 3e-3


def test_the_noise_ladder_starts_at_the_models_one_step_error(tmp_path):
    """Below the error the model already makes, noise changes nothing: no such rung."""
    from stablesim.runs._stabilize import one_step_error
    from stablesim.training import TrainResult

    linear_subspace_data(tmp_path / "lin.npz")
    data = load_dataset(tmp_path / "lin.npz")
    plain = [f.changes["modality.noise"] for f in candidate_fixes(_config(), data)
             if "modality.noise" in f.changes]
    floor = 100 * plain[0]
    raised = [f.changes["modality.noise"] for f in candidate_fixes(_config(), data,
                                                                  noise_floor=floor)
              if "modality.noise" in f.changes]
    assert raised[0] == pytest.approx(floor, rel=0.01) and len(raised) == 5
    assert all(a == pytest.approx(30 * b, rel=0.02) or a > b for a, b in zip(raised, plain))

    class Scale(eqx.Module):  # a model u -> u / 2: its one-step error is known
        factor: jnp.ndarray

        def __call__(self, u, p):
            return self.factor * u

    from stablesim.simulators import Prediction

    sim = Prediction(Scale(jnp.asarray(0.5)), residual=False)
    result = TrainResult(simulator=sim, networks=Scale(jnp.asarray([0.5])), seeds=[0],
                         history=[], skipped=[0], steps=0)
    parts = {"train": data}
    traj = np.asarray(data.trajectories, np.float64)
    naive = np.sqrt(np.mean((0.5 * traj[:, :-1] - traj[:, 1:]) ** 2))
    assert one_step_error(result, parts, None, pairs=10**6) == pytest.approx(naive, rel=1e-5)


def test_a_leaky_bounded_candidate_is_retried_with_the_band_filter():
    from stablesim.runs._fixes import combined_fix

    steps = np.full((1, 4), 101)
    before = Outcome("before", {}, np.full((1, 4), 5), {"validation": 1.0}, 100, 0)
    leaky = Outcome("noise 0.1", {"modality.noise": 0.1}, steps, {"validation": 1.05}, 100, 10,
                    unphysical=2, unphysical_reason="1.3% of its energy in bands where the "
                    "data have none (allowed 1%)")
    worse = Outcome("noise 0.3", {"modality.noise": 0.3}, steps, {"validation": 2.0}, 100, 10,
                    unphysical=1, unphysical_reason="1.9% of its energy in bands where the "
                    "data have none (allowed 1%)")
    loud = Outcome("noise 1", {"modality.noise": 1.0}, steps, {"validation": 0.9}, 100, 10,
                   unphysical=1, unphysical_reason="rms 2.00x the reference's largest")
    fix = combined_fix(before, [worse, loud, leaky], 0.1, band_filter_offered=True)
    assert fix is not None and fix.trains
    assert fix.changes == {"modality.noise": 0.1, "simulator.band_filter": True}
    assert combined_fix(before, [leaky], 0.1, band_filter_offered=False) is None
    good = Outcome("projection", {"simulator.projection": True}, steps, {"validation": 1.0},
                   100, 0)
    assert combined_fix(before, [leaky, good], 0.1, band_filter_offered=True) is None
