"""Long rollouts judged by the data's own statistics: stable, bounded but unphysical, diverges.

Oracles: Parseval and the closed-form spectrum of a cosine; simulators whose
long-time states are known in closed form (a low-pass map, the same plus a
fixed high-frequency pattern, a growing map).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim.evaluation import (
    DataStatistics,
    PhysicalTolerances,
    band_energy,
    divergence_bounds,
    empty_band_fraction,
    long_rollout,
    physical_verdict,
)
from stablesim.simulators import SolverAlone, as_solver

N = 64
X = np.arange(N) * 2 * np.pi / N


def _smooth_data(count: int = 40, seed: int = 0) -> np.ndarray:
    """Fields of modes k = 1..4 only: `(count, 1, N)`."""
    rng = np.random.default_rng(seed)
    fields = [sum(rng.normal() * np.cos(k * X + rng.uniform(0, 6)) for k in range(1, 5))
              for _ in range(count)]
    return np.asarray(fields, np.float32)[:, None]


def test_band_energy_is_parseval_and_a_cosine_lands_in_its_band():
    u = (0.7 * np.cos(5 * X) + 0.2 * np.cos(12 * X))[None, None]
    energy = band_energy(u)
    np.testing.assert_allclose(energy.sum(), np.mean(u**2), rtol=1e-12)
    np.testing.assert_allclose(energy[5], 0.7**2 / 2, rtol=1e-12)
    np.testing.assert_allclose(energy[12], 0.2**2 / 2, rtol=1e-12)
    assert np.abs(np.delete(energy, [5, 12])).max() < 1e-20
    grid = np.cos(3 * X)[:, None] * np.ones(8)[None]  # 2D: band 3 along the first axis
    np.testing.assert_allclose(band_energy(grid[None, None])[3], 0.5, rtol=1e-12)


def _lowpass(u):
    """Keeps modes |k| <= 4: exactly the data's (a physical map for these data)."""
    spectrum = jnp.fft.rfft(u, axis=-1)
    return jnp.fft.irfft(spectrum.at[..., 5:].set(0), n=N, axis=-1)


def _judge(step, data, steps=400, tolerances=None):
    tolerances = tolerances or PhysicalTolerances()
    stats = DataStatistics.of(data)
    starts = data[:4]
    lower, upper = divergence_bounds(np.repeat(starts[:, None], 2, axis=1))
    first, late = long_rollout(SolverAlone(as_solver(step)), starts, np.zeros((4, 0)),
                               lower, upper, steps=steps, snapshots=5)
    rms = np.sqrt((starts.astype(float) ** 2).mean(axis=(1, 2)))
    return [physical_verdict(int(first[b]) if first[b] <= steps else None,
                             None if late is None else late[:, b], float(rms[b]), stats,
                             tolerances) for b in range(4)], late


def test_a_physical_map_is_stable_a_filled_empty_band_is_unphysical_growth_diverges():
    data = _smooth_data()
    stable, _ = _judge(_lowpass, data)
    assert [p.verdict for p in stable] == ["stable"] * 4

    pattern = 0.3 * jnp.cos(20 * jnp.asarray(X, jnp.float32))  # band 20: empty in the data
    filled, late = _judge(lambda u: _lowpass(u) + pattern, data)
    assert [p.verdict for p in filled] == ["bounded but unphysical"] * 4
    for b, p in enumerate(filled):  # closed form: the pattern's share of the late energy
        low = np.mean(np.asarray(_lowpass(late[:, b])) ** 2)
        share = 0.3**2 / 2 / (0.3**2 / 2 + low)
        assert p.empty_band_fraction == pytest.approx(share, rel=1e-3)
        assert "bands where the data have none" in p.reason

    growing, _ = _judge(lambda u: 1.05 * _lowpass(u), data)
    assert all(p.verdict == "diverges" and p.diverged_at is not None for p in growing)


