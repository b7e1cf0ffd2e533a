"""The command line: data commands, the main job, one-line errors."""

import os

import numpy as np
import pytest
import yaml

from stablesim.cli import main
from stablesim.data import load_dataset


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_generate_and_info(tmp_path, capsys):
    path = tmp_path / "ks.h5"
    code, out, _ = run_cli(capsys, "data", "generate", "ks", "--out", str(path), "--values", "8",
                           "9.6", "--per-value", "1", "--frames", "5", "--transient", "10")
    assert code == 0 and path.exists()
    data = load_dataset(path)
    assert data.trajectories.shape == (2, 5, 1, 48)
    np.testing.assert_allclose(sorted(data.params[:, 0]), [8.0, 9.6])
    code, out, _ = run_cli(capsys, "data", "info", str(path))
    assert code == 0 and "parameter ds: [8.0, 9.6]" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "info", "missing.h5"], "no such file"),
        (["data", "generate", "ks", "--out", "x.h5", "--values", "30"], "outside the supported"),
        (["data", "generate", "ks", "--out", "x.h5", "--frames", "0"], "--frames must be >= 1"),
        (["run", "--max-cells", "0"], "--max-cells must be >= 1"),
        (["run", "--set", "training.updates=-3"], "training.updates"),
        (["run", "ks-nope"], "no built-in study 'ks-nope'; choose from ks, ks-scratch"),
        (["run", "ks-scratch", "--set", "fine_tune.updates=5"], "has no fine_tune section"),
        (["run", "--set", "fine_tune.updates=0"], "fine_tune.updates"),
        (["train", "--stop-after", "0", "--out", "r"], "--stop-after must be >= 1"),
        (["train"], "train needs --out RUN"),
        (["evaluate", "nowhere"], "not a run directory"),
        (["ode", "check", "--steps", "0"], "--steps must be >= 1"),
        (["ode", "check", "--steps", "2"], "--steps must be >= 4"),
        (["ode", "check", "--t1", "-1"], "--t1 must be > 0"),
        (["ode", "transfer", "--out", "o", "--tolerance", "1.1"], "--tolerance and --plateau"),
        (["ode", "transfer", "--out", "o", "--plateau-window", "0"], "--plateau-window"),
    ],
)
def test_user_mistakes_end_in_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("stablesim: error:") and message in err
    assert "Traceback" not in err


def test_main_job_runs_end_to_end_in_small(tmp_path, capsys):
    out = tmp_path / "run"
    small = ["training.updates=20", "training.seeds=[0,1]", "training.log_every=10",
             "training.checkpoint_every=10", "data.trajectories_per_value=1", "data.transient=20",
             "data.frames=14", "model.architecture=conv", "model.width=4", "model.depth=1",
             "evaluation.rollout_steps=12", "evaluation.horizon=2", "evaluation.gradient_unrolls=[]",
             "evaluation.plots=false", "fine_tune.updates=10"]
    argv = ["run", "--out", str(out), "--quiet"]
    for item in small:
        argv += ["--set", item]
    code, stdout, _ = run_cli(capsys, *argv)
    assert code == 0 and "report.html" in stdout
    assert stdout.startswith("built-in study ks: ")
    assert "correction-NOG (simulator.setup=correction, modality.name=NOG): training, " \
        "fine-tuning correction-ONE" in stdout
    report = (out / "report.md").read_text()
    first = report.split("\n\n")[1]  # the paragraph under the title: the paper's findings
    assert first.startswith("**Findings of the unrolling paper (fine-tuning regime, against ONE "
                            "continued for the same updates):** of 8 findings, ")
    assert "after its 20 updates, and train 10 more: 30 updates in total" in report
    for setup in ("prediction", "correction"):
        for modality in ("ONE", "NOG", "WIG"):
            assert f"| {setup} | {modality} |" in report
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header == ["run", "model", "test_set", "case", "metric", "horizon", "value", "seed",
                      "simulator.setup", "modality.name"]
    assert (out / "runs" / "correction-NOG" / "checkpoint.eqx").exists()
    recorded = yaml.safe_load((out / "runs" / "correction-NOG" / "config.yaml").read_text())
    assert recorded["model"]["init_from"] == str((out / "runs" / "correction-ONE").resolve())
    assert "Regime: **fine-tuning**" in report and "against the start cells' 20" in report
    assert "Matched control: each start cell is also continued" in report
    assert "| prediction | ONE (continued) |" in report and "Correction gain" in report
    assert "reproduces" not in report and "only 2 seeds" in report
    _findings_recompute_from_results(out)
    assert "findings (" in stdout and " hold, " in stdout  # the verdicts on the terminal


