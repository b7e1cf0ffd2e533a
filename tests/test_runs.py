"""Run directories and studies from the command line: train, kill, resume, evaluate, report."""

import json
import os
import signal
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from stablesim.cli import main
from stablesim.data import load_dataset
from stablesim.evaluation import relative_error
from stablesim.runs import (
    build_system,
    open_run_data,
    read_run_config,
    simulator_factory,
    split_dataset,
    train_run,
)
from stablesim.simulators import Prediction
from stablesim.training import gradient_alignment, load_trained, read_checkpoint_header

from _tiny import TINY, linear_subspace_data


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path, obj):
    path.write_text(yaml.safe_dump(obj))
    return path


def comparable(metrics):
    return {k: v for k, v in metrics.items() if k != "run"}


def test_killed_training_resumes_to_the_same_parameters_and_metrics(tmp_path, capsys):
    cfg = json.loads(json.dumps(TINY))
    cfg["training"].update(updates=3000, log_every=10, checkpoint_every=10)
    config = write(tmp_path / "run.yaml", cfg)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen([sys.executable, "-m", "stablesim.cli", "train", str(config),
                             "--out", str(killed), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (killed / "checkpoint.eqx").exists() and time.time() < deadline:
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = read_checkpoint_header(killed / "checkpoint.eqx")["step"]
    assert 0 < step < 3000, step  # really killed during training
    code, out, _ = run_cli(capsys, "train", "--resume", killed, "--quiet")
    assert code == 0 and f"resuming {killed} at update {step}" in out
    code, _, _ = run_cli(capsys, "train", config, "--out", whole, "--quiet")
    assert code == 0
    # Model, optimizer state, keys, step and config: the checkpoints are identical bytes.
    assert (killed / "checkpoint.eqx").read_bytes() == (whole / "checkpoint.eqx").read_bytes()
    for run in (killed, whole):
        assert run_cli(capsys, "evaluate", run)[0] == 0
    a = json.loads((killed / "metrics.json").read_text())
    b = json.loads((whole / "metrics.json").read_text())
    assert comparable(a) == comparable(b)
    log = (killed / "train_log.csv").read_text().splitlines()
    assert log[0].split(",")[:6] == ["step", "stage", "seed", "loss", "grad_norm", "skipped"]
    assert len(log) == 1 + 2 * 300  # every logged step once per seed, none lost or repeated


def test_stop_after_then_resume_and_refusals(tmp_path, capsys):
    config = write(tmp_path / "run.yaml", TINY)
    run = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", config, "--out", run, "--stop-after", "10", "--quiet")
    assert code == 0 and "stopped at update 10 of 20" in out
    code, _, err = run_cli(capsys, "evaluate", run)
    assert code == 2 and "resume it first" in err and err.count("\n") == 1
    before = (run / "checkpoint.eqx").read_bytes()
    code, _, err = run_cli(capsys, "train", config, "--out", run, "--quiet")
    assert code == 2 and "already holds a trained run" in err
    assert (run / "checkpoint.eqx").read_bytes() == before  # earlier results untouched
    code, _, err = run_cli(capsys, "train", "--resume", run, "--set", "training.updates=5")
    assert code == 2 and "takes no CONFIG" in err
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path)
    assert code == 2 and "not a run directory" in err
    assert run_cli(capsys, "train", "--resume", run, "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "train", "--resume", run)
    assert code == 0 and "already trained" in out
    assert set(os.listdir(run)) >= {"config.yaml", "dataset.h5", "checkpoint.eqx", "train_log.csv"}
    assert read_run_config(run).training.updates == 20


def test_evaluate_matches_a_naive_rollout(tmp_path, capsys):
    config = write(tmp_path / "run.yaml", TINY)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", config, "--out", run, "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "evaluate", run, "--no-plots")
    assert code == 0 and "interpolation" in out
    metrics = json.loads((run / "metrics.json").read_text())
    cfg = read_run_config(run)
    data = load_dataset(run / "dataset.h5")
    test = split_dataset(cfg, data)["interpolation"]
    trained = load_trained(simulator_factory(cfg, build_system(cfg), data), run)
    h, steps = cfg.evaluation.horizon, cfg.evaluation.rollout_steps
    for i, seed in enumerate(trained.seeds):
        sim = trained.simulator_for(i)
        preds = []
        for u, p in zip(test.trajectories[:, 0], test.params):  # a plain Python loop
            u, frames = jnp.asarray(u), []
            for _ in range(steps):
                u = sim(u, jnp.asarray(p))
                frames.append(u)
            preds.append(jnp.stack(frames))
        expect = relative_error(jnp.stack(preds), test.trajectories[:, 1 : steps + 1], horizon=h)
        got = [r["value"] for r in metrics["rows"] if r["metric"] == "rel_error"
               and r["test_set"] == "interpolation" and r["seed"] == seed and r["horizon"] == h]
        np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-6)
        summary = metrics["summary"]["interpolation"]["rel_error"]["per_seed"][i]
        np.testing.assert_allclose(summary, np.mean(expect), rtol=1e-4)
    assert [r["m"] for r in metrics["gradient_alignment"]] == [1, 2]
    # Evaluation keys may change after training; the others may not.
    code, _, _ = run_cli(capsys, "evaluate", run, "--no-plots", "--set", "evaluation.rollout_steps=10",
                         "--set", "evaluation.horizon=10")
    again = json.loads((run / "metrics.json").read_text())
    assert code == 0 and again["horizon"] == 10 and again["evaluation"]["rollout_steps"] == 10
    assert max(r["horizon"] or 0 for r in again["rows"] if r["metric"] == "rel_error") == 10
    code, _, err = run_cli(capsys, "evaluate", run, "--set", "training.updates=3")
    assert code == 2 and "only evaluation.* keys" in err
    code, _, err = run_cli(capsys, "evaluate", run, "--set", "evaluation.rollout_steps=50")
    assert code == 2 and "evaluation.rollout_steps" in err and err.count("\n") == 1
    np.testing.assert_allclose(metrics["gradient_alignment"][0]["ratio"], 1.0, rtol=1e-5)


