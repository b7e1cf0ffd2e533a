"""Fine-tuning: a run (or study cell) starts from another run's trained networks."""

import json

import equinox as eqx
import jax
import numpy as np
import yaml

from stablesim.cli import main
from stablesim.config import load_run_config
from stablesim.runs import build_system, make_dataset, simulator_factory, train_run
from stablesim.studies import load_study
from stablesim.training import load_trained

from _tiny import TINY


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path, obj):
    path.write_text(yaml.safe_dump(obj, sort_keys=False))
    return path


def _arrays(networks):
    return jax.tree_util.tree_leaves(eqx.filter(networks, eqx.is_array))


def test_a_fine_tuned_run_starts_from_exactly_the_trained_networks(tmp_path, capsys):
    one = json.loads(json.dumps(TINY))
    one["modality"] = {"name": "ONE"}
    config = write(tmp_path / "one.yaml", one)
    assert run_cli(capsys, "train", config, "--out", tmp_path / "one", "--quiet")[0] == 0
    lr = 1e-3
    tuned = load_run_config(config, [("modality.name", "NOG"), ("modality.unroll", 2),
                                     ("model.init_from", str(tmp_path / "one")),
                                     ("training.schedule", "constant"),
                                     ("training.learning_rate", lr)])
    data = make_dataset(tuned)
    make = simulator_factory(tuned, build_system(tuned), data)
    train_run(tuned, tmp_path / "nog", dataset=data, stop_after=1, progress=False)
    start = _arrays(load_trained(make, tmp_path / "one").networks)
    after_one = _arrays(load_trained(make, tmp_path / "nog").networks)
    # One Adam update moves every weight by at most the learning rate: it started at `start`.
    moves = [np.abs(np.asarray(b) - np.asarray(a)).max() for a, b in zip(start, after_one)]
    assert max(moves) <= lr * (1 + 1e-4) and max(moves) > 0
    # ... and not from a fresh initialisation, which is far from the trained networks.
    untrained = _arrays(jax.vmap(lambda k: eqx.filter(make(k).network, eqx.is_array))(
        jax.vmap(jax.random.key)(np.asarray(tuned.training.seeds))))
    assert max(np.abs(np.asarray(a) - np.asarray(u)).max()
               for a, u in zip(start, untrained)) > 10 * lr


def test_fine_tune_refuses_a_start_run_it_cannot_continue(tmp_path, capsys):
    one = json.loads(json.dumps(TINY))
    one["modality"] = {"name": "ONE"}
    config = write(tmp_path / "one.yaml", one)
    assert run_cli(capsys, "train", config, "--out", tmp_path / "one", "--quiet",
                   "--stop-after", "5")[0] == 0
    start = ("--set", f"model.init_from={tmp_path / 'one'}")
    cases = [
        ((*start,), "stopped at update 5 of 20"),
        (("--set", f"model.init_from={tmp_path / 'missing'}"), "holds no trained run"),
    ]
    for extra, message in cases:
        code, _, err = run_cli(capsys, "train", config, "--out", tmp_path / "x", "--quiet", *extra)
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not (tmp_path / "x").exists()
    assert run_cli(capsys, "train", "--resume", tmp_path / "one", "--quiet")[0] == 0
    for extra, message in [
        (("--set", "training.seeds=[0]"), "trained seeds [0, 1], this run has [0]"),
        (("--set", "model.width=5"), "was trained with another model (width 4, here 5)"),
    ]:
        code, _, err = run_cli(capsys, "train", config, "--out", tmp_path / "x", "--quiet",
                               *start, *extra)
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not (tmp_path / "x").exists()