def _findings_recompute_from_results(out):
    """A reader's check: every paired ratio of findings.csv from results.csv alone."""
    import csv

    import numpy as np
    from scipy import stats

    results = list(csv.DictReader(open(out / "results.csv")))
    per_start = [r for r in results if r["metric"] == "rel_error" and r["horizon"] == "2"
                 and r["model"] == "learned"]
    assert {r["test_set"] for r in per_start} == {"validation", "interpolation", "extrapolation"}
    assert len([r for r in per_start if r["run"] == "correction-NOG"
                and r["test_set"] == "interpolation"]) == 2 * 2  # seeds x starts

    def errors(run, test_set):
        rows = [r for r in per_start if r["run"] == run and r["test_set"] == test_set]
        table = {(int(r["seed"]), int(r["case"])): float(r["value"]) for r in rows}
        return np.array([table[k] for k in sorted(table)])

    findings = list(csv.DictReader(open(out / "findings.csv")))
    claims = {f["finding"] for f in findings}
    assert len(claims) == 8
    for f in findings:
        if f["finding"] == "WIG beats ONE in prediction":
            assert f["denominator"] == "prediction-ONE-continued"
        if f["test_set"] not in ("interpolation", "extrapolation"):
            continue
        num, den = errors(f["numerator"], f["test_set"]), errors(f["denominator"], f["test_set"])
        assert float(f["ratio"]) == pytest.approx(num.mean() / den.mean(), rel=1e-9)
        if np.ptp(num / den) == 0:
            continue  # one ratio in every resample: the interval is that ratio
        mine = stats.bootstrap((num, den), lambda x, y, axis=-1: x.mean(axis) / y.mean(axis),
                               paired=True, vectorized=True, n_resamples=9999,
                               rng=np.random.default_rng(1)).confidence_interval
        width = float(f["high"]) - float(f["low"])
        assert abs(mine.low - float(f["low"])) <= 0.1 * width + 1e-9
        assert abs(mine.high - float(f["high"])) <= 0.1 * width + 1e-9


def test_the_command_keeps_compiled_programs_in_the_users_cache(tmp_path, monkeypatch):
    import jax

    from stablesim.cli import _use_compilation_cache

    before = (jax.config.jax_compilation_cache_dir,
              jax.config.jax_persistent_cache_min_compile_time_secs)
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)  # restored afterwards
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        monkeypatch.setenv("STABLESIM_XLA_CACHE", "off")
        _use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == before[0]
        monkeypatch.delenv("STABLESIM_XLA_CACHE")
        monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
        _use_compilation_cache()  # flags outside the cache key: no cache
        assert jax.config.jax_compilation_cache_dir == before[0]
        monkeypatch.delenv("XLA_FLAGS")
        blocked = tmp_path / "file"
        blocked.write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # not a folder: skipped
        _use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == before[0]
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        _use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache" / "stablesim" / "xla")
        assert os.environ["JAX_COMPILATION_CACHE_DIR"] == jax.config.jax_compilation_cache_dir
        assert (tmp_path / "cache" / "stablesim" / "xla").is_dir()
    finally:
        jax.config.update("jax_compilation_cache_dir", before[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def test_run_lists_the_built_in_studies_with_their_expected_time(capsys):
    from stablesim.studies import BUILTIN_STUDIES

    code, out, _ = run_cli(capsys, "run", "--list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(BUILTIN_STUDIES)
    for line, (name, study) in zip(lines, BUILTIN_STUDIES.items()):
        assert line.startswith(name) and study.expected_time() in line
    assert "(default)" in lines[0] and lines[0].startswith("ks ")
    for study in BUILTIN_STUDIES.values():
        study.config()  # every built-in study is a valid study


@pytest.mark.parametrize("env, message", [
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1"}, "JAX_NUM_PROCESSES, JAX_PROCESS_ID is not"),
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1", "JAX_NUM_PROCESSES": "2",
      "JAX_PROCESS_ID": "2"}, "JAX_PROCESS_ID must lie in 0 .. 1"),
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1", "JAX_NUM_PROCESSES": "two",
      "JAX_PROCESS_ID": "0"}, "must be integers"),
])
def test_a_malformed_multi_process_start_is_one_line(tmp_path, capsys, monkeypatch, env, message):
    monkeypatch.chdir(tmp_path)
    for name in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = run_cli(capsys, "train", "--out", "r")
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists()
