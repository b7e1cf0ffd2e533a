"""A model trained on a user's data without a solver stands beside persistence (the initial
state held), with a paired interval, in the evaluation, the plots and a study's report
(whose states here are vectors: their rollouts are drawn as component against step)."""

import numpy as np
import yaml

from stablesim.cli import main
from stablesim.evaluation import Metrics

from _tiny import linear_subspace_data

CONFIG = {"system": {"name": None},
          "data": {"file": "lin.npz", "train_values": [1.0], "interpolation_values": [2.0]},
          "model": {"architecture": "linear"},
          "training": {"updates": 6, "seeds": [0, 1], "log_every": 3, "checkpoint_every": 3,
                       "batch_size": 4},
          "evaluation": {"rollout_steps": 5, "horizon": 3, "plots": False}}


def _held_errors(trajectories: np.ndarray, horizon: int) -> np.ndarray:
    """The oracle, a naive loop: per start, the relative error of holding frame 0 over the
    first `horizon` frames (sum of squared errors over sum of squared values)."""
    out = []
    for traj in trajectories.astype(np.float64):
        num = sum(np.sum((traj[0] - traj[k]) ** 2) for k in range(1, horizon + 1))
        den = sum(np.sum(traj[k] ** 2) for k in range(1, horizon + 1))
        out.append(min(num / den, 1.0))
    return np.array(out)


def test_the_baseline_without_a_solver_is_persistence(tmp_path, capsys):
    _, traj = linear_subspace_data(tmp_path / "lin.npz")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(CONFIG))
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "r"), "--quiet"]) == 0
    out = capsys.readouterr().out
    metrics = Metrics.read(tmp_path / "r" / "metrics.json")
    assert metrics.baseline is None  # no solver
    expected = _held_errors(traj[6:], horizon=3)  # the parameter-2.0 trajectories
    np.testing.assert_allclose(metrics.start_errors("interpolation", model="persistence")[0],
                               expected, rtol=1e-5)
    np.testing.assert_allclose(metrics.persistence["interpolation"].rel_error.mean,
                               expected.mean(), rtol=1e-5)
    assert metrics.persistence["interpolation"].divergences.total == 0
    row = next(line for line in out.splitlines() if line.startswith("interpolation  persistence"))
    assert f"{expected.mean():.4g}" in row
    verdict = next(line for line in out.splitlines() if "learned / persistence =" in line)
    assert "paired bootstrap 95%" in verdict and "12 seed x start pairs" in verdict
    assert "the baseline is persistence" in out


def test_a_study_without_a_solver_reports_against_persistence(tmp_path, capsys):
    _, traj = linear_subspace_data(tmp_path / "lin.npz")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(
        {"name": "no solver", "base": "run.yaml", "grid": {"modality.name": ["ONE", "NOG"]}}))
    assert main(["study", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "s"),
                 "--quiet"]) == 0
    report = (tmp_path / "s" / "report.md").read_text()
    assert "## Against persistence" in report
    assert f"interpolation {_held_errors(traj[6:], horizon=3).mean():.4g}" in report
    header = next(line for line in report.splitlines() if line.startswith("| modality.name"))
    assert "vs persistence (interp.)" in header and "vs solver" not in header
    held = next(line for line in report.splitlines()
                if line.startswith("| persistence (initial state held)"))
    assert "1.00" in held
    for name in ("ONE", "NOG"):  # each cell's ratio to persistence, with its interval
        row = next(line for line in report.splitlines() if line.startswith(f"| {name} "))
        assert row.count("[") >= 1, row
    csv = (tmp_path / "s" / "results.csv").read_text()
    assert ",persistence,interpolation," in csv