def _study(tmp_path, grid, **extra):
    base = write(tmp_path / "base.yaml", TINY)
    return write(tmp_path / "study.yaml", {"name": "tiny", "base": base.name, "grid": grid, **extra})


def test_study_resumes_where_it_stopped_and_matches_an_uninterrupted_one(tmp_path, capsys):
    study = _study(tmp_path, {"modality.name": ["ONE", "NOG"]})
    part, whole = tmp_path / "part", tmp_path / "whole"
    code, out, _ = run_cli(capsys, "study", study, "--out", part, "--max-cells", "1", "--quiet")
    assert code == 0 and "stopped after 1 cells" in out
    first_metrics = part / "runs" / "ONE" / "metrics.json"
    stamp = first_metrics.stat().st_mtime_ns
    # The second cell is interrupted in the middle of its training.
    from stablesim.studies import load_study

    _, _, cells = load_study(study)
    train_run(cells[1].config, part / "runs" / "NOG", stop_after=10, progress=False)
    code, out, _ = run_cli(capsys, "study", study, "--out", part, "--quiet")
    assert code == 0
    assert "[1/2] ONE: done earlier" in out and "NOG (modality.name=NOG): resuming" in out
    assert first_metrics.stat().st_mtime_ns == stamp  # finished cells are not redone
    assert run_cli(capsys, "study", study, "--out", whole, "--quiet")[0] == 0
    a = (part / "results.csv").read_text().splitlines()
    b = (whole / "results.csv").read_text().splitlines()
    assert a == b
    assert a[0] == "run,model,test_set,case,metric,horizon,value,seed,modality.name"
    rows = [r.split(",") for r in a[1:]]
    assert {r[0] for r in rows} == {"ONE", "NOG"} and {r[2] for r in rows} == \
        {"validation", "interpolation", "extrapolation"}
    assert {r[2] for r in rows if r[1] == "solver_alone"} == {"interpolation", "extrapolation"}
    assert {r[1] for r in rows} == {"learned", "solver_alone"}  # KS: the ETD1 solver alone
    assert all(r[7] == "" for r in rows if r[1] == "solver_alone")
    assert {r[4] for r in rows} >= {"rel_error", "mse", "correlation", "decorrelation_time",
                                    "divergence_step"}
    assert all(r[5] == "" for r in rows if r[4] in ("decorrelation_time", "divergence_step"))
    report = (whole / "report.md").read_text()
    assert "| ONE |" in report and "| 1.00 |" in report
    # Another grid into the same directory is refused; nothing there changes.
    other = _study(tmp_path, {"modality.name": ["ONE"]})
    code, _, err = run_cli(capsys, "study", other, "--out", whole)
    assert code == 2 and "different study" in err
    assert (whole / "results.csv").read_text().splitlines() == b


