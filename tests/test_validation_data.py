"""The validation split, tuning on it, matched controls, and the same built-in data on any CPU."""

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from stablesim._errors import ConfigError
from stablesim.config import RunConfig, validate
from stablesim.runs import make_dataset, split_dataset
from stablesim.studies import StudyConfig, resolve_study
from stablesim.studies._tuning import pick_variants

# The built-in ks data (default config): the last frame of the first and of the last
# trajectory at every 6th grid point, generated in float64 on an AVX-512 CPU. Without
# AVX-512 and FMA the data differ by at most 0.013 (README, "The same data on any
# machine"); float32 solves differed by O(1) there.
KS_FIRST = [-2.27631, -0.02085, 0.3392, -1.88931, 1.62667, -1.81493, 0.19946, 0.35431]
KS_LAST = [1.73463, 0.05119, -1.75414, -0.81353, 1.8312, 1.16232, 1.36597, 0.64691]
KS_FINGERPRINT = "f5451f99dd0afb3b"  # on that CPU with jax 0.10.2


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read().replace("\n", " ")
    except OSError:
        return False


@pytest.fixture(scope="module")
def ks_default():
    config = RunConfig()
    data = make_dataset(config)
    return config, data, split_dataset(config, data)


def test_builtin_data_have_a_validation_set_of_fresh_starts(ks_default):
    config, data, parts = ks_default
    assert set(parts) == {"train", "validation", "interpolation", "extrapolation"}
    values = {k: sorted({round(float(v), 3) for v in p.params[:, 0]}) for k, p in parts.items()}
    assert values["validation"] == [8.4, 10.0]
    train = values["train"]
    assert train[0] < min(values["validation"]) and max(values["validation"]) < train[-1]
    assert not set(values["validation"]) & (set(train) | set(values["interpolation"])
                                            | set(values["extrapolation"]))
    # Fresh initial conditions: the train and test sets do not move with the validation values.
    none = validate(RunConfig, {"data": {"validation_values": []}})
    other = split_dataset(none, make_dataset(none))
    assert "validation" not in other
    for name in ("train", "interpolation", "extrapolation"):
        assert other[name].fingerprint() == parts[name].fingerprint()


def test_the_builtin_data_are_pinned(ks_default):
    _, data, _ = ks_default
    np.testing.assert_allclose(data.trajectories[0, -1, 0, ::6], KS_FIRST, atol=0.05)
    np.testing.assert_allclose(data.trajectories[-1, -1, 0, ::6], KS_LAST, atol=0.05)
    if _has_avx512() and platform.machine() == "x86_64":
        import jax

        if jax.__version__ == "0.10.2":
            assert data.fingerprint() == KS_FINGERPRINT
    assert "fingerprint: " + data.fingerprint() in data.summary()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="XLA's ISA cap is for x86 CPUs")
def test_another_instruction_set_gives_the_same_data_to_a_tolerance(tmp_path, ks_default):
    """A CPU without AVX-512 and FMA, emulated: float64 solves keep the chaos in the last bits."""
    _, data, _ = ks_default
    out = tmp_path / "avx.npy"
    code = ("import sys, numpy as np; from stablesim.config import RunConfig; "
            "from stablesim.runs import make_dataset; "
            "np.save(sys.argv[1], make_dataset(RunConfig()).trajectories)")
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_max_isa=AVX", JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True, timeout=300)
    other = np.load(out)
    assert np.abs(other - data.trajectories).max() < 0.05  # measured: 0.013; float32: 6.1


@pytest.mark.parametrize("data, message", [
    ({"validation_values": [8.0]}, "data.validation_values: 8.0 is also a training value"),
    ({"validation_values": [9.2]}, "data.validation_values: 9.2 is also a interpolation value"),
    ({"validation_trajectories": 2}, "data.validation_trajectories: applies to your own data"),
])
def test_validation_values_that_are_training_or_test_values_are_refused(data, message):
    with pytest.raises(ConfigError, match=message):
        validate(RunConfig, {"data": data})


def test_a_default_validation_value_that_the_users_split_takes_is_dropped():
    config = validate(RunConfig, {"data": {"interpolation_values": [8.4]}})
    parts = split_dataset(config, make_dataset(config))
    assert sorted({round(float(v), 3) for v in parts["validation"].params[:, 0]}) == [10.0]


