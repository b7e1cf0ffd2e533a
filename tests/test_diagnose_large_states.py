"""Diagnosing large states without square bases: the energy spectrum keeps only the
directions the samples span, and the spectrum and perturbations normal to the data come
from products with P = I - U U^T; each against the dense computation as the oracle."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from stablesim.simulators import Prediction
from stablesim.stability import _energy, energy_spectrum, off_data_growth, spectrum


def _low_rank_snapshots(rng, samples=12, features=40, rank=5):
    return rng.normal(size=(samples, rank)) @ rng.normal(size=(rank, features))


def test_a_thin_energy_spectrum_equals_the_full_one(monkeypatch):
    rng = np.random.default_rng(0)
    x = _low_rank_snapshots(rng)
    full = energy_spectrum(x)
    monkeypatch.setattr(_energy, "FULL_BASIS_FEATURES", 8)  # as for a large state
    thin = energy_spectrum(x)
    assert full.complete and not thin.complete
    assert thin.directions.shape == (40, 12) and full.directions.shape == (40, 40)
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