def test_report_rebuilds_from_files_with_plots_and_html(tmp_path, capsys):
    study = _study(tmp_path, {"simulator.setup": ["prediction", "correction"]},
                   config={"evaluation": {"plots": True}, "training": {"seeds": [0]}})
    out = tmp_path / "s"
    assert run_cli(capsys, "study", study, "--out", out, "--quiet")[0] == 0
    results = (out / "results.csv").read_text()
    for name in ("report.md", "report.html", "results.csv"):
        (out / name).unlink()
    code, stdout, _ = run_cli(capsys, "report", out)
    assert code == 0 and "report.html" in stdout
    assert (out / "results.csv").read_text() == results
    md = (out / "report.md").read_text()
    assert "## Correction against prediction" in md
    for png in ("error_vs_step", "correlation_vs_step", "rollouts", "training", "gradient_alignment"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 1000
        assert f"plots/{png}.png" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "<table>" in page
    assert (out / "runs" / "prediction" / "plots").exists()
    code, _, err = run_cli(capsys, "report", tmp_path)
    assert code == 2 and "not a study directory" in err


def test_users_own_data_file_prediction_and_bad_data(tmp_path, capsys):
    rng = np.random.default_rng(0)
    traj = np.cumsum(rng.normal(size=(6, 10, 1, 8)), axis=1).astype(np.float32) * 0.1
    params = np.repeat([[1.0], [2.0], [3.0]], 2, axis=0)
    np.savez(tmp_path / "mine.npz", trajectories=traj, params=params)
    cfg = json.loads(json.dumps(TINY))
    cfg["system"] = {"name": None}
    cfg["data"] = {"file": str(tmp_path / "mine.npz"), "train_values": [1.0, 3.0],
                   "interpolation_values": [2.0], "extrapolation_values": []}
    config = write(tmp_path / "mine.yaml", cfg)
    assert run_cli(capsys, "train", config, "--out", tmp_path / "run", "--quiet")[0] == 0
    assert run_cli(capsys, "evaluate", tmp_path / "run")[0] == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(metrics["summary"]) == ["interpolation"]
    traj[1, 3, 0, 2] = np.nan
    np.savez(tmp_path / "mine.npz", trajectories=traj, params=params)
    code, _, err = run_cli(capsys, "train", config, "--out", tmp_path / "run2")
    assert code == 2 and "non-finite" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "train", config, "--out", tmp_path / "run3", "--set",
                           "simulator.setup=correction")
    assert code == 2 and "simulator.setup" in err
    code, _, err = run_cli(capsys, "train", config, "--out", tmp_path / "run4", "--set",
                           f"data.file={tmp_path / 'gone.h5'}")
    assert code == 2 and "gone.h5" in err


class Affine(eqx.Module):
    a: jax.Array
    b: jax.Array

    def __call__(self, u, p):
        return self.a * u + self.b


def test_gradient_alignment_against_a_hand_derived_affine_map(x64):
    """u' = a u + b: NOG and WIG gradients by hand (sensitivities by forward recursion)."""
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(3, 5, 1, 1))
    a, b = 0.8, 0.3
    sim = Prediction(Affine(jnp.asarray(a), jnp.asarray(b)), residual=False)
    rows = gradient_alignment(sim, jnp.asarray(windows), jnp.zeros((3, 0)), unrolls=[1, 2, 4])
    for row in rows:
        m = row["m"]
        g_nog, g_wig = np.zeros(2), np.zeros(2)
        for w in windows[:, :, 0, 0]:
            u, du = w[0], np.zeros(2)  # du: d u_k / d(a, b) through time (WIG)
            for k in range(1, m + 1):
                du = np.array([u, 1.0]) + a * du
                prev, u = u, a * u + b
                r = 2 * (u - w[k]) / m / len(windows)  # d loss / d u_k
                g_nog += r * np.array([prev, 1.0])
                g_wig += r * du
        ratio = np.linalg.norm(g_wig) / np.linalg.norm(g_nog)
        cosine = g_wig @ g_nog / np.linalg.norm(g_wig) / np.linalg.norm(g_nog)
        np.testing.assert_allclose([row["ratio"], row["cosine"]], [ratio, cosine], rtol=1e-10)
    assert rows[0]["ratio"] == pytest.approx(1.0) and rows[2]["ratio"] > 1.0


