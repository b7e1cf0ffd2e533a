"""Long rollouts of data that are not periodic fields: the "empty bands" are the directions
outside the data's POD modes (what the projection removes)."""

import numpy as np
import pytest

from stablesim.evaluation import PhysicalTolerances, physical_verdict
from stablesim.evaluation._physical import DataStatistics, empty_band_fraction, pod_modes


def _subspace_data(seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    frames = rng.normal(size=(200, 4)) @ q[:, :4].T  # a 4-dim subspace of R^12
    return q, frames


def test_the_pod_modes_span_the_datas_subspace_and_nothing_else():
    q, frames = _subspace_data()
    modes = pod_modes(frames)
    assert modes.shape == (12, 4)
    np.testing.assert_allclose(modes.T @ modes, np.eye(4), atol=1e-10)
    inside = q[:, :4] @ q[:, :4].T  # the closed-form projector onto the subspace
    np.testing.assert_allclose(modes @ modes.T, inside, atol=1e-8)
    assert pod_modes(np.zeros((3, 20_000))) is None  # too large for an SVD here


def test_energy_outside_the_data_modes_is_the_empty_share_and_names_the_directions():
    q, frames = _subspace_data()
    stats = DataStatistics.of(frames, periodic=False)
    rng = np.random.default_rng(1)
    inside = rng.normal(size=(10, 4)) @ q[:, :4].T
    normal = rng.normal(size=(10, 8)) @ q[:, 4:].T * 0.3
    late = inside + normal
    expected = (normal**2).sum() / (late**2).sum()  # orthogonal parts: energies add
    assert empty_band_fraction(late, stats) == pytest.approx(expected, rel=1e-9)
    assert empty_band_fraction(inside, stats) < 1e-20
    judged = physical_verdict(None, late, float(np.sqrt((late**2).mean())) * 2, stats,
                              PhysicalTolerances(wasserstein=100.0))
    assert judged.verdict == "bounded but unphysical"
    assert "directions (POD modes) where the data have none" in judged.reason
    assert physical_verdict(None, inside, 10.0, stats,
                            PhysicalTolerances(wasserstein=100.0)).verdict == "stable"


def test_reference_ranges_read_per_trajectory_match_the_whole_array_formula():
    from stablesim.data import TrajectoryDataset
    from stablesim.runs._long_physics import reference_ranges

    rng = np.random.default_rng(2)
    traj = (rng.normal(size=(5, 7, 2, 6)) * rng.uniform(0.5, 3, size=(5, 1, 1, 1))
            ).astype(np.float32)
    data = TrajectoryDataset(traj, np.zeros((5, 1), np.float32))
    lower, upper, rms = reference_ranges(data, margin=1.0)
    flat = traj.reshape(5, -1).astype(np.float64)  # the naive whole-array oracle
    lo, hi = flat.min(1), flat.max(1)
    np.testing.assert_allclose(np.asarray(lower), lo - (hi - lo), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(upper), hi + (hi - lo), rtol=1e-6)
    naive_rms = np.sqrt((traj.astype(np.float64) ** 2).mean(axis=(2, 3))).max(axis=1)
    np.testing.assert_allclose(rms, naive_rms, rtol=1e-12)