def test_a_study_puts_start_cells_first_and_refuses_a_start_outside_the_grid(tmp_path, capsys):
    base = write(tmp_path / "base.yaml", TINY)
    study = write(tmp_path / "study.yaml", {
        "name": "tiny", "base": base.name,
        "grid": {"simulator.setup": ["prediction", "correction"], "modality.name": ["NOG", "ONE"]},
        "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 6}})
    _, _, cells = load_study(study)
    # Start cells first, each unrolled cell names the ONE cell of its own setup.
    # With it, its matched control: the ONE cell continued for the same updates.
    assert [c.name for c in cells] == ["prediction-ONE", "correction-ONE", "prediction-NOG",
                                       "prediction-ONE-continued", "correction-NOG",
                                       "correction-ONE-continued"]
    assert [c.start for c in cells] == [None, None] + ["prediction-ONE"] * 2 + \
        ["correction-ONE"] * 2
    assert [c.config.training.updates for c in cells] == [20, 20, 6, 6, 6, 6]
    # Run end to end by the main job's test (tests/test_cli.py), a fine-tuning study of
    # this shape: the runs start from their start cells and the report says so.
    # A start value outside the grid is one line, before anything trains.
    bad = write(tmp_path / "bad.yaml", {
        "name": "tiny", "base": base.name, "grid": {"modality.name": ["NOG", "WIG"]},
        "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 6}})
    code, _, err = run_cli(capsys, "study", bad, "--out", tmp_path / "b")
    assert code == 2 and "'ONE' is not among the grid's values" in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_a_study_over_the_unroll_plots_error_and_gradient_alignment_against_m(tmp_path, capsys):
    base = write(tmp_path / "base.yaml", TINY)
    study = write(tmp_path / "study.yaml", {
        "name": "m", "base": base.name, "config": {"training": {"seeds": [0], "updates": 10}},
        "grid": {"modality.name": ["NOG"], "modality.unroll": [1, 2]}})
    out = tmp_path / "s"
    assert run_cli(capsys, "study", study, "--out", out, "--quiet")[0] == 0
    report = (out / "report.md").read_text()
    assert "## Unroll length" in report and (out / "plots" / "unroll_length.png").stat().st_size
    rows = {line.split(" | ")[1]: line for line in report.splitlines()
            if line.startswith("| NOG | ")}
    # At m = 1 WIG and NOG are the same loss: ratio 1, cosine 1 (an exact oracle).
    assert rows["1"].endswith("| 1.00 | 1.000 |")
    metrics = json.loads((out / "runs" / "NOG-2" / "metrics.json").read_text())
    own = next(r for r in metrics["gradient_alignment"] if r["m"] == 2)
    assert rows["2"].endswith(f"| {own['ratio']:.2f} | {own['cosine']:.3f} |")


def test_train_refuses_starting_networks_of_another_shape():
    import pytest

    from stablesim import ConfigError
    from stablesim.models import make_network
    from stablesim.simulators import Prediction
    from stablesim.training import ModalityConfig, TrainConfig, train
    from test_trainer import toy_dataset

    data = toy_dataset()

    def maker(width):
        return lambda key: Prediction(make_network("conv", state_shape=data.state_shape,
                                                   width=width, depth=1, key=key))

    cfg = TrainConfig(updates=2, seeds=[0, 1], batch_size=2, log_every=1, checkpoint_every=2)
    small = train(maker(3), data, cfg, ModalityConfig(name="ONE"), progress=False)
    with pytest.raises(ConfigError, match="do not match this model for 2 seeds"):
        train(maker(4), data, cfg, ModalityConfig(name="ONE"), progress=False,
              initial_networks=small.networks)
    # The same shapes start exactly there: one update at lr 1e-3 moves each weight <= lr.
    again = train(maker(3), data, cfg.model_copy(update={"updates": 1, "schedule": "constant"}),
                  ModalityConfig(name="ONE"), progress=False, initial_networks=small.networks)
    moves = [np.abs(np.asarray(a) - np.asarray(b)).max()
             for a, b in zip(_arrays(small.networks), _arrays(again.networks))]
    assert 0 < max(moves) <= cfg.learning_rate * (1 + 1e-4)