def test_diagnose_a_linear_run_against_its_weights(tmp_path, capsys):
    """Linear data in a 3-dim invariant subspace of R^10, a linear model with He init."""
    q, traj = linear_subspace_data(tmp_path / "lin.npz")
    config = write(tmp_path / "lin.yaml", {
        "system": {"name": None},
        "data": {"file": str(tmp_path / "lin.npz"), "train_values": [1.0],
                 "interpolation_values": [2.0], "extrapolation_values": [],
                 "normalize": "off"},  # the oracles read the raw weights
        "model": {"architecture": "linear", "initializer": "he"},
        "simulator": {"setup": "prediction", "residual": False},
        "modality": {"name": "ONE", "unroll": 1},
        "training": {"updates": 300, "seeds": [0], "optimizer": "sgd", "momentum": 0.0,
                     "learning_rate": 0.05, "schedule": "constant", "log_every": 100,
                     "checkpoint_every": 300, "batch_size": 8},
        "evaluation": {"rollout_steps": 20, "horizon": 5, "gradient_unrolls": [], "plots": False},
    })
    run = tmp_path / "run"
    assert run_cli(capsys, "train", config, "--out", run, "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "diagnose", run)
    assert code == 0 and "unlearnable dimension 7" in out and "simulator.projection: true" in out
    figures = json.loads((run / "diagnose" / "diagnose.json").read_text())
    cfg = read_run_config(run)
    data = open_run_data(run, cfg)
    trained = load_trained(simulator_factory(cfg, None, data), run)
    w = np.asarray(trained.simulator_for(0).network.core.mlp.layers[0].weight)[:, :10]
    up = q[:, 3:]
    assert figures["rank"] == 3 and figures["unlearnable_dimension"] == 7
    np.testing.assert_allclose(figures["spectral_radius"], np.abs(np.linalg.eigvals(w)).max(),
                               rtol=1e-4)
    np.testing.assert_allclose(figures["normal_spectral_radius"],
                               np.abs(np.linalg.eigvals(up.T @ w @ up)).max(), rtol=1e-4)
    lam = np.linalg.svd(np.asarray(traj)[:6].reshape(-1, 10), compute_uv=False) ** 2 / 180
    horizon = figures["noise_horizon"]  # evaluation.horizon: the bias compounds over it
    assert horizon == 5
    np.testing.assert_allclose(figures["recommended_noise"],
                               np.sqrt(lam[2] * (0.95 ** (-1 / horizon) - 1)),
                               rtol=1e-4)
    # the untouched complement: the trained map on the empty directions is the He draw
    init = simulator_factory(cfg, None, data)(jax.random.key(0)).network.core.mlp.layers[0].weight
    np.testing.assert_allclose(w @ up, np.asarray(init)[:, :10] @ up, atol=1e-5)
    for name in ("diagnose.md", "diagnose.html", "energy.png", "eigenvalues.png", "growth.png"):
        assert (run / "diagnose" / name).exists()
    code, _, err = run_cli(capsys, "diagnose", run, "--offset", "0")
    assert code == 2 and "--offset" in err


def test_diagnose_a_field_run(tmp_path, capsys):
    config = write(tmp_path / "run.yaml", TINY)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", config, "--out", run, "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "diagnose", run, "--out", tmp_path / "diag", "--states", "2")
    assert code == 0 and "spectral radius" in out
    figures = json.loads((tmp_path / "diag" / "diagnose.json").read_text())
    assert figures["features"] == 48 and len(figures["unstable_eigenvalues_per_state"]) == 2
    assert "data:image/png;base64," in (tmp_path / "diag" / "diagnose.html").read_text()


def test_rollout_plots_for_one_and_two_dimensional_states(tmp_path):
    from stablesim.reporting import plot_rollouts

    rng = np.random.default_rng(0)
    for name, shape in (("line", (10, 1, 16)), ("plane", (10, 2, 8, 8))):
        ref = rng.normal(size=shape)
        pred = ref + 0.1 * rng.normal(size=shape)
        pred[-1] = np.nan  # a diverged last frame must not break the figure
        path = plot_rollouts([("reference", ref), ("model", pred)], tmp_path / f"{name}.png")
        assert path.stat().st_size > 2000
