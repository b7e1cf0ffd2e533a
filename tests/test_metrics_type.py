"""`Metrics`: the one type of an evaluation's results, read and written in one place."""

import json

import numpy as np
import pytest

from stablesim._errors import DataError
from stablesim.evaluation import Metrics

RNG = np.random.default_rng(3)
ERRORS = RNG.uniform(0.01, 0.5, size=(2, 3, 4))  # seed, start, horizon
ALONE = RNG.uniform(0.01, 0.5, size=(3, 4))


def _stat(values):
    finite = [v for v in values if v is not None]
    return {"mean": float(np.mean(finite)), "std": float(np.std(finite)), "per_seed": values}


def _file() -> dict:
    """A metrics.json as `evaluate` writes it (every field)."""
    rows = [{"test_set": "interpolation", "case": c, "seed": s, "metric": "rel_error",
             "horizon": h + 1, "value": float(ERRORS[s, c, h]), "model": "learned"}
            for s in range(2) for c in range(3) for h in range(4)]
    rows += [{"test_set": "interpolation", "case": c, "seed": None, "metric": "rel_error",
              "horizon": h + 1, "value": float(ALONE[c, h]), "model": "solver_alone"}
             for c in range(3) for h in range(4)]
    rows[5]["value"] = None  # a diverged value: counts as 1.0
    summary = {"rel_error": _stat([0.1, 0.2]), "mse": _stat([1.0, 2.0]),
               "correlation": _stat([0.9, 0.8]), "decorrelation_time": _stat([3.0, 4.0]),
               "divergences": dict(_stat([1, 0]), total=1, first_step=7),
               "gmean100_nrmse": _stat([None, 0.3]), "vrmse": _stat([0.2, 0.3]), "cases": 6,
               "per_channel": {"u": {"vrmse": 0.1, "rel_error": 0.2, "rmse": 0.3}},
               "long_divergences": {"total": 2, "first_step": 90, "per_seed": [2, 0]},
               "physics": {"steps": 100, "rollouts": 6,
                           "verdicts": {"stable": 3, "bounded but unphysical": 1, "diverges": 2},
                           "empty_band_fraction": {"mean": 0.1, "max": 0.4},
                           "rms_ratio": {"mean": 1.2, "max": 3.0}, "wasserstein": None,
                           "worst_reason": "rms 3.0x the data's"}}
    return json.loads(json.dumps({"run": "r", "horizon": 3, "steps": 4, "seeds": [0, 1], "updates": 10,
            "setup": "correction", "data_fingerprint": "abc", "channels": ["u"],
            "evaluation": {"plots": False, "stability_steps": 100},
            "divergence_rule": "rule", "summary": {"interpolation": summary},
            "baseline": {"name": "solver alone", "solver": "coarse",
                         "summary": {"interpolation": summary}},
            "persistence": {},
            "gradient_alignment": [{"m": 2, "wig_norm": 1.0, "nog_norm": 2.0, "ratio": 0.5,
                                    "cosine": 0.9}],
            "gradient_alignment_note": None, "rows": rows}))  # no shared dicts


def test_the_file_round_trips_unchanged(tmp_path):
    written = _file()
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(written))
    metrics = Metrics.read(path)
    assert metrics.summary["interpolation"].physics.verdicts["diverges"] == 2
    assert metrics.baseline_of("interpolation").divergences.first_step == 7
    assert not metrics.plots and metrics.stability_steps == 100
    metrics.write(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == written


def test_per_start_errors_and_curves_against_a_naive_loop():
    metrics = Metrics.model_validate(_file())
    naive = np.full((2, 3), np.nan)
    for r in _file()["rows"]:
        if r["model"] == "learned" and r["horizon"] == 3:
            naive[r["seed"], r["case"]] = 1.0 if r["value"] is None else r["value"]
    np.testing.assert_array_equal(metrics.start_errors("interpolation"), naive)
    np.testing.assert_array_equal(metrics.start_errors("interpolation", model="solver_alone"),
                                  ALONE[None, :, 2])
    assert metrics.start_errors("extrapolation") is None
    curves = metrics.curves("rel_error", "interpolation")
    with_nan = ERRORS.copy()
    with_nan[0, 1, 1] = np.nan  # rows[5]: seed 0, start 1, horizon 2
    np.testing.assert_allclose(curves[1], ERRORS[1].mean(axis=0))
    np.testing.assert_allclose(curves[0], with_nan[0].mean(axis=0))
    np.testing.assert_allclose(metrics.curves("rel_error", "interpolation",
                                              model="solver_alone")[-1], ALONE.mean(axis=0))


def test_an_older_file_without_the_newer_fields_reads(tmp_path):
    old = _file()
    for key in ("channels", "gradient_alignment_note", "setup", "data_fingerprint"):
        old.pop(key)
    for s in (old["summary"]["interpolation"], old["baseline"]["summary"]["interpolation"]):
        for key in ("gmean100_nrmse", "vrmse", "per_channel", "physics", "long_divergences"):
            s.pop(key)
    for r in old["rows"]:
        r.pop("model") if r["model"] == "learned" else None
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(old))
    metrics = Metrics.read(path)
    assert metrics.summary["interpolation"].physics is None and metrics.channels == []
    assert metrics.start_errors("interpolation").shape == (2, 3)


@pytest.mark.parametrize("text", ["{", '{"rows": []}', '{"horizon": "three"}'])
def test_a_corrupt_or_foreign_file_is_one_line(tmp_path, text):
    path = tmp_path / "metrics.json"
    path.write_text(text)
    with pytest.raises(DataError, match="corrupt metrics file"):
        Metrics.read(path)
    with pytest.raises(DataError, match="not evaluated yet"):
        Metrics.read(tmp_path / "none" / "metrics.json")
