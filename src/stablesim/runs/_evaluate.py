"""Evaluating a trained run: rollouts of every seed on every test set, `metrics.json`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._atomic import atomic_path, finite_or_none
from .._errors import ConfigError
from .._progress import reporter
from ..config import RunConfig, changed, parse_override
from ..evaluation import (
    CORRELATION_LEVELS,
    DIVERGENCE_RULE,
    VERDICTS,
    Metrics,
    RolloutPhysics,
    SetSummary,
    correlation_times,
    decorrelation_time,
    divergence_step,
    frame_correlation,
    gmean_nrmse,
    mean_squared_error,
    nrmse,
    relative_error_curve,
    rollout_batch,
    vrmse,
)
from ..simulators import solver_errors, with_network
from ..training import TrainResult, gradient_alignment
from ._long_physics import data_statistics, long_physics, physics_summary
from ._opened import Run
from ._solver_build import baseline_simulator, solver_name

TEST_SETS = ("interpolation", "extrapolation")
GMEAN_STEPS = 100  # APEBench's GMean100 (the rollout's length where it is shorter)
VALIDATION = "validation"  # evaluated too, for choices (tuning); never in a test-set verdict


@solver_errors()
def evaluate_run(run_dir: str | os.PathLike | Run, *, overrides: Sequence[str | tuple] = (),
                 progress: bool = False) -> Metrics:
    """Roll out every test trajectory with every seed's model; write `metrics.json`.

    Metrics per seed and test case (see `stablesim.evaluation`): `rel_error`
    at every horizon 1..steps, `correlation` at every frame, `mse` over the
    headline horizon, `decorrelation_time`, `divergence_step` and `diverged`.
    The summary holds, per test set and metric, the mean over test cases per
    seed and the mean and standard deviation over seeds. The same metrics of
    the solver alone (the run's own solver, or the system's coarse solver)
    come as `baseline`, and as rows with `model: solver_alone`. Without a
    solver (a user's data and no `solver_function`) the baseline is
    persistence, the initial state held (`persistence`, rows with `model:
    persistence`): what a model must beat to have learned any dynamics. With
    `evaluation.gradient_unrolls` set, it also holds the WIG-to-NOG gradient
    diagnostic.

    **Arguments:**

    - `run_dir`: a trained run directory (or a `Run` opened already).
    - `overrides`: `--set` overrides of `evaluation.*` keys (the trained
        model's keys cannot change after training).
    - `progress`: print what it is doing, with timings.

    **Returns:**

    The `Metrics` (as written to `metrics.json`); the plots are
    `stablesim.reporting.plot_run`'s job.
    """
    run = opened = Run.open(run_dir)
    config = run.config
    if overrides:
        for item in overrides:
            key = parse_override(item)[0] if isinstance(item, str) else item[0]
            if not key.startswith("evaluation."):
                raise ConfigError(f"--set {key}: only evaluation.* keys can change after "
                                  "training; train a new run for the others")
        config = changed(config, overrides, source=f"{run.path}: evaluation override",
                         command_line=True)
        run = run.with_config(config)
    run.require_trained()
    say = reporter(progress)
    data, parts, system, result = run.data, run.parts, run.system, run.trained
    ev = config.evaluation
    steps = ev.rollout_steps
    rows: list[dict] = []
    per_seed: dict[str, dict] = {}
    examples: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    baseline = baseline_simulator(config, system, data)
    base_rows: list[dict] = []
    base_summary: dict[str, SetSummary] = {}
    held_rows: list[dict] = []
    held_summary: dict[str, SetSummary] = {}
    physics: dict = {}
    statistics = data_statistics(parts["train"]) if ev.stability_steps else None
    for test_set in (VALIDATION, *TEST_SETS):
        if test_set not in parts:
            continue
        test = parts[test_set]
        ref = jnp.asarray(test.trajectories[:, 1 : steps + 1])
        initial, phys = jnp.asarray(test.trajectories[:, 0]), jnp.asarray(test.params)
        with say(f"rolling out {len(result.seeds)} seed(s) x {test.num_trajectories} "
                 f"{test_set} trajectories for {steps} steps"):
            every = rollout_seeds(result, initial, phys, steps)  # seeds as a vmap axis
        per_seed[test_set] = {}
        judged = None
        if statistics is not None:  # validation starts too: what a choice may look at
            with say(f"long rollouts: {len(result.seeds)} seed(s) x {test.num_trajectories} "
                     f"{test_set} starts for {ev.stability_steps} steps"):
                judged = long_physics(_seed_simulators(result), test, statistics, config)
            physics[test_set] = physics_summary([p for seed in judged for p in seed],
                                                ev.stability_steps)
        for i, seed in enumerate(result.seeds):
            seed_rows, per_seed[test_set][seed] = _metrics_of(every[i], ref, ev, test_set, seed)
            if judged is not None:
                long = _long_steps(judged[i], ev.stability_steps)
                per_seed[test_set][seed].update(_long_stats(long, ev.stability_steps))
                seed_rows += _physics_rows(judged[i], test_set, seed, ev.stability_steps)
            rows += seed_rows
            if i == 0 and test_set != VALIDATION:
                examples[test_set] = (np.asarray(every[i][0]), np.asarray(ref[0]))
        if baseline is not None and test_set != VALIDATION:
            with say(f"rolling out the solver alone on the {test_set} trajectories"):
                alone = rollout_batch(baseline, initial, phys, steps)
            b_rows, b_stats = _metrics_of(alone, ref, ev, test_set, None)
            b_physics = None
            if statistics is not None:
                with say(f"long rollouts of the solver alone ({ev.stability_steps} steps)"):
                    b_judged = long_physics([baseline], test, statistics, config)[0]
                b_stats.update(_long_stats(_long_steps(b_judged, ev.stability_steps),
                                           ev.stability_steps))
                b_rows += _physics_rows(b_judged, test_set, None, ev.stability_steps)
                b_physics = physics_summary(b_judged, ev.stability_steps)
            base_rows += [dict(r, model="solver_alone") for r in b_rows]
            base_summary[test_set] = _summarise({None: b_stats}, data.channel_names, b_physics)
            examples[f"{test_set}_solver"] = (np.asarray(alone[0]), None)
        if baseline is None and test_set != VALIDATION:  # nothing to compare with but this
            held = jnp.broadcast_to(initial[:, None], ref.shape)
            p_rows, p_stats = _metrics_of(held, ref, ev, test_set, None)
            held_rows += [dict(r, model="persistence") for r in p_rows]
            held_summary[test_set] = _summarise({None: p_stats}, data.channel_names)
    summary = {test_set: _summarise(seeds, data.channel_names, physics.get(test_set))
               for test_set, seeds in per_seed.items()}
    alignment, note = _gradient_diagnostic(config, result, parts["train"], say)
    metrics = Metrics.model_validate({
        "run": run.path.name,
        "horizon": ev.horizon,
        "steps": steps,
        "seeds": list(result.seeds),
        "updates": result.steps,
        "setup": config.simulator.setup,
        "data_fingerprint": data.fingerprint(),
        "channels": list(data.channel_names),
        "evaluation": config.evaluation.model_dump(mode="json"),
        "divergence_rule": DIVERGENCE_RULE.format(margin=ev.divergence_margin),
        "summary": summary,
        "baseline": None if baseline is None else {
            "name": "solver alone", "solver": solver_name(config), "summary": base_summary},
        "persistence": held_summary,
        "gradient_alignment": alignment,
        "gradient_alignment_note": note,
        "rows": [dict(r, model="learned") for r in rows] + base_rows + held_rows,
    })
    metrics.write(run.files.metrics)
    arrays = {f"{k}_{name}": arr for k, (p, r) in examples.items()
              for name, arr in (("prediction", p), ("reference", r)) if arr is not None}
    with atomic_path(run.files.rollout_example) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    opened.__dict__["examples"] = arrays  # what plots and reports need, without reading
    opened.__dict__["metrics"] = metrics  # the files back
    return metrics


def _seed_simulators(result: TrainResult) -> list:
    return [result.simulator_for(i) for i in range(len(result.seeds))]


def _long_steps(judged: Sequence[RolloutPhysics], steps: int) -> np.ndarray:
    """Divergence step per start (`steps + 1`: never)."""
    return np.array([steps + 1 if p.diverged_at is None else p.diverged_at for p in judged])


def _physics_rows(judged: Sequence[RolloutPhysics], test_set: str, seed, steps: int
                  ) -> list[dict]:
    """Per start: divergence step, the late statistics and the verdict (0 stable,
    1 bounded but unphysical, 2 diverges)."""
    rows = []
    for case, p in enumerate(judged):
        base = {"test_set": test_set, "case": case, "seed": seed, "horizon": steps}
        rows.append(dict(base, metric="long_divergence_step",
                         value=float(steps + 1 if p.diverged_at is None else p.diverged_at)))
        rows.append(dict(base, metric="long_verdict", value=float(VERDICTS.index(p.verdict))))
        for key in ("empty_band_fraction", "rms_ratio", "wasserstein"):
            rows.append(dict(base, metric=f"long_{key}", value=finite_or_none(getattr(p, key))
                             if getattr(p, key) is not None else None))
    return rows


def _long_stats(steps_of: np.ndarray, horizon: int) -> dict:
    diverged = steps_of <= horizon
    return {"long_divergences": int(diverged.sum()),
            "long_first_divergence": int(steps_of.min()) if diverged.any() else None}


def _metrics_of(pred, ref, ev, test_set: str, seed) -> tuple[list[dict], dict]:
    """Long rows and the per-seed summary of one set of rollouts."""
    steps, horizon = ev.rollout_steps, ev.horizon
    curve = np.asarray(relative_error_curve(pred, ref))
    corr = np.asarray(frame_correlation(pred, ref))
    mse = np.asarray(mean_squared_error(pred, ref, horizon=horizon))
    decor = np.asarray(decorrelation_time(jnp.asarray(corr), threshold=ev.correlation_threshold))
    div = np.asarray(divergence_step(pred, ref, margin=ev.divergence_margin))
    normalised = np.asarray(nrmse(pred, ref))
    gmean = np.asarray(gmean_nrmse(normalised, steps=GMEAN_STEPS))
    field_error = np.asarray(vrmse(pred[:, :horizon], ref[:, :horizon])).mean(axis=1)  # (B, C)
    times = np.asarray(correlation_times(jnp.asarray(corr)))
    rows = []
    for case in range(curve.shape[0]):
        base = {"test_set": test_set, "case": case, "seed": seed}
        rows += [dict(base, metric="rel_error", horizon=h + 1, value=float(curve[case, h]))
                 for h in range(steps)]
        rows += [dict(base, metric="correlation", horizon=h + 1, value=float(corr[case, h]))
                 for h in range(steps)]
        rows += [dict(base, metric="nrmse", horizon=h + 1, value=finite_or_none(normalised[case, h]))
                 for h in range(steps)]
        rows += [dict(base, metric=f"correlation_time_{level:g}", horizon=None,
                      value=float(times[case, i])) for i, level in enumerate(CORRELATION_LEVELS)]
        rows += [dict(base, metric="mse", horizon=horizon, value=finite_or_none(mse[case])),
                 dict(base, metric="decorrelation_time", horizon=None, value=float(decor[case])),
                 dict(base, metric="divergence_step", horizon=None, value=float(div[case])),
                 dict(base, metric="diverged", horizon=None, value=float(div[case] <= steps)),
                 dict(base, metric=f"gmean{GMEAN_STEPS}_nrmse", horizon=min(GMEAN_STEPS, steps),
                      value=finite_or_none(gmean[case])),
                 dict(base, metric="vrmse", horizon=horizon,
                      value=finite_or_none(field_error[case].mean()))]
    diverged = div <= steps
    stats = {
        "rel_error": float(curve[:, horizon - 1].mean()),
        "mse": finite_or_none(float(mse.mean())),
        "correlation": float(corr[:, horizon - 1].mean()),
        "decorrelation_time": float(decor.mean()),
        "divergences": int(diverged.sum()),
        "first_divergence": int(div.min()) if diverged.any() else None,
        "cases": int(curve.shape[0]),
        f"gmean{GMEAN_STEPS}_nrmse": finite_or_none(float(gmean.mean())),
        "vrmse": finite_or_none(float(field_error.mean())),
        "vrmse_per_channel": [finite_or_none(float(v)) for v in field_error.mean(axis=0)],
        **_per_channel_errors(pred[:, horizon - 1], ref[:, horizon - 1]),
    }
    return rows, stats


def _per_channel_errors(pred, ref) -> dict[str, list]:
    """Each channel's relative error and RMSE (in the data's units) at one step, over cases.

    **Arguments:** `pred`, `ref` shaped `(cases, C, *N)` (or `(cases, n)` for vectors:
    one channel).
    """
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if pred.ndim == 2:
        pred, ref = pred[:, None], ref[:, None]
    space = tuple(range(2, pred.ndim))
    squared = ((pred - ref) ** 2).sum(axis=space)
    norm = (ref**2).sum(axis=space)
    count = int(np.prod(pred.shape[2:]))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.sqrt(squared / np.maximum(norm, 1e-30)).mean(axis=0)
        rmse = np.sqrt(squared / count).mean(axis=0)
    return {"rel_error_per_channel": [finite_or_none(float(v)) for v in relative],
            "rmse_per_channel": [finite_or_none(float(v)) for v in rmse]}


def _summarise(seeds: dict, channels: Sequence[str] = (), physics=None) -> SetSummary:
    """Mean and std over seeds of the per-seed means; divergence totals; per named channel
    the mean over seeds of its VRMSE, relative error and RMSE (the data's units); the long
    rollouts' `PhysicsSummary` where they were judged."""
    out: dict[str, Any] = {}
    for metric in ("rel_error", "mse", "correlation", "decorrelation_time", "divergences",
                   f"gmean{GMEAN_STEPS}_nrmse", "vrmse"):
        values = [v[metric] for v in seeds.values()]
        finite = [v for v in values if v is not None]
        out[metric] = {
            "mean": float(np.mean(finite)) if finite else None,
            "std": float(np.std(finite)) if finite else None,
            "per_seed": values,
        }
    out["divergences"]["total"] = int(sum(v["divergences"] for v in seeds.values()))
    firsts = [v["first_divergence"] for v in seeds.values() if v["first_divergence"] is not None]
    out["divergences"]["first_step"] = min(firsts) if firsts else None
    out["cases"] = int(sum(v["cases"] for v in seeds.values()))
    if channels:
        out["per_channel"] = {
            name: {metric: _mean_or_none([v[f"{metric}_per_channel"][c] for v in seeds.values()])
                   for metric in ("vrmse", "rel_error", "rmse")}
            for c, name in enumerate(channels)}
    if all("long_divergences" in v for v in seeds.values()):
        firsts = [v["long_first_divergence"] for v in seeds.values()
                  if v["long_first_divergence"] is not None]
        out["long_divergences"] = {
            "total": int(sum(v["long_divergences"] for v in seeds.values())),
            "first_step": min(firsts) if firsts else None,
            "per_seed": [v["long_divergences"] for v in seeds.values()]}
    out["physics"] = physics
    return SetSummary.model_validate(out)


def _mean_or_none(values: list) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def rollout_seeds(result: TrainResult, initial, params, steps: int):
    """Rollouts of every seed's network at once: `(seeds, B, steps, *state)`."""
    template = result.simulator
    return eqx.filter_vmap(
        lambda net: rollout_batch(with_network(template, net), initial, params, steps)
    )(result.networks)


def _gradient_diagnostic(config: RunConfig, result: TrainResult, train_set,
                         say) -> tuple[list[dict], str | None]:
    """The WIG-to-NOG gradient diagnostic (rows) or why it was not computed (note)."""
    asked = config.evaluation.gradient_unrolls
    if not asked:
        return [], "not asked for (set evaluation.gradient_unrolls, e.g. [1, 2, 4, 8, 16])"
    simulator = result.simulator_for(0)
    if not simulator.differentiable:
        return [], ("not available: the solver is external (not differentiable), so WIG "
                    "gradients do not exist for this model")
    unrolls = [m for m in asked if m + 1 <= train_set.num_frames]
    if not unrolls:
        return [], f"no m in {asked} fits in the {train_set.num_frames} training frames"
    count = min(8, train_set.num_trajectories)
    windows = jnp.asarray(train_set.trajectories[:count, : max(unrolls) + 1])
    with say(f"WIG-to-NOG gradient diagnostic for m = {unrolls}"):
        rows = gradient_alignment(simulator, windows, jnp.asarray(train_set.params[:count]),
                                  unrolls=unrolls)
    skipped = [m for m in asked if m not in unrolls]
    note = (f"m = {skipped} skipped: longer than the training trajectories" if skipped else None)
    return rows, note
