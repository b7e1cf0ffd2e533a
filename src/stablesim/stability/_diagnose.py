"""`stablesim diagnose RUN`: why a trained simulator is (un)stable, with recommendations."""

from __future__ import annotations

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from .._atomic import atomic_write_json, finite_or_none
from ._energy import EnergySpectrum, energy_spectrum
from ._mitigations import noise_bias, recommend_noise
from ._spectrum import spectral_radius, spectrum

DENSE_LIMIT = 2048  # states with more entries use Arnoldi for the k largest eigenvalues
ARNOLDI_K = 16


def _pick_states(trajectories: np.ndarray, params: np.ndarray, count: int):
    b, t = trajectories.shape[:2]
    idx = [(i % b, (t // 2 + i // b) % t) for i in range(count)]
    return (np.stack([trajectories[i, j] for i, j in idx]),
            np.stack([params[i] for i, _ in idx]))


def linearized_spectra(simulator, states, params, basis=None) -> np.ndarray:
    """Jacobian eigenvalues of one step at each state (dense, or Arnoldi for large states)."""
    n = int(np.prod(states.shape[1:]))
    k = None if n <= DENSE_LIMIT else min(ARNOLDI_K, n - 2)
    out = [spectrum(simulator, s[None], params=p, basis=basis, k=k)[0]
           for s, p in zip(states, params)]
    return np.asarray(out)


def off_data_growth(simulator, initial, params, *, steps: int, offset: float, key,
                    directions: np.ndarray | None = None) -> np.ndarray:
    """Amplification ||u'(t) - u(t)|| / ||delta|| of perturbed rollouts, per start and step.

    **Arguments:**

    - `simulator`: the trained simulator.
    - `initial`, `params`: start states `(K, *state)` and their parameters.
    - `steps`: rollout length.
    - `offset`: perturbation size relative to each start state's norm.
    - `key`: random key.
    - `directions`: orthonormal columns to perturb in (e.g. the directions
        without data energy); None: any direction.

    **Returns:**

    `(K, steps)` amplifications (inf where a rollout blew up).
    """
    from ..evaluation import rollout_batch

    k = initial.shape[0]
    flat = initial.reshape(k, -1)
    if directions is None:
        delta = np.array(jax.random.normal(key, flat.shape), np.float64)
    else:
        coeff = np.asarray(jax.random.normal(key, (k, directions.shape[1])))
        delta = coeff @ np.asarray(directions).T
    delta *= (offset * np.linalg.norm(flat, axis=1) / np.linalg.norm(delta, axis=1))[:, None]
    base = rollout_batch(simulator, jnp.asarray(initial), jnp.asarray(params), steps)
    pert = rollout_batch(simulator, jnp.asarray(flat + delta, initial.dtype).reshape(initial.shape),
                         jnp.asarray(params), steps)
    diff = np.linalg.norm(np.asarray(pert - base).reshape(k, steps, -1), axis=-1)
    amp = diff / np.linalg.norm(delta, axis=1)[:, None]
    return np.where(np.isfinite(amp), amp, np.inf)


def recommendations(energy: EnergySpectrum, radius: float, normal_radius: float | None,
                    growth: float, *, tolerated_bias: float, steps: int) -> list[str]:
    """Concrete advice from the diagnostics (plain sentences for the report)."""
    out = []
    m, r = energy.unlearnable_dimension, energy.rank
    sigma = recommend_noise(energy.energies, tolerated_bias=tolerated_bias, rank=r)
    bias = noise_bias(energy.energies[:r], sigma)
    if m:
        out.append(f"{m} of {energy.num_features} directions carry no data energy: training never "
                   "changes the map there, the initialization decides it. Project onto the "
                   f"{r}-dimensional data subspace (`stablesim.stability.Projected` with "
                   "`energy_spectrum(data).learnable_basis`) or train in POD coordinates.")
        if normal_radius is not None and normal_radius > 1:
            out.append(f"The map normal to the data has spectral radius {normal_radius:.3g} > 1: "
                       "initialize with `gershgorin` (row and column sums <= 0.9, so every "
                       "compression stays inside the unit disc) or `zeros`/`small`; for "
                       "continuous-time models use `dissipative`.")
    out.append(f"Noise injection damps every direction by sigma^2; sigma = {sigma:.3g} keeps the "
               f"bias lambda_i/(lambda_i + sigma^2) >= {1 - tolerated_bias:.2f} on all {r} "
               f"energetic directions (strongest {bias[0]:.4f}, weakest {bias[-1]:.4f}); set "
               f"`modality.noise: {sigma:.3g}`.")
    if radius > 1:
        out.append(f"The linearized step has eigenvalues outside the unit circle (radius "
                   f"{radius:.3g}) at data states: perturbations grow there. Chaotic systems have "
                   "some; many or large ones call for unrolled training (NOG or WIG) or noise.")
    if growth > 1e3:
        out.append(f"Perturbations of size 1e-3 off the data grow {growth:.3g}x within {steps} "
                   "steps: train unrolled (NOG/WIG, larger m) and with noise.")
    return out


def diagnose_run(run_dir: str | os.PathLike, *, out_dir: str | os.PathLike | None = None,
                 seed_index: int = 0, states: int = 4, offset: float = 1e-3,
                 tolerated_bias: float = 0.05, key: int = 0) -> dict:
    """Stability diagnostics of a trained run, written as a report with plots.

    Data energy spectrum of the training set and its unlearnable dimension;
    Jacobian eigenvalues of the trained step at data states (and restricted to
    the directions without data energy), against the unit circle; growth of
    rollouts started slightly off the data (in any direction, and in the
    empty directions); recommendations (noise with its bias, initializer,
    projection).

    **Arguments:**

    - `run_dir`: a trained run directory.
    - `out_dir`: where `diagnose.md`, `diagnose.html`, `diagnose.json` and the
        plots go (default: `run_dir/diagnose`).
    - `seed_index`: which seed's model (position in the run's seeds).
    - `states`: how many data states to linearize at.
    - `offset`: relative size of the off-data perturbations.
    - `tolerated_bias`: the noise bias the recommendation allows.
    - `key`: random seed of the perturbations.

    **Returns:**

    The figures of `diagnose.json`.
    """
    from ..runs import read_run_config, run_progress
    from ..runs._build import build_system, simulator_factory, split_dataset
    from ..data import load_dataset
    from ..training import load_trained
    from .._errors import ConfigError

    config = read_run_config(run_dir)
    done, total = run_progress(run_dir)
    if done == 0:
        raise ConfigError(f"{run_dir}: not trained yet (no checkpoint)")
    data = load_dataset(pathlib.Path(run_dir) / "dataset.h5")
    parts = split_dataset(config, data)
    result = load_trained(simulator_factory(config, build_system(config), data), run_dir)
    if not 0 <= seed_index < len(result.seeds):
        raise ConfigError(f"--seed-index must be in [0, {len(result.seeds) - 1}]")
    sim = result.simulator_for(seed_index)
    train = parts["train"]
    energy = energy_spectrum(train.trajectories)
    at, at_params = _pick_states(train.trajectories, train.params, states)
    eigs = linearized_spectra(sim, at, at_params)
    radius = spectral_radius(eigs)
    normal = None
    if energy.unlearnable_dimension:
        normal = linearized_spectra(sim, at, at_params, basis=energy.unlearnable_basis)
    test = parts.get("interpolation", train)
    count = min(8, test.num_trajectories)
    steps = config.evaluation.steps
    growth_any = off_data_growth(sim, test.trajectories[:count, 0], test.params[:count],
                                 steps=steps, offset=offset, key=jax.random.key(key))
    growth_normal = None
    if energy.unlearnable_dimension:
        growth_normal = off_data_growth(sim, test.trajectories[:count, 0], test.params[:count],
                                        steps=steps, offset=offset, key=jax.random.key(key + 1),
                                        directions=energy.unlearnable_basis)
    worst = float(np.max(growth_any if growth_normal is None
                         else np.maximum(growth_any, growth_normal)))
    normal_radius = None if normal is None else spectral_radius(normal)
    advice = recommendations(energy, radius, normal_radius, worst,
                             tolerated_bias=tolerated_bias, steps=steps)
    out = pathlib.Path(out_dir) if out_dir is not None else pathlib.Path(run_dir) / "diagnose"
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "run": str(run_dir), "seed": result.seeds[seed_index],
        "features": energy.num_features, "rank": energy.rank,
        "unlearnable_dimension": energy.unlearnable_dimension,
        "condition_number": finite_or_none(energy.condition_number),
        "energies": energy.energies.tolist(),
        "spectral_radius": radius,
        "unstable_eigenvalues_per_state": (np.abs(eigs) > 1 + 1e-9).sum(axis=1).tolist(),
        "normal_spectral_radius": normal_radius,
        "growth_any_max": finite_or_none(float(np.max(growth_any))),
        "growth_any_final_median": finite_or_none(float(np.median(growth_any[:, -1]))),
        "growth_normal_max": None if growth_normal is None else finite_or_none(float(np.max(growth_normal))),
        "recommended_noise": recommend_noise(energy.energies, tolerated_bias=tolerated_bias,
                                             rank=energy.rank),
        "recommendations": advice,
    }
    atomic_write_json(out / "diagnose.json", figures)
    from ._diagnose_report import write_diagnose_report

    write_diagnose_report(out, figures, energy, eigs, normal, growth_any, growth_normal)
    return figures

