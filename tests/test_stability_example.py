"""The stability example study: its verdicts follow the linear theory."""

import numpy as np

from stablesim.cli import main
from stablesim.studies._stability_example import _initial, _linear_data, linear_part


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


def test_stability_example_from_the_command_line(tmp_path, capsys):
    code = main(["stability", "example", "--out", str(tmp_path), "--updates", "50", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 0 and "report" in out
    text = (tmp_path / "report.md").read_text()
    assert "| residual | he | 0 |" in text and "limit cycle" in text
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 2
