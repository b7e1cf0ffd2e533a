"""The command line: data commands, the main job, one-line errors."""

import numpy as np
import pytest

from stablesim.cli import main
from stablesim.data import load_dataset


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_generate_and_info(tmp_path, capsys):
    path = tmp_path / "ks.h5"
    code, out, _ = run_cli(capsys, "data", "generate", "ks", "--out", str(path), "--values", "8",
                           "9.6", "--per-value", "1", "--frames", "5", "--warmup", "10")
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
        (["run", "--updates", "0"], "--updates must be >= 1"),
        (["ode", "check", "--steps", "0"], "--steps must be >= 1"),
        (["ode", "check", "--steps", "2"], "--steps must be >= 4"),
        (["ode", "check", "--t1", "-1"], "--t1 must be > 0"),
        (["ode", "example", "--layers", "1"], "--layers must all be >= 2"),
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
    code, stdout, _ = run_cli(capsys, "run", "--out", str(out), "--updates", "20", "--unroll",
                              "2", "--seeds", "0", "--quiet")
    assert code == 0
    report = (out / "report.md").read_text()
    for setup in ("prediction", "correction"):
        for modality in ("ONE", "NOG", "WIG"):
            assert f"| {setup} | {modality} |" in report
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["run", "test_set", "case", "metric", "horizon", "value"]
    assert (out / "runs" / "correction-NOG" / "checkpoint.eqx").exists()


def test_ode_check_table_and_files(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "ode", "check", "--method", "leapfrog", "ralston",
                           "nystrom3", "--steps", "16", "--out", str(tmp_path))
    assert code == 0
    rows = {tuple(line.split()[:3]): line.split() for line in out.splitlines()
            if line.split()[:1] in (["leapfrog"], ["ralston"], ["nystrom3"])}
    raw = float(rows[("leapfrog", "per_step", "autodiff")][3])
    fixed = float(rows[("leapfrog", "per_step", "corrected")][3])
    assert raw > 1.0 and fixed < 0.3
    assert float(rows[("ralston", "per_stage", "autodiff")][-1]) == pytest.approx(1 / 3, abs=0.05)
    assert "n/a" in " ".join(rows[("nystrom3", "per_step", "corrected")])
    assert (tmp_path / "ode_check.csv").exists() and (tmp_path / "ode_check.png").exists()


def test_ode_example_small(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "ode", "example", "--out", str(tmp_path), "--layers", "16",
                           "--updates", "300", "--quiet")
    assert code == 0
    import csv

    rows = {r["gradients"]: r for r in csv.DictReader(open(tmp_path / "results.csv"))}
    assert set(rows) == {"autodiff", "corrected-1", "corrected-2"}
    # plain autodiff leaves a zigzag in the parameters; the corrections do not
    assert float(rows["autodiff"]["param_oscillation"]) > 3 * float(
        rows["corrected-2"]["param_oscillation"])
    assert float(rows["autodiff"]["ratio"]) > float(rows["corrected-2"]["ratio"])
    for name in ("report.md", "zigzag.png", "transfer.png", "training.png"):
        assert (tmp_path / name).exists()