def test_own_data_hold_out_validation_trajectories_before_the_test_ones(tmp_path):
    rng = np.random.default_rng(0)
    traj = rng.normal(size=(10, 6, 1, 8)).astype(np.float32)
    path = tmp_path / "mine.npz"
    np.savez(path, trajectories=traj)
    config = validate(RunConfig, {"system": {"name": None}, "data": {
        "file": str(path), "test_trajectories": 3, "validation_trajectories": 2},
        "evaluation": {"rollout_steps": 4, "horizon": 2}})
    parts = split_dataset(config, make_dataset(config))
    np.testing.assert_array_equal(parts["train"].trajectories, traj[:5])
    np.testing.assert_array_equal(parts["validation"].trajectories, traj[5:7])
    np.testing.assert_array_equal(parts["interpolation"].trajectories, traj[7:])
    too_many = config.model_copy(update={"data": config.data.model_copy(
        update={"validation_trajectories": 7})})
    with pytest.raises(ConfigError, match="data.validation_trajectories: holding out 10 of"):
        split_dataset(too_many, make_dataset(too_many))


FINE_TUNING = {"config": {"training": {"updates": 40, "learning_rate": 1e-3}},
               "grid": {"simulator.setup": ["prediction", "correction"],
                        "modality.name": ["ONE", "NOG"]},
               "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 30}}


def test_a_fine_tuning_study_continues_its_start_cells_for_the_same_budget():
    _, cells = resolve_study(StudyConfig.model_validate(FINE_TUNING), check_data=False)
    by_name = {c.name: c for c in cells}
    assert list(by_name) == ["prediction-ONE", "correction-ONE", "prediction-ONE-continued",
                             "prediction-NOG", "correction-ONE-continued", "correction-NOG"]
    for setup in ("prediction", "correction"):
        control, nog = by_name[f"{setup}-ONE-continued"], by_name[f"{setup}-NOG"]
        assert control.continued and control.start == nog.start == f"{setup}-ONE"
        assert control.config.modality.name == "ONE"
        assert control.config.training == nog.config.training  # updates, schedule, rate
        assert control.config.training.updates == 30
        assert control.label == f"{setup} / ONE (continued)"
    off = dict(FINE_TUNING, fine_tune={**FINE_TUNING["fine_tune"], "continue_start": False})
    _, cells = resolve_study(StudyConfig.model_validate(off), check_data=False)
    assert not [c for c in cells if c.continued]


def test_tuning_makes_one_variant_per_value_for_the_fine_tuning_cells_only():
    study = StudyConfig.model_validate(
        dict(FINE_TUNING, tune={"training.learning_rate": [3e-4, 3e-3]}))
    _, cells = resolve_study(study, check_data=False)
    tuned = [c for c in cells if c.tuned_for]
    assert {c.tuned_for for c in tuned} == {"prediction-ONE-continued", "prediction-NOG",
                                            "correction-ONE-continued", "correction-NOG"}
    assert sorted(c.config.training.learning_rate for c in tuned
                  if c.tuned_for == "prediction-NOG") == [3e-4, 3e-3]
    assert {c.name for c in cells if not c.tuned_for} == {"prediction-ONE", "correction-ONE"}
    assert "prediction-NOG--0.0003" in {c.name for c in tuned}
    with pytest.raises(ConfigError, match="tune.modality.name: is a grid key"):
        resolve_study(StudyConfig.model_validate(dict(FINE_TUNING, tune={
            "modality.name": ["WIG"]})), check_data=False)


def test_tuning_needs_a_validation_set(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, trajectories=np.zeros((6, 8, 1, 4), np.float32) + 1.0)
    study = StudyConfig.model_validate({
        "config": {"system": {"name": None}, "data": {"file": str(path), "test_trajectories": 2},
                   "evaluation": {"rollout_steps": 4, "horizon": 2}},
        "grid": {"modality.name": ["ONE"]}, "tune": {"training.learning_rate": [1e-3]}})
    with pytest.raises(ConfigError, match="has no validation set to choose on"):
        resolve_study(study, check_data=False)
    # A built-in system whose default validation values the user's split takes: none left.
    taken = StudyConfig.model_validate({
        "config": {"data": {"interpolation_values": [8.4], "extrapolation_values": [10.0]}},
        "grid": {"modality.name": ["ONE"]}, "tune": {"training.learning_rate": [1e-3]}})
    with pytest.raises(ConfigError, match="has no validation set to choose on"):
        resolve_study(taken, check_data=False)


def _metrics(validation, test):
    """Metrics holding per-start rows: validation and interpolation errors."""
    from stablesim.evaluation import Metrics

    rows = [{"test_set": t, "case": i, "seed": 0, "metric": "rel_error", "horizon": 4,
             "value": v, "model": "learned"}
            for t, values in (("validation", validation), ("interpolation", test))
            for i, v in enumerate(values)]
    return Metrics.model_validate({"horizon": 4, "rows": rows})


def validation_error(metrics):
    return None if metrics is None else metrics.validation_error()


def test_the_pick_looks_at_validation_errors_only():
    study = StudyConfig.model_validate(dict(FINE_TUNING, tune={"training.learning_rate":
                                                                [3e-4, 3e-3]}))
    _, cells = resolve_study(study, check_data=False)
    # The small rate is better on validation, the large one on the test set.
    metrics = {c.name: _metrics([0.1, 0.2], [0.9, 0.9]) if c.name.endswith("0.0003")
               else _metrics([0.3, 0.4], [0.01, 0.01]) for c in cells}
    kept, picks = pick_variants(cells, lambda c: validation_error(metrics.get(c.name)))
    assert len(picks) == 4 and all(p.chosen.name.endswith("--0.0003") for p in picks)
    assert picks[0].errors == pytest.approx({picks[0].chosen.name: 0.15,
                                             picks[0].chosen.name[:-6] + "0.003": 0.35})
    assert len(kept) == 6 and all(c.tuned_for is None or c.name.endswith("0.0003")
                                  for c in kept)
    unfinished = dict(metrics)
    unfinished.pop("prediction-NOG--0.003")
    kept, picks = pick_variants(cells, lambda c: validation_error(unfinished.get(c.name)))
    assert len(picks) == 3 and "prediction-NOG" not in {p.cell for p in picks}



def test_a_tuned_study_end_to_end_reports_each_pick(tmp_path):
    """Two learning rates per cell, trained and evaluated; the report uses the pick."""
    import json

    import yaml

    from stablesim.cli import main

    from _tiny import TINY

    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "name": "tuned", "base": "base.yaml",
        "config": {"training": {"seeds": [0], "updates": 10},
                   "evaluation": {"stability_steps": 30}},  # merged key by key into TINY's
        "grid": {"modality.name": ["ONE"]},
        "tune": {"training.learning_rate": [1e-4, 3e-3]}}))
    out = tmp_path / "s"
    assert main(["study", str(tmp_path / "study.yaml"), "--out", str(out), "--quiet"]) == 0
    errors = {}
    for name in ("ONE--0.0001", "ONE--0.003"):
        metrics = json.loads((out / "runs" / name / "metrics.json").read_text())
        errors[name] = np.mean([r["value"] for r in metrics["rows"]
                                if r["test_set"] == "validation" and r["metric"] == "rel_error"
                                and r["horizon"] == metrics["horizon"]])
    kept = min(errors, key=errors.get)
    report = (out / "report.md").read_text()
    assert "## Tuning on validation data" in report
    assert f"| ONE | training.learning_rate={1e-4 if kept.endswith('0001') else 3e-3} | " \
        f"{errors[kept]:.4g} | kept |" in report
    headline = json.loads((out / "runs" / kept / "metrics.json").read_text())["summary"]
    assert f"| ONE | {headline['interpolation']['rel_error']['mean']:.4g} ± " in report
    assert "1 of 1 cells evaluated" in report
    # The long rollouts of the kept cell, as its metrics hold them.
    assert "## Long rollouts" in report and "30 steps" in report
    lines = report.split("## Long rollouts", 1)[1].splitlines()
    for test_set in ("interpolation", "extrapolation"):
        v = headline[test_set]["physics"]["verdicts"]
        row = next(line for line in lines if f"| {test_set} |" in line)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:5] == [str(v["stable"]), str(v["bounded but unphysical"]),
                              str(v["diverges"])]
