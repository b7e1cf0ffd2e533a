"""`stablesim diagnose RUN`: why a trained run is (un)stable, with recommendations."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import jax
import numpy as np

from .._atomic import atomic_write_json, finite_or_none
from .._errors import ConfigError
from .._progress import reporter
from .._rundir import RunDir
from ..simulators import solver_errors
from ..stability import (
    UNTESTED,
    EnergySpectrum,
    energy_spectrum,
    linearized_spectra,
    off_data_growth,
    recommend_noise,
    recommendations,
    spectral_radius,
    spectrum_frames,
    transient_growth,
    transient_sentence,
    uses_finite_differences,
)
from ._build import data_energy
from ._fixes import Fix, Outcome, ranked, with_changes
from ._long_physics import data_statistics
from ._opened import Run
from ._stabilize import Stabilization, measure, stabilize_run

TRANSIENT_HORIZONS = (1, 4, 16, 64)
"""Step counts over which `diagnose` measures the largest amplification (k-step Jacobian)."""


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """What `diagnose_run` found.

    **Fields:**

    - `out_dir`: where `diagnose.json` was written (and the report goes).
    - `figures`: the numbers and recommendations of `diagnose.json`.
    - `energy`: the training data's `EnergySpectrum`.
    - `eigenvalues`: Jacobian eigenvalues at the data states `(states, n or k)`.
    - `normal_eigenvalues`: the same restricted to the no-energy directions, or None.
    - `growth_any`, `growth_normal`: perturbation growth `(starts, steps)` (None
        where there are no empty directions).
    """

    out_dir: pathlib.Path
    figures: dict
    energy: EnergySpectrum
    eigenvalues: np.ndarray
    normal_eigenvalues: np.ndarray | None
    growth_any: np.ndarray
    growth_normal: np.ndarray | None


def _pick_states(trajectories: np.ndarray, params: np.ndarray, count: int):
    b, t = trajectories.shape[:2]
    idx = [(i % b, (t // 2 + i // b) % t) for i in range(count)]
    return (np.stack([trajectories[i, j] for i, j in idx]),
            np.stack([params[i] for i, _ in idx]))


@solver_errors()
def diagnose_run(run_dir: str | os.PathLike | Run, *, out_dir: str | os.PathLike | None = None,
                 seed_index: int | None = None, states: int = 4, offset: float = 1e-3,
                 tolerated_bias: float = 0.05, key: int = 0, horizon: int = 2000,
                 verify: bool = False, verify_updates: int | None = None,
                 progress: bool = False) -> Diagnosis:
    """Stability diagnostics of a trained run (`diagnose.json`; the report with plots is
    `stablesim.reporting.write_diagnose_report`'s job).

    Data energy spectrum of the training set and its unlearnable dimension;
    Jacobian eigenvalues of the trained step at data states (and restricted to
    the directions without data energy), against the unit circle; growth of
    rollouts started slightly off the data (in any direction, and in the
    empty directions); recommendations (noise with its bias, initializer,
    projection).

    **Arguments:**

    - `run_dir`: a trained run directory.
    - `out_dir`: where `diagnose.json` (and the report) go (default:
        `run_dir/diagnose`).
    - `seed_index`: which seed's model is analysed in detail (position in the
        run's seeds); None: the seed whose step has the largest spectral radius
        at the data states (every seed's radius is reported).
    - `states`: how many data states to linearize at.
    - `offset`: relative size of the off-data perturbations.
    - `tolerated_bias`: the noise bias the recommendation allows.
    - `key`: random seed of the perturbations.
    - `horizon`: steps of the long rollouts measured from every validation start
        (the run as trained, and with the projection where it applies).
    - `verify`: also fine-tune the run with every candidate fix and rank them
        by the measured outcome (`stabilize_run` without keeping a run).
    - `verify_updates`: fine-tuning updates per candidate (default: stabilize's).
    - `progress`: print each step and its time.

    **Returns:**

    A `Diagnosis`: the figures of `diagnose.json` and the arrays behind them.
    """
    say = reporter(progress)
    run = Run.open(run_dir)
    run.require_trained(finished=False)
    run_dir = run.path
    config = run.config
    with say("loading the run"):
        parts, result = run.parts, run.trained
    if seed_index is not None and not 0 <= seed_index < len(result.seeds):
        raise ConfigError(f"--seed-index must be in [0, {len(result.seeds) - 1}]")
    finite_differences = uses_finite_differences(result.simulator_for(0))
    train = parts["train"]
    with say("data energy spectrum"):
        sample = train.take(train.sampled_rows())
        frames = np.asarray(sample.trajectories)  # read once (up to 1 GiB)
        energy = data_energy(train, frames)  # shared with the projection
        # noise is added in the units the run trains in (normalized ones where it normalizes):
        # its level comes from the energies in those units, of the same frames
        norm = run.normalization
        trained_units = energy if norm is None else energy_spectrum(
            norm.trajectories(spectrum_frames(frames)), fourier=False)
    at, at_params = _pick_states(frames, sample.params, states)
    del frames
    method = "finite differences" if finite_differences else "autodiff"
    with say(f"Jacobian spectra of {len(result.seeds)} seed(s) at {states} data states "
             f"({method})"):
        every = [linearized_spectra(result.simulator_for(i), at, at_params)
                 for i in range(len(result.seeds))]
        radii = [spectral_radius(e) for e in every]
        if seed_index is None:  # the seed most likely to blow up, not the first one
            seed_index = int(np.argmax(radii))
        sim = result.simulator_for(seed_index)
        eigs, radius = every[seed_index], radii[seed_index]
        normal = None
        if energy.unlearnable_dimension:
            normal = linearized_spectra(sim, at, at_params, normal_to=energy)
    transient = None
    if not finite_differences:  # matrix-free JVP/VJP products: the solver must be JAX
        with say(f"transient growth of every seed over {list(TRANSIENT_HORIZONS)} steps"):
            transient = [transient_growth(result.simulator_for(i), at[:2], at_params[:2],
                                          TRANSIENT_HORIZONS) for i in range(len(result.seeds))]
    test = parts.get("validation", train)  # choices never look at a test set
    count = min(8, test.num_trajectories)
    steps = config.evaluation.rollout_steps
    with say(f"growth of {count} perturbed rollouts over {steps} steps"):
        growth_any = off_data_growth(sim, test.trajectories[:count, 0], test.params[:count],
                                     steps=steps, offset=offset, key=jax.random.key(key))
        growth_normal = None
        if energy.unlearnable_dimension:
            growth_normal = off_data_growth(sim, test.trajectories[:count, 0],
                                            test.params[:count], steps=steps, offset=offset,
                                            key=jax.random.key(key + 1),
                                            normal_to=energy.learnable_basis)
    worst = float(np.max(growth_any if growth_normal is None
                         else np.maximum(growth_any, growth_normal)))
    normal_radius = None if normal is None else spectral_radius(normal)
    with say(f"long rollouts of every seed from every validation start and up to 16 "
             f"training starts ({horizon} steps)"):
        statistics = data_statistics(parts["train"])  # once, for both measurements
        before = measure(result, config, parts, horizon=horizon, statistics=statistics)
    projection = None
    if energy.unlearnable_dimension and not config.simulator.projection:
        fix = Fix("projection", {"simulator.projection": True}, "", trains=False)
        cfg = with_changes(config, fix)
        with say(f"the same with the projection onto the {energy.rank}-dim data subspace"):
            projected = run.with_config(cfg).trained
            projection = measure(projected, cfg, parts, horizon=horizon, name="projection",
                                 statistics=statistics,
                                 changes=fix.changes)
    advice = recommendations(energy, radius, normal_radius, worst, noise_energy=trained_units,
                             tolerated_bias=tolerated_bias, steps=steps, config=config,
                             measured_projection=None if projection is None
                             else _projection_sentence(projection, before))
    advice.insert(0, _as_trained_sentence(before, config.evaluation.horizon))
    if transient is not None:
        words = [(i, transient_sentence(g, radii[i])) for i, g in enumerate(transient)]
        flagged = [(i, w) for i, w in words if w]
        if flagged:
            i, w = max(flagged, key=lambda iw: max(transient[iw[0]].values()))
            advice.insert(1, f"Measured: seed {result.seeds[i]}: {w}.")
    verified = None
    if verify:
        checked = stabilize_run(run, None, horizon=horizon, updates=verify_updates,
                                tolerated_bias=tolerated_bias, progress=progress,
                                measured=[before] + ([] if projection is None else [projection]))
        verified = ranked(checked.before, checked.outcomes, checked.tolerance)
        measured = {k for o in checked.outcomes for k in o.changes}
        advice = [a for a in advice  # an untested line whose fix was just measured goes
                  if not (a.startswith(UNTESTED) and any(f"`{k}:" in a for k in measured))]
        advice[1:1] = [_verified_sentence(i, o, checked) for i, o in enumerate(verified, 1)]
    out = pathlib.Path(out_dir) if out_dir is not None else RunDir.of(run_dir).diagnose
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "run": str(run_dir), "seed": result.seeds[seed_index],
        "seed_choice": (f"seed {result.seeds[seed_index]} of {list(result.seeds)}: "
                        + ("the largest spectral radius at the data states" if
                           radii[seed_index] == max(radii) else "chosen with --seed-index")),
        "spectral_radius_per_seed": dict(zip(map(str, result.seeds), radii)),
        "transient_growth_per_seed": None if transient is None else {
            str(s): {str(k): v for k, v in g.items()} for s, g in zip(result.seeds, transient)},
        "features": energy.num_features, "rank": energy.rank,
        "unlearnable_dimension": energy.unlearnable_dimension,
        "near_empty_dimension": energy.near_empty(),
        "rank_threshold_share": energy.relative_tolerance,
        "condition_number": finite_or_none(energy.condition_number),
        "energies": energy.energies.tolist(),
        "spectral_radius": radius,
        "unstable_eigenvalues_per_state": (np.abs(eigs) > 1 + 1e-9).sum(axis=1).tolist(),
        "normal_spectral_radius": normal_radius,
        "growth_any_max": finite_or_none(float(np.max(growth_any))),
        "growth_any_final_median": finite_or_none(float(np.median(growth_any[:, -1]))),
        "growth_normal_max": None if growth_normal is None else finite_or_none(float(np.max(growth_normal))),
        "recommended_noise": recommend_noise(trained_units.energies,
                                             tolerated_bias=tolerated_bias,
                                             rank=trained_units.rank,
                                             horizon=config.evaluation.horizon),
        "noise_horizon": config.evaluation.horizon,
        "recommendations": advice,
        "verified": None if verified is None else [o.as_dict() for o in verified],
        "long_rollouts": {"as_trained": before.as_dict(),
                          "projection": None if projection is None else projection.as_dict()},
        "jacobians": ("central finite differences (the solver runs outside JAX and has no "
                      "derivatives)" if finite_differences else "forward-mode autodiff"),
    }
    atomic_write_json(out / "diagnose.json", figures)
    return Diagnosis(out, figures, energy, eigs, normal, growth_any, growth_normal)



def _as_trained_sentence(before: Outcome, frames: int) -> str:
    first = f" (first at step {before.first_divergence})" if before.diverged else ""
    return (f"Measured: as trained, {before.diverged} of {before.rollouts} rollouts (every seed, "
            f"every validation start, up to 16 training starts) diverge within "
            f"{before.horizon} steps{first}; relative error at {frames} frames "
            f"{before.mean_error:.4g}.")


def _projection_sentence(after: Outcome, before: Outcome) -> str:
    verdict = ("Set `simulator.projection: true` (no retraining needed: `stablesim stabilize` "
               "writes the run)" if after.stable and after.within(before, 0.10) else
               "It does not make every rollout stable with an error within 10% of the run's; "
               "see `stablesim stabilize` for the other fixes")
    return (f"Measured: `simulator.projection: true` on the trained weights (no retraining): "
            f"{after.diverged} of {after.rollouts} rollouts diverge within {after.horizon} "
            f"steps (as trained: {before.diverged}), error {after.mean_error:.4g} (as trained "
            f"{before.mean_error:.4g}). {verdict}.")


def _verified_sentence(rank: int, o: Outcome, s: Stabilization) -> str:
    change = ", ".join(f"`{k}: {v}`" for k, v in o.changes.items()) or "no change"
    how = f"fine-tuned {o.updates} updates" if o.updates else "no training"
    ratio = o.mean_error / s.before.mean_error if s.before.mean_error > 0 else float("inf")
    verdict = ("stable, error within tolerance" if o.stable and o.within(s.before, s.tolerance)
               else "stable, error too large" if o.stable
               else "still diverges" if o.diverged
               else f"bounded but unphysical: {o.unphysical_reason}")
    return (f"Measured fix #{rank}: {o.name} ({change}; {how}): {o.diverged} of {o.rollouts} "
            f"rollouts diverge within {o.horizon} steps, error {ratio:.3g}x as trained "
            f"({verdict}).")
