"""Diagnosing large states without square bases: the energy spectrum keeps only the
directions with energy (from the samples' Gram matrix), and the spectrum and perturbations
normal to the data come from products with P = I - U U^T; each against the dense
computation as the oracle."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from stablesim.simulators import Prediction
from stablesim.stability import _energy, energy_spectrum, off_data_growth, spectrum

BASIS = np.random.default_rng(9).normal(size=(5, 40))  # the data span 5 of 40 directions


def _low_rank_snapshots(rng, samples=12):
    return rng.normal(size=(samples, 5)) @ BASIS


def test_a_thin_energy_spectrum_equals_the_full_one(monkeypatch):
    rng = np.random.default_rng(0)
    x = _low_rank_snapshots(rng)
    full = energy_spectrum(x)
    monkeypatch.setattr(_energy, "FULL_BASIS_FEATURES", 12)  # as for a large state
    thin = energy_spectrum(x)
    assert full.complete and not thin.complete
    assert thin.directions.shape == (40, 5) and full.directions.shape == (40, 40)
    np.testing.assert_allclose(thin.directions.T @ thin.directions, np.eye(5), atol=1e-10)
    np.testing.assert_allclose(thin.energies, full.energies, atol=1e-10)
    assert thin.rank == full.rank == 5 and thin.samples == 12
    assert not thin.rank_limited_by_samples
    # the same data subspace (projectors agree), and the same complement
    np.testing.assert_allclose(thin.projector(), full.projector(), atol=1e-10)
    v = rng.normal(size=(3, 40))
    up = full.unlearnable_basis
    np.testing.assert_allclose(thin.project_out(v), v @ up @ up.T, atol=1e-10)
    np.testing.assert_allclose(thin.unlearnable_basis @ thin.unlearnable_basis.T, up @ up.T,
                               atol=1e-10)
    # more samples than that: evenly spaced ones, the same subspace from fewer frames
    many = _low_rank_snapshots(rng, samples=30)
    capped = energy_spectrum(many)
    assert capped.samples == 12 and capped.rank == 5
    np.testing.assert_allclose(capped.projector(), full.projector(), atol=1e-8)
    # a full-rank sample: its rank is the sample's limit, and says so
    assert energy_spectrum(rng.normal(size=(6, 40))).rank_limited_by_samples


def test_the_spectrum_normal_to_the_data_from_products_equals_the_dense_compression(x64):
    rng = np.random.default_rng(1)
    n = 30
    w = rng.normal(size=(n, n)) / np.sqrt(n)
    u, _ = np.linalg.qr(rng.normal(size=(n, 4)))  # the data directions
    q, _ = np.linalg.qr(np.concatenate([u, rng.normal(size=(n, n - 4))], axis=1))
    complement = q[:, 4:]
    nonlinear = lambda z: jnp.tanh(jnp.asarray(w) @ z)  # noqa: E731
    state = rng.normal(size=(1, n))
    jac = np.diag(1 - np.tanh(w @ state[0]) ** 2) @ w
    dense = np.linalg.eigvals(complement.T @ jac @ complement)
    top = spectrum(nonlinear, state, k=5, normal_to=u)[0]
    np.testing.assert_allclose(np.sort(np.abs(top)), np.sort(np.abs(dense))[-5:], rtol=1e-8)


def test_perturbations_normal_to_the_data_have_no_part_along_it():
    rng = np.random.default_rng(2)
    u, _ = np.linalg.qr(rng.normal(size=(16, 3)))

    class KeepDataPart(eqx.Module):  # one step that keeps only the data part of its state
        along: jax.Array

        def __call__(self, z, p):
            return self.along @ z

    keep_data_part = Prediction(KeepDataPart(jnp.asarray(u @ u.T, jnp.float32)),
                                residual=False)

    initial = (rng.normal(size=(4, 3)) @ u.T).astype(np.float32)
    params = np.zeros((4, 0), np.float32)
    normal = off_data_growth(keep_data_part, initial, params, steps=3, offset=0.1,
                             key=jax.random.key(0), normal_to=u)
    anywhere = off_data_growth(keep_data_part, initial, params, steps=3, offset=0.1,
                               key=jax.random.key(0))
    assert np.max(normal) < 1e-5  # removed entirely: nothing of it along the data
    assert np.min(anywhere) > 0.1  # a general perturbation keeps its data part


def test_the_fourier_spectrum_in_batches_equals_the_spectrum_of_all_frames_at_once(
        monkeypatch):
    import exponax as ex

    rng = np.random.default_rng(3)
    fields = rng.normal(size=(3, 5, 2, 16, 16)).astype(np.float32)
    at_once = np.mean(jax.vmap(ex.get_spectrum)(jnp.asarray(fields.reshape(15, 2, 16, 16))),
                      axis=0)
    monkeypatch.setattr(_energy, "FOURIER_CHUNK_BYTES", 4 * 2 * 16 * 16 * 4)  # 4 frames
    np.testing.assert_allclose(_energy.fourier_spectrum(fields), at_once, rtol=1e-5)


def test_band_energies_and_value_sample_in_pieces_equal_the_whole_computation(monkeypatch):
    from stablesim.evaluation import _physical

    rng = np.random.default_rng(4)
    frames = rng.normal(size=(9, 2, 8, 8)).astype(np.float32)
    x = frames.astype(np.float64)  # the oracle: one transform of every frame
    power = (np.abs(np.fft.fftn(x, axes=(2, 3))) ** 2 / 64**2).sum(axis=1).mean(axis=0)
    whole = np.bincount(_physical.radial_bands((8, 8)).ravel(), weights=power.ravel())
    monkeypatch.setattr(_physical, "BAND_CHUNK_BYTES", 2 * 2 * 64 * 16)  # 2 frames a piece
    np.testing.assert_allclose(_physical.band_energy(frames), whole, rtol=1e-12)
    stats = _physical.DataStatistics.of(frames, max_values=50, seed=3)
    drawn = np.random.default_rng(3).choice(x.ravel(), 50, replace=False)
    np.testing.assert_array_equal(stats.values, drawn)


def test_a_projection_rank_beyond_the_kept_directions_ends_in_one_config_line(monkeypatch):
    import pytest

    from stablesim import ConfigError
    from stablesim.config import load_run_config
    from stablesim.data import TrajectoryDataset
    from stablesim.runs._build import projection_basis

    rng = np.random.default_rng(5)
    frames = _low_rank_snapshots(rng, samples=12).astype(np.float32)  # rank 5 of 40
    train = TrajectoryDataset(frames.reshape(3, 4, 40), np.zeros((3, 0), np.float32))
    monkeypatch.setattr(_energy, "FULL_BASIS_FEATURES", 12)  # as for a large state
    config = load_run_config(None, ["simulator.projection=true"])
    np.testing.assert_allclose(np.linalg.matrix_rank(projection_basis(config, train)), 5)
    wide = load_run_config(None, ["simulator.projection=true", "simulator.projection_rank=7"])
    with pytest.raises(ConfigError, match="projection_rank: 7 exceeds the 5 directions"):
        projection_basis(wide, train.take(np.arange(3)))  # a fresh split: no cached spectrum
