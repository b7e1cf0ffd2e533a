"""A researcher's own problem: their data, their NumPy solver, from another folder.

Data come from the example's own pseudo-spectral Burgers code
(`examples/own_solver/make_data.py`), the coarse solver is the example's
upwind NumPy code; every command runs through the CLI from a working directory
that is not the one holding the files.
"""

import importlib.util
import json
import pathlib
import shutil
import stat

import h5py
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from stablesim.cli import main
from stablesim.evaluation import relative_error_curve

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "own_solver"
SMALL = {"model": {"architecture": "conv", "width": 4, "depth": 1},
         "training": {"updates": 10, "seeds": [0, 1], "batch_size": 4, "log_every": 5,
                      "checkpoint_every": 5},
         "evaluation": {"rollout_steps": 12, "horizon": 6, "plots": False}}


def _module(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("stablesim: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def _merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The user's folder (data, solver, configs) and a different working directory."""
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder)
    _module(folder / "make_data.py").main(["--out", str(folder), "--per-value", "1",
                                           "--frames", "16"])
    for name in ("prediction.yaml", "correction.yaml"):
        raw = yaml.safe_load((folder / name).read_text())
        (folder / name).write_text(yaml.safe_dump(_merge(raw, SMALL)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


def _naive_solver_rollout(solver, initial, params, steps):
    """The user's solver stepped in a plain Python loop, one state at a time."""
    out = []
    for u, p in zip(initial, params):
        frames = []
        for _ in range(steps):
            u = solver(u, p)
            frames.append(u)
        out.append(np.stack(frames))
    return np.stack(out)


def test_solver_alone_rows_match_a_naive_loop_and_the_report_says_when_a_correction_is_worse(
        project, capsys):
    code, out, _ = run_cli(capsys, "train", project / "correction.yaml", "--out", "corr",
                           "--quiet", "--set", "model.initializer=default")
    assert code == 0, out
    code, out, _ = run_cli(capsys, "evaluate", "corr", "--quiet")
    assert code == 0 and "solver alone" in out
    metrics = json.loads(pathlib.Path("corr/metrics.json").read_text())
    base = metrics["baseline"]
    assert base["solver"] == "mysolver.py:step_batch"
    # Oracle: the user's solver in a Python loop on the interpolation test states.
    with h5py.File(project / "burgers.h5") as f:
        traj, params = f["trajectories"][()], f["params"][()]
    test = np.isclose(params[:, 0], 0.04)
    solver = _module(project / "mysolver.py").step
    steps, h = 12, 6
    alone = _naive_solver_rollout(solver, traj[test, 0], params[test], steps)
    expect = np.asarray(relative_error_curve(jnp.asarray(alone),
                                             jnp.asarray(traj[test, 1:steps + 1])))[:, h - 1]
    got = [r["value"] for r in metrics["rows"] if r["model"] == "solver_alone"
           and r["metric"] == "rel_error" and r["test_set"] == "interpolation"
           and r["horizon"] == h]
    np.testing.assert_allclose(got, expect, rtol=1e-4)
    learned = metrics["summary"]["interpolation"]["rel_error"]["mean"]
    assert learned > base["summary"]["interpolation"]["rel_error"]["mean"]  # random net spoils it
    assert "worse than the solver alone" in out
    # In a study report: the solver-alone row, a `vs solver` column and the verdict in words.
    study = project / "small_study.yaml"
    study.write_text(yaml.safe_dump({"name": "s", "base": "correction.yaml",
                                     "config": {"model": {"initializer": "default"}},
                                     "grid": {"simulator.setup": ["prediction", "correction"]}}))
    code, out, _ = run_cli(capsys, "study", study, "--out", "study", "--quiet")
    assert code == 0, out
    report = pathlib.Path("study/report.md").read_text()
    assert "| solver alone (mysolver.py:step_batch) |" in report and "vs solver" in report
    assert "is worse than the solver it corrects" in report
    assert report.index("Against the solver alone") < report.index("Headline")
    header = pathlib.Path("study/results.csv").read_text().splitlines()[0]
    assert header.startswith("run,model,test_set,case,metric,horizon,value,seed")
    assert ",solver_alone," in pathlib.Path("study/results.csv").read_text()


def test_built_in_ks_solver_alone_diverges_and_the_report_says_correction_is_essential(
        tmp_path, capsys):
    from _tiny import TINY

    cfg = _merge(TINY, {"data": {"frames": 30}, "evaluation": {"rollout_steps": 24, "horizon": 4},
                        "simulator": {"setup": "correction"}, "training": {"updates": 5}})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({"name": "ks", "base": "run.yaml",
                                     "grid": {"modality.name": ["ONE"]}}))
    assert run_cli(capsys, "study", study, "--out", tmp_path / "s", "--quiet")[0] == 0
    metrics = json.loads((tmp_path / "s/runs/ONE/metrics.json").read_text())
    base = metrics["baseline"]["summary"]["interpolation"]["divergences"]
    assert base["total"] == base["per_seed"][0] > 0 and base["first_step"] <= 24
    report = (tmp_path / "s/report.md").read_text()
    assert "diverges in" in report and "correction is essential" in report


def test_solver_specs_resolve_against_the_config_file_and_work_from_any_folder(
        project, capsys, tmp_path, monkeypatch):
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    raw["simulator"].update(solver_function="mysolver:step", solver_batched=False)
    (project / "module_form.yaml").write_text(yaml.safe_dump(raw))
    sub = project / "solvers"
    sub.mkdir()
    shutil.copy(project / "mysolver.py", sub / "coarse.py")
    raw["simulator"].update(solver_function="./solvers/coarse.py:step")
    (project / "file_form.yaml").write_text(yaml.safe_dump(raw))
    for name in ("module_form", "file_form"):
        code, out, err = run_cli(capsys, "train", project / f"{name}.yaml", "--out", name,
                                 "--quiet", "--set", "training.updates=5")
        assert code == 0, err
        stored = yaml.safe_load(pathlib.Path(name, "config.yaml").read_text())
        spec = stored["simulator"]["solver_function"]
        assert pathlib.Path(spec.rsplit(":", 1)[0]).is_absolute() and spec.endswith(":step")
        assert pathlib.Path(stored["data"]["file"]).is_absolute()
    # Evaluate and diagnose from yet another folder.
    other = tmp_path / "third"
    other.mkdir()
    monkeypatch.chdir(other)
    for name in ("module_form", "file_form"):
        run = tmp_path / "elsewhere" / name
        assert run_cli(capsys, "evaluate", run, "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "diagnose", tmp_path / "elsewhere" / "file_form", "--quiet",
                           "--horizon", "100")
    assert code == 0 and "finite differences" in out
    # A missing module names the remedy.
    raw["simulator"].update(solver_function="nosuchsolver:step")
    (project / "missing.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "train", project / "missing.yaml", "--out", "missing")
    one_line_error(code, err, "nosuchsolver", "next to the config file")
    assert not pathlib.Path("missing").exists()


BAD_SOLVERS = {
    "raises": ("def step(u, p):\n    raise RuntimeError('grid too coarse')\n",
               "raised RuntimeError: grid too coarse"),
    "shape": ("def step(u, p):\n    return u[..., ::2]\n", "returned shape (1, 32)"),
    "none": ("def step(u, p):\n    u + 1\n", "returned None"),
    "nan": ("import numpy as np\ndef step(u, p):\n    return u * np.nan\n", "non-finite"),
    "syntax": ("def step(u, p)\n    return u\n", "SyntaxError"),
}


@pytest.mark.parametrize("kind", list(BAD_SOLVERS))
def test_a_bad_user_solver_stops_before_anything_is_trained(project, capsys, kind):
    source, message = BAD_SOLVERS[kind]
    (project / "bad.py").write_text(source)
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    raw["simulator"].update(solver_function="bad.py:step", solver_batched=False)
    (project / "bad.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "train", project / "bad.yaml", "--out", "bad")
    one_line_error(code, err, message)
    assert "bad.py" in err and not pathlib.Path("bad").exists()
    # In a study, before the first cell (here a prediction cell) trains.
    (project / "bad_study.yaml").write_text(yaml.safe_dump(
        {"base": "bad.yaml", "grid": {"simulator.setup": ["prediction", "correction"]}}))
    code, _, err = run_cli(capsys, "study", project / "bad_study.yaml", "--out", "bad_study")
    one_line_error(code, err, message)
    assert not pathlib.Path("bad_study/runs").exists()


def test_a_solver_that_fails_during_training_ends_in_one_line_naming_it(project, capsys):
    (project / "flaky.py").write_text(
        "import numpy as np\ncalls = [0]\n"
        "def step(u, p):\n    calls[0] += 1\n"
        "    return u * np.nan if calls[0] > 40 else u\n")
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    # Python-side state (the call counter) is NumPy's way: traced as JAX it would run once
    raw["simulator"].update(solver_function="flaky.py:step", solver_batched=False,
                            solver_kind="numpy")
    raw["training"].update(updates=50, log_every=5, checkpoint_every=5)
    (project / "flaky.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "train", project / "flaky.yaml", "--out", "flaky", "--quiet")
    one_line_error(code, err, "solver flaky.py:step returned non-finite values")
    assert "learning rate" not in err


def test_batched_and_per_state_solvers_give_the_same_rollouts(project, capsys):
    from stablesim.evaluation import rollout_batch as rollout_batch_of
    from stablesim.simulators import SolverAlone, external_solver

    solver = _module(project / "mysolver.py")
    with h5py.File(project / "burgers.h5") as f:
        u0, p = jnp.asarray(f["trajectories"][:3, 0]), jnp.asarray(f["params"][:3])
    per_state = rollout_batch_of(SolverAlone(external_solver(solver.step)), u0, p, 5)
    batched = rollout_batch_of(SolverAlone(external_solver(solver.step_batch, vectorized=True)),
                               u0, p, 5)
    naive = _naive_solver_rollout(solver.step, np.asarray(u0), np.asarray(p), 5)
    np.testing.assert_allclose(per_state, naive, rtol=1e-6)
    np.testing.assert_allclose(batched, naive, rtol=1e-6)


def test_rollout_from_own_initial_states_matches_a_naive_loop(project, capsys):
    assert run_cli(capsys, "train", project / "correction.yaml", "--out", "corr", "--quiet")[0] == 0
    code, out, _ = run_cli(capsys, "rollout", "corr", "--initial", project / "initial.h5",
                           "--rollout-steps", "7", "--out", "mine.h5", "--with-solver")
    assert code == 0 and "mine_solver_alone.h5" in out
    from stablesim.data import load_dataset
    from stablesim.runs import Run
    from stablesim.training import load_trained

    got, alone = load_dataset("mine.h5"), load_dataset("mine_solver_alone.h5")
    start = load_dataset(project / "initial.h5")
    assert got.trajectories.shape == (2, 8, 1, 64)
    np.testing.assert_array_equal(got.trajectories[:, 0], start.trajectories[:, 0])
    sim = load_trained(Run("corr").make, "corr").simulator_for(0)
    for b in range(2):
        u = jnp.asarray(start.trajectories[b, 0])
        for t in range(7):
            u = sim(u, jnp.asarray(start.params[b]))
            np.testing.assert_allclose(got.trajectories[b, t + 1], u, rtol=1e-4, atol=1e-6)
    naive = _naive_solver_rollout(_module(project / "mysolver.py").step,
                                  start.trajectories[:, 0], start.params, 7)
    np.testing.assert_allclose(alone.trajectories[:, 1:], naive, rtol=1e-5, atol=1e-7)
    # A file of initial states, one frame per trajectory, gives the same rollout.
    with h5py.File("one_frame.h5", "w") as f:
        f["trajectories"], f["params"] = start.trajectories[:, :1], start.params
    code, _, err = run_cli(capsys, "rollout", "corr", "--initial", "one_frame.h5",
                           "--rollout-steps", "7", "--out", "again.h5")
    assert code == 0, err
    np.testing.assert_array_equal(load_dataset("again.h5").trajectories, got.trajectories)
    code, _, err = run_cli(capsys, "rollout", "corr", "--initial", project / "initial.h5",
                           "--rollout-steps", "3", "--out", "x.h5", "--params", "0.1", "0.2")
    one_line_error(code, err, "2 parameters per trajectory")


def test_data_checks_name_the_key_before_anything_runs(project, capsys):
    # Unroll and rollout against the file's 16 frames: at validation, naming the key.
    code, _, err = run_cli(capsys, "config", "show", project / "correction.yaml",
                           "--set", "modality.unroll=20")
    one_line_error(code, err, "modality.unroll", "16 frames")
    code, _, err = run_cli(capsys, "train", project / "correction.yaml", "--out", "r",
                           "--set", "evaluation.rollout_steps=30")
    one_line_error(code, err, "evaluation.rollout_steps")
    assert not pathlib.Path("r").exists()
    # A typo in --set is blamed on --set, with a suggestion; a typo in the file on the file.
    code, _, err = run_cli(capsys, "config", "show", project / "correction.yaml",
                           "--set", "training.stpes=3")
    one_line_error(code, err, "--set training.stpes", "did you mean training.updates?")
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    raw["modality"]["unrol"] = 3
    (project / "typo.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "config", "show", project / "typo.yaml")
    one_line_error(code, err, "typo.yaml", "did you mean modality.unroll?")
    # Two parameters: the split column must be named; then it is used.
    with h5py.File(project / "burgers.h5") as f:
        traj, params = f["trajectories"][()], f["params"][()]
    two = np.concatenate([params, np.arange(len(params), dtype=np.float32)[:, None]], axis=1)
    with h5py.File(project / "two.h5", "w") as f:
        f["trajectories"], f["params"] = traj, two
        f.attrs["parameter_names"] = np.array(["nu", "case"], dtype="S")
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    raw["data"]["file"] = "two.h5"
    (project / "two.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "config", "show", project / "two.yaml")
    one_line_error(code, err, "data.split_parameter", "nu, case")
    code, out, err = run_cli(capsys, "train", project / "two.yaml", "--out", "two", "--quiet",
                             "--set", "data.split_parameter=nu", "--set", "training.updates=5")
    assert code == 0, err


def test_damaged_files_end_in_one_line(project, capsys, tmp_path):
    np.savez(tmp_path / "good.npz", trajectories=np.ones((2, 5, 1, 8), np.float32))
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npz").write_text("time,u\n0,1\n")
    code, _, err = run_cli(capsys, "data", "info", tmp_path / "cut.npz")
    one_line_error(code, err, "damaged or truncated")
    code, _, err = run_cli(capsys, "data", "info", tmp_path / "text.npz")
    one_line_error(code, err, "not a NumPy .npz archive")
    assert "allow_pickle" not in err
    # A checkpoint cut short: resume refuses it and names the one before it.
    assert run_cli(capsys, "train", project / "correction.yaml", "--out", "run", "--quiet")[0] == 0
    ckpt = pathlib.Path("run/checkpoint.eqx")
    whole = ckpt.read_bytes()
    ckpt.write_bytes(whole[:-100])
    code, _, err = run_cli(capsys, "train", "--resume", "run")
    one_line_error(code, err, "damaged checkpoint", "truncated", "checkpoint.eqx.prev")
    code, _, err = run_cli(capsys, "evaluate", "run")
    one_line_error(code, err, "damaged checkpoint")
    # Flipped payload bytes fail the checksum; the kept previous one restores the run.
    ckpt.write_bytes(whole[:-10] + bytes(10))
    code, _, err = run_cli(capsys, "evaluate", "run")
    one_line_error(code, err, "checksum mismatch")
    shutil.copy("run/checkpoint.eqx.prev", ckpt)
    code, out, _ = run_cli(capsys, "train", "--resume", "run", "--quiet")
    assert code == 0 and "resuming run at update 5" in out


def test_states_without_a_channel_axis_get_the_right_hint(project, capsys):
    with h5py.File(project / "burgers.h5") as f:
        traj, params = f["trajectories"][:, :, 0], f["params"][()]
    with h5py.File(project / "flat.h5", "w") as f:
        f["trajectories"], f["params"] = traj, params
    code, out, _ = run_cli(capsys, "data", "info", project / "flat.h5")
    assert code == 0 and "add a channel axis" in out
    raw = yaml.safe_load((project / "correction.yaml").read_text())
    raw["data"]["file"] = "flat.h5"
    (project / "flat.yaml").write_text(yaml.safe_dump(raw))
    code, _, err = run_cli(capsys, "train", project / "flat.yaml", "--out", "flat")
    one_line_error(code, err, "lack the channel axis", "trajectories[:, :, None]")
    assert not pathlib.Path("flat").exists()


def test_output_files_follow_the_umask(project, capsys):
    import os

    old = os.umask(0o022)
    try:
        assert run_cli(capsys, "train", project / "correction.yaml", "--out", "run",
                       "--quiet")[0] == 0
        assert run_cli(capsys, "evaluate", "run", "--quiet", "--set",
                       "evaluation.plots=true")[0] == 0
    finally:
        os.umask(old)
    files = ["config.yaml", "data_source.json", "checkpoint.eqx", "train_log.csv", "metrics.json",
             "rollout_example.npz"]
    for name in files:
        mode = stat.S_IMODE(pathlib.Path("run", name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_checkpoints_the_current_update_and_resume_continues_exactly(
        tmp_path, signame):
    """Checkpoints every 100000 updates: the only one written is the signal's."""
    import signal
    import subprocess
    import sys
    import time

    from stablesim.training import read_checkpoint_header

    from _tiny import TINY

    cfg = _merge(TINY, {"training": {"updates": 100000, "log_every": 10,
                                     "checkpoint_every": 100000}})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "stablesim.cli", "train",
                             str(tmp_path / "run.yaml"), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "config.yaml").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(6)  # compiled and training
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    step = read_checkpoint_header(run / "checkpoint.eqx")["step"]
    assert 0 < step < 100000 and step % 10 == 0
    last = err.strip().splitlines()[-1]
    assert f"checkpoint written at update {step} of 100000 in {run}" in last
    assert f"stablesim train --resume {run}" in last and "Traceback" not in err
    assert "compiling" in err  # said before the first update
    # Resume a few updates further; an uninterrupted run to the same update is identical.
    code = main(["train", "--resume", str(run), "--stop-after", str(step + 10), "--quiet"])
    assert code == 0
    whole = tmp_path / "whole"
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(whole), "--stop-after",
                 str(step + 10), "--quiet"]) == 0
    assert (run / "checkpoint.eqx").read_bytes() == (whole / "checkpoint.eqx").read_bytes()


def test_help_and_config_show_do_not_import_jax(tmp_path):
    import os
    import subprocess
    import sys

    probe = ("import sys, contextlib, io\n"
             "from stablesim.cli import main\n"
             "for argv in (['config', 'show'], ['config', 'show', '--study'], ['run', '--list']):\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n"
             "        assert main(argv) == 0\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('jax', 'equinox', 'matplotlib', 'h5py') if m in sys.modules]\n"
             "print('HEAVY', heavy)\n")
    # As a user runs it: the compilation cache is the CLI's own, not the test suite's.
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, check=True, env=env).stdout
    assert "HEAVY []" in out, out


def test_option_names_without_jax_match_the_implementations():
    from stablesim import _options
    from stablesim.models import INITIALIZERS
    from stablesim.models._networks import Architecture
    from stablesim.ode import INTEGRATORS
    from stablesim.systems import SYSTEMS

    assert tuple(INTEGRATORS) == _options.INTEGRATOR_NAMES
    assert tuple(INITIALIZERS) == _options.INITIALIZERS
    assert Architecture.__args__ == _options.ARCHITECTURES
    assert tuple(SYSTEMS) == _options.SYSTEM_NAMES
    for name, cls in SYSTEMS.items():
        facts = _options.SYSTEMS[name]
        system = cls()
        assert (type(system).__name__, system.parameter_names[0], *system.parameter_range,
                system.train_values, system.interpolation_values, system.extrapolation_values,
                system.validation_values) == \
            tuple(facts)


def test_the_example_end_to_end_through_the_cli_from_another_folder(project, capsys):
    """examples/own_solver as its README runs it: every command, none from its folder."""
    short = ["--quiet", "--set", "training.updates=10"]
    for name in ("prediction", "correction"):
        code, out, err = run_cli(capsys, "train", project / f"{name}.yaml", "--out", name, *short)
        assert code == 0, err
        code, out, err = run_cli(capsys, "evaluate", name)
        assert code == 0, err
        assert "solver alone" in out and "mysolver.py:step_batch" in out
        assert "rolling out the solver alone" in out  # progress lines
    code, out, err = run_cli(capsys, "diagnose", "correction")
    assert code == 0 and "finite differences" in out and "- " in out, err
    assert "Jacobian spectra" in out  # progress
    # Every seed's radius; by default the seed with the largest one is analysed.
    figures = json.loads(pathlib.Path("correction/diagnose/diagnose.json").read_text())
    radii = figures["spectral_radius_per_seed"]
    seeds = yaml.safe_load(pathlib.Path("correction/config.yaml").read_text())["training"]["seeds"]
    assert list(radii) == [str(s) for s in seeds] and len(seeds) >= 2
    assert figures["spectral_radius"] == max(radii.values())
    assert str(figures["seed"]) == max(radii, key=radii.get)
    assert "largest spectral radius" in figures["seed_choice"]
    raw = yaml.safe_load((project / "study.yaml").read_text())
    raw["config"] = SMALL
    (project / "study.yaml").write_text(yaml.safe_dump(raw))
    code, out, err = run_cli(capsys, "study", project / "study.yaml", "--out", "study", *short)
    assert code == 0, err
    report = pathlib.Path("study/report.md").read_text()
    assert report.count("| prediction |") == 2 and report.count("| correction |") == 2
    assert "solver alone (mysolver.py:step_batch)" in report
    code, out, err = run_cli(capsys, "rollout", "correction", "--initial",
                             project / "initial.h5", "--rollout-steps", "5", "--out", "mine.h5",
                             "--with-solver")
    assert code == 0 and pathlib.Path("mine.h5").exists(), err
    assert pathlib.Path("mine_solver_alone.h5").exists()
    assert not list(project.glob("**/metrics.json"))  # nothing written into the user's folder


def test_readme_and_report_state_the_same_divergence_rule():
    from stablesim.evaluation import DIVERGENCE_RULE

    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    flat = " ".join(readme.split())
    assert DIVERGENCE_RULE.format(margin="`evaluation.divergence_margin` (1)") in flat


def test_a_zero_initialized_network_is_not_stopped_by_the_explosion_detector(project, capsys):
    """Its first gradient norm is ~1e-10; a running mean then flagged every later update
    as exploding (this run stopped at update 30 with '20 updates in a row skipped')."""
    code, out, err = run_cli(capsys, "train", project / "prediction.yaml", "--out", "zeros",
                             "--quiet", "--set", "model.initializer=zeros",
                             "--set", "training.updates=80", "--set", "training.seeds=[1]")
    assert code == 0, err
    import csv

    rows = list(csv.DictReader(open("zeros/train_log.csv")))
    assert int(rows[-1]["skipped"]) <= 2 and float(rows[0]["grad_norm"]) < 1e-2


def test_own_data_without_a_parameter_split_by_held_out_trajectories(tmp_path, capsys,
                                                                     monkeypatch):
    """A file with trajectories only: the last N are the test set, the network gets no
    parameter input, and the mixed or impossible splits end in one line naming the key."""
    rng = np.random.default_rng(0)
    rotation = np.array([[np.cos(0.2), -np.sin(0.2)], [np.sin(0.2), np.cos(0.2)]]) * 0.99
    traj = np.zeros((10, 30, 2), np.float32)
    traj[:, 0] = rng.normal(size=(10, 2))
    for t in range(1, 30):
        traj[:, t] = traj[:, t - 1] @ rotation.T
    data_dir, work = tmp_path / "data", tmp_path / "work"
    data_dir.mkdir()
    work.mkdir()
    np.savez(data_dir / "mine.npz", trajectories=traj)  # no params at all
    cfg = {"system": {"name": None}, "data": {"file": "mine.npz", "test_trajectories": 3},
           "model": {"architecture": "mlp", "width": 8, "depth": 1},
           "modality": {"name": "ONE", "unroll": 1},
           "training": {"updates": 20, "seeds": [0], "log_every": 10, "checkpoint_every": 10},
           "evaluation": {"rollout_steps": 20, "horizon": 5, "plots": False,
                          "stability_steps": 500}}
    (data_dir / "run.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(work)
    code, out, err = run_cli(capsys, "train", data_dir / "run.yaml", "--out", "r", "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", "r", "--quiet")
    assert code == 0, err
    metrics = json.loads((work / "r" / "metrics.json").read_text())
    assert list(metrics["summary"]) == ["interpolation"]
    assert metrics["summary"]["interpolation"]["cases"] == 3
    assert "long_divergences" in metrics["summary"]["interpolation"]
    from stablesim.runs import open_run_data, read_run_config, split_dataset

    config = read_run_config(work / "r")
    parts = split_dataset(config, open_run_data(work / "r", config))
    np.testing.assert_array_equal(parts["train"].trajectories, traj[:7])
    np.testing.assert_array_equal(parts["interpolation"].trajectories, traj[7:])
    assert parts["train"].params.shape == (7, 0)  # nothing meaningless becomes an input
    # Mixed splits and holding out everything are refused before anything runs.
    code, _, err = run_cli(capsys, "train", data_dir / "run.yaml", "--out", "x", "--quiet",
                           "--set", "data.train_values=[1.0]")
    assert code == 2 and err.count("\n") == 1 and "data.test_trajectories" in err
    code, _, err = run_cli(capsys, "train", data_dir / "run.yaml", "--out", "y", "--quiet",
                           "--set", "data.test_trajectories=10")
    assert code == 2 and "would leave none to train on" in err
    assert not (work / "x").exists() and not (work / "y").exists()