def test_an_amplified_but_bounded_rollout_is_named_by_its_rms():
    data = _smooth_data()
    loose = PhysicalTolerances(rms_ratio=1.5, wasserstein=100.0)  # judge the rms alone
    judged, _ = _judge(lambda u: 2.0 * _lowpass(u) / (1 + 0.0 * u), data,
                       tolerances=loose, steps=1)
    # one step: u -> 2 lowpass(u): the rms doubles, nothing else changes
    assert all(p.verdict == "bounded but unphysical" for p in judged)
    assert all(p.rms_ratio == pytest.approx(2.0, rel=1e-5) for p in judged)
    assert all("rms 2.00x" in p.reason for p in judged)


def test_empty_band_fraction_counts_bands_beyond_the_data():
    stats = DataStatistics.of(_smooth_data())
    finer = np.cos(40 * np.arange(128) * 2 * np.pi / 128)[None, None]  # band 40 > data's 32
    assert empty_band_fraction(finer, stats) == pytest.approx(1.0)


def test_stabilize_never_keeps_an_unphysical_candidate():
    from stablesim.runs._fixes import Outcome, choose

    steps = np.full((1, 4), 101)  # nobody diverges within 100 steps
    before = Outcome("before", {}, np.full((1, 4), 5), {"validation": 1.0}, 100, 0)
    unphysical = Outcome("noise 0.1", {"modality.noise": 0.1}, steps, {"validation": 0.5}, 100,
                         10, unphysical=2, unphysical_reason="12.0% of its energy in bands")
    physical = Outcome("projection", {"simulator.projection": True}, steps,
                       {"validation": 0.9}, 100, 0)
    assert not unphysical.stable and physical.stable
    assert choose(before, [unphysical, physical], 0.1) is physical
    assert choose(before, [unphysical], 0.1) is None


def test_evaluate_reports_a_bounded_but_unphysical_model_as_such(tmp_path, monkeypatch, capsys):
    """The user's solver fills a band the data never had: `evaluate` says so in words."""
    import json

    import yaml

    from stablesim.cli import main

    monkeypatch.chdir(tmp_path)
    fields = _smooth_data(12)
    trajectories = np.repeat(fields[:, None], 10, axis=1)  # the data's dynamics: u -> u
    np.savez(tmp_path / "data.npz", trajectories=trajectories)
    (tmp_path / "solver.py").write_text(
        "import numpy as np\n"
        "X = np.arange(64) * 2 * np.pi / 64\n"
        "def step(u):\n"
        "    s = np.fft.rfft(u, axis=-1)\n"
        "    s[..., 5:] = 0\n"
        "    return (np.fft.irfft(s, n=64, axis=-1) + 0.3 * np.cos(20 * X)).astype(u.dtype)\n")
    cfg = {"system": {"name": None},
           "data": {"file": "data.npz", "test_trajectories": 3},
           "model": {"architecture": "conv", "width": 4, "depth": 1},
           "simulator": {"setup": "correction", "solver_function": "solver.py:step"},
           "modality": {"name": "ONE"},
           "training": {"updates": 4, "seeds": [0], "batch_size": 4, "log_every": 2,
                        "checkpoint_every": 2},
           "evaluation": {"rollout_steps": 4, "horizon": 2, "plots": False,
                          "gradient_unrolls": [], "stability_steps": 200}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "run.yaml", "--out", "r", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "r", "--quiet"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "interpolation  solver alone" in x
                and "bounded but unphysical" in x)
    assert "0 stable, 3 bounded but unphysical, 0 diverge of 3" in line
    assert "bands where the data have none" in line
    summary = json.loads((tmp_path / "r" / "metrics.json").read_text())
    physics = summary["baseline"]["summary"]["interpolation"]["physics"]
    assert physics["verdicts"]["bounded but unphysical"] == 3
    assert physics["empty_band_fraction"]["mean"] > 0.01


