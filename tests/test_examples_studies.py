"""The stability example study (examples/stability_study.py): its verdicts follow the
linear theory. The example is a script, loaded from its file as a user would run it."""

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study = _load("stability_study")
_initial, _linear_data, linear_part = study._initial, study._linear_data, study.linear_part


def test_linear_part_verdicts_follow_the_theory(x64):
    rows = {(r["form"], r["init"], r["noise"] > 0, r["clean_target"]): r
            for r in linear_part(steps=300)}
    _, _, _, up, _ = _linear_data()
    for init in ("zeros", "small", "orthogonal", "gershgorin"):
        assert rows[("discrete", init, False, False)]["verdict"] != "unstable"
    for init in ("glorot", "he"):
        row = rows[("discrete", init, False, False)]
        assert row["verdict"] == "unstable"
        # without noise the map on the empty directions is the initial compression
        w0 = _initial(init, 32, key=1)
        expect = np.abs(np.linalg.eigvals(up.T @ w0 @ up)).max()
        np.testing.assert_allclose(row["normal_radius"], expect, rtol=1e-8)
        assert rows[("discrete", init, True, False)]["verdict"] == "stable"  # noise damps
    for init in ("zeros", "he"):
        # noisy target: the empty directions tend to x + W x = x, never inside the disc
        assert rows[("residual", init, True, False)]["verdict"] != "stable"
        assert rows[("residual", init, True, True)]["verdict"] == "stable"  # clean target
    assert rows[("residual", "zeros", False, False)]["verdict"] == "marginal"
    assert rows[("continuous", "dissipative", False, False)]["verdict"] == "stable"
    assert rows[("continuous", "he", False, False)]["verdict"] == "unstable"
    gaps = [r["theory_gap"] for r in rows.values() if r["theory_gap"] is not None]
    assert len(gaps) == 19 and max(gaps) < 1e-9  # SGD equals the closed form


def test_stability_example_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "stability_study.py"), "--out",
                           str(tmp_path), "--updates", "50", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "report" in done.stdout
    text = (tmp_path / "report.md").read_text()
    assert "| residual | he | 0 |" in text and "limit cycle" in text
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 2


def test_ode_zigzag_example_runs_and_refuses_bad_layers(tmp_path):
    example = str(EXAMPLES / "ode_zigzag.py")
    bad = subprocess.run([sys.executable, example, "--layers", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--layers must all be >= 2" in bad.stderr
    assert "Traceback" not in bad.stderr
    zigzag = _load("ode_zigzag")
    rows = zigzag.run_ode_zigzag_study(tmp_path / "ode", layers=(8,), updates=30, progress=False)
    kinds = {row["gradients"] for row in rows}
    assert kinds == set(zigzag.VARIANTS), kinds
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["transferred_loss"]) for row in rows)
    assert (tmp_path / "ode" / "report.md").exists()
    # The smooth model means the same under RK4 on the 4x finer grid (the recommendation).
    smooth = next(row for row in rows if row["gradients"] == "smooth")
    assert abs(smooth["ratio"] - 1) < 0.05, smooth