def test_transient_growth_of_a_non_normal_map_against_its_closed_form():
    """A = [[0.9, 5], [0, 0.9]] embedded in R^6: every eigenvalue 0.9, yet ||A^k|| > 1."""
    from stablesim.simulators import Prediction
    from stablesim.stability import k_step_amplification, transient_growth, transient_sentence

    a = np.eye(6, dtype=np.float64) * 0.5
    a[:2, :2] = [[0.9, 5.0], [0.0, 0.9]]
    matrix = jnp.asarray(a, jnp.float32)

    class Linear(eqx.Module):  # a network: u -> A u
        weight: jnp.ndarray

        def __call__(self, u, p):
            return self.weight @ u

    sim = Prediction(Linear(matrix), residual=False)
    for k in (1, 3, 10, 40):
        exact = np.linalg.svd(np.linalg.matrix_power(a, k), compute_uv=False)[0]
        got = k_step_amplification(sim, np.ones(6, np.float32), np.zeros(0), k)
        assert got == pytest.approx(exact, rel=1e-4), k
    growth = transient_growth(sim, np.ones((2, 6), np.float32), np.zeros((2, 0)),
                              horizons=(1, 4, 16, 64))
    radius = float(np.abs(np.linalg.eigvals(a)).max())
    assert radius == pytest.approx(0.9)
    sentence = transient_sentence(growth, radius)
    assert sentence is not None and "inside the unit circle" in sentence
    normal = jnp.asarray(np.diag([0.9, 0.8, 0.5, 0.5, 0.5, 0.5]), jnp.float32)
    calm = transient_growth(Prediction(Linear(normal), residual=False),
                            np.ones((1, 6), np.float32), np.zeros((1, 0)), horizons=(1, 4, 16))
    np.testing.assert_allclose([calm[k] for k in (1, 4, 16)], [0.9, 0.9**4, 0.9**16],
                               rtol=1e-4)
    assert transient_sentence(calm, 0.9) is None


def test_near_empty_directions_are_counted_apart_from_empty_ones():
    from stablesim.stability import energy_spectrum

    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    scales = np.array([1.0, 0.5, 0.3, 1e-4, 1e-5, 0, 0, 0])  # energies ~ scale^2
    coords = rng.normal(size=(400, 8)) * scales
    energy = energy_spectrum(coords @ basis.T, fourier=False)
    assert energy.rank == 5 and energy.unlearnable_dimension == 3
    share = energy.energies / energy.energies.sum()
    assert energy.near_empty() == int((share[:5] < 1e-6).sum()) == 2  # 1e-8 and 1e-10
    assert 0 < energy.relative_tolerance < share[4]


def test_the_band_filter_empties_what_the_data_never_had():
    """The band-20 map, filtered: its late states are the low-pass map's, exactly (stable)."""
    from stablesim.stability import BandFiltered, kept_band_mask

    data = _smooth_data()
    stats = DataStatistics.of(data)
    keep = kept_band_mask(stats.band_share, (N,), 1e-6)
    assert keep.shape == (N // 2 + 1,)
    np.testing.assert_array_equal(np.flatnonzero(keep), [1, 2, 3, 4])  # the data's modes
    pattern = 0.3 * jnp.cos(20 * jnp.asarray(X, jnp.float32))
    raw = SolverAlone(as_solver(lambda u: _lowpass(u) + pattern))
    filtered = BandFiltered(raw, keep)
    u = jnp.asarray(data[0])
    np.testing.assert_allclose(filtered(u, jnp.zeros(0)), _lowpass(u), atol=1e-5)
    judged, _ = _judge(lambda v: filtered(v, jnp.zeros(0)), data)
    assert [p.verdict for p in judged] == ["stable"] * 4


def test_stabilize_offers_the_band_filter_where_the_data_have_empty_bands(tmp_path):
    from stablesim.config import RunConfig
    from stablesim.data import TrajectoryDataset
    from stablesim.runs import candidate_fixes

    smooth = TrajectoryDataset(np.repeat(_smooth_data(8)[:, None], 4, axis=1),
                               np.ones((8, 1), np.float32))
    config = RunConfig.model_validate({"system": {"name": None},
                                       "data": {"file": "x.npz", "train_values": [1.0]}})
    names = [f.name for f in candidate_fixes(config, smooth)]
    assert "band filter" in names
    rough = TrajectoryDataset(np.random.default_rng(0).normal(size=(8, 4, 1, N))
                              .astype(np.float32), np.ones((8, 1), np.float32))
    assert "band filter" not in [f.name for f in candidate_fixes(config, rough)]
