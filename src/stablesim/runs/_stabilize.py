"""`stablesim stabilize RUN --out NEW`: try fixes, measure them, keep the best verified one.

Every candidate fix is a short fine-tune of the trained run (`model.init_from`)
with one config change: projection onto the data subspace, noise injection at
a few strengths, unrolled training, or no change at all (the control: is
more training alone enough?). Each is measured the same way as the run
itself: divergence of long rollouts from every validation start and up to 16
training starts over the horizon (no long reference needed) and the relative
error at `evaluation.horizon` frames where the reference exists. The fixes are ranked by that measurement,
never by theory.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Sequence

import numpy as np

from .._errors import ConfigError, TrainingError
from .._progress import reporter
from .._rundir import RunDir
from ..config import RunConfig, write_yaml
from ..data import Normalization, TrajectoryDataset
from ..evaluation import DataStatistics, relative_error
from ..simulators import solver_errors
from ..training import TrainResult, copy_checkpoint
from ._data_source import (
    copy_data_record,
)
from ._evaluate import VALIDATION, rollout_seeds
from ._fixes import (
    Fix,
    Outcome,
    candidate_fixes,
    capped_fix,
    choose,
    combined_fix,
    fine_tune_config,
    projected_fine_tune,
    refined_noise,
)
from ._lifecycle import train_run
from ._long_physics import data_statistics, long_physics
from ._opened import Run
from ._stabilization import TRAINING_STARTS, Stabilization, write_report


def apply_without_training(source: str | os.PathLike, target: pathlib.Path,
                           config: RunConfig) -> None:
    """A run directory holding `source`'s trained networks under `config` (a change that
    needs no training, such as the projection): same checkpoint arrays, new config."""
    files, new = RunDir.of(source), RunDir.of(target)
    target.mkdir(parents=True)
    copy_data_record(source, target)
    shutil.copy2(files.log, new.log)
    copy_checkpoint(files.checkpoint, new.checkpoint, run_config=config.model_dump(mode="json"))
    write_yaml(config, new.config)




def choice_sets(parts: dict[str, TrajectoryDataset]) -> dict[str, TrajectoryDataset]:
    """Where choices are measured: the validation set, else the training set; never a test set."""
    if VALIDATION in parts:
        return {VALIDATION: parts[VALIDATION]}
    return {"train": parts["train"]}


def stability_starts(parts: dict[str, TrajectoryDataset]) -> TrajectoryDataset | None:
    """Up to `TRAINING_STARTS` evenly spaced training trajectories, judged for stability beside
    the validation set (None without a validation set: the training set is measured anyway)."""
    if VALIDATION not in parts:
        return None
    train = parts["train"]
    count = min(TRAINING_STARTS, train.num_trajectories)
    return train.take(np.unique(np.linspace(0, train.num_trajectories - 1, count).astype(int)))


def one_step_error(result: TrainResult, parts: dict[str, TrajectoryDataset],
                   normalization: Normalization | None, pairs: int = 64) -> float:
    """The rms error of one step of the model on data pairs (validation, else training),
    over every seed, in the units noise is added in (normalized where the run normalizes).

    **Arguments:** the trained `result`, the `parts`, the run's `normalization`, and how
    many `(state, next state)` pairs to use at most (evenly spaced).

    **Returns:** the rms error.
    """
    data = next(iter(choice_sets(parts).values()))
    traj = np.asarray(data.trajectories)
    b, t = traj.shape[:2]
    index = np.linspace(0, b * (t - 1) - 1, min(pairs, b * (t - 1))).astype(int)
    rows, cols = np.divmod(index, t - 1)
    states, following = traj[rows, cols], traj[rows, cols + 1]
    predicted = np.asarray(rollout_seeds(result, states, np.asarray(data.params)[rows], 1))[:, :, 0]
    error = predicted - following[None]
    if normalization is not None:
        scale = np.asarray(normalization.state_std, np.float64)
        error = error / scale.reshape((1, 1, -1) + (1,) * (error.ndim - 3))
    value = float(np.sqrt(np.mean(np.square(error, dtype=np.float64))))
    return value if np.isfinite(value) else 0.0


def whole_run_budget(run: Run) -> tuple[int, float]:
    """The training behind a run: its updates and those of the runs it was fine-tuned from
    (`model.init_from`, followed while they exist), and the largest learning rate of all
    their stages. A fine-tuned run's own last stage (a few updates at a small rate) would
    leave its candidates barely trained."""
    total, rate = 0, 0.0
    seen: set[pathlib.Path] = set()
    current: Run | None = run
    while current is not None and current.path.resolve() not in seen:
        seen.add(current.path.resolve())
        config = current.config
        total += config.training.total_updates
        rate = max([rate] + [s.learning_rate for s in config.stages])
        source = config.model.init_from
        current = Run(source) if source and (pathlib.Path(source) / "config.yaml").exists() \
            else None
    return total, rate


def measure(result: TrainResult, config: RunConfig, parts: dict[str, TrajectoryDataset], *,
            horizon: int, name: str = "as trained", changes: dict | None = None,
            updates: int = 0, statistics: DataStatistics | None = None) -> Outcome:
    """Long-rollout verdicts (diverges, bounded but unphysical, stable) and short-horizon
    error of every seed of a trained run.

    **Arguments:**

    - `result`: the trained networks.
    - `config`: their run's config (evaluation section: horizon, margin).
    - `parts`: the split dataset (its validation set is measured; the training set
        where there is none: choices never look at a test set).
    - `horizon`: steps of the long rollouts.
    - `name`, `changes`, `updates`: how the table names it.
    - `statistics`: the training data's statistics (`data_statistics`; computed if None).

    **Returns:**

    An `Outcome`.
    """
    ev = config.evaluation
    tests = choice_sets(parts)
    sims = [result.simulator_for(i) for i in range(len(result.seeds))]
    statistics = statistics or data_statistics(parts["train"])
    extra = stability_starts(parts)  # stability only: the error stays the validation set's
    judged_sets = [*tests.items(), *([] if extra is None else [(None, extra)])]
    steps, errors, judged = [], {}, []
    for test_set, test in judged_sets:
        verdicts = long_physics(sims, test, statistics, config, steps=horizon)
        judged += [p for seed in verdicts for p in seed]
        steps.append(np.array([[horizon + 1 if p.diverged_at is None else p.diverged_at
                                for p in seed] for seed in verdicts]))
        if test_set is None:
            continue
        frames = min(ev.horizon, test.num_frames - 1)
        every = rollout_seeds(result, test.trajectories[:, 0], test.params, frames)
        ref = test.trajectories[:, 1 : frames + 1]
        errors[test_set] = float(np.mean(  # mean over cases, then over seeds
            [np.mean(np.asarray(relative_error(p, ref, horizon=frames))) for p in every]))
    unphysical = [p for p in judged if p.verdict == "bounded but unphysical"]
    return Outcome(name, dict(changes or {}), np.concatenate(steps, axis=1), errors, horizon,
                   updates, len(unphysical), unphysical[0].reason if unphysical else None)


@solver_errors()
def stabilize_run(run_dir: str | os.PathLike | Run, out: str | os.PathLike | None, *,
                  horizon: int = 10_000,
                  updates: int | None = None, learning_rate: float | None = None,
                  tolerance: float = 0.10,
                  tolerated_bias: float = 0.05, refine: int = 2,
                  keep_candidates: bool = False, progress: bool = True,
                  measured: Sequence[Outcome] = ()) -> Stabilization:
    """Fine-tune a trained run with each candidate fix, measure, keep the best as a new run.

    **Arguments:**

    - `run_dir`: a trained run directory (left unchanged, apart from its
        `stabilize/` report folder).
    - `out`: the new run directory of the kept fix (must not hold a run);
        None: measure and rank only, keep nothing (`diagnose --verify`).
    - `horizon`: long-rollout steps every validation start (and up to 16 training
        starts) must survive.
    - `updates`: fine-tuning updates per candidate (default: a fifth of the
        run's training, at least 100).
    - `learning_rate`: constant fine-tuning learning rate (default: a tenth of
        the run's peak rate; a converged model is not thrown off by a full step).
    - `tolerance`: allowed increase of the short-horizon validation error.
    - `tolerated_bias`: base noise level (see `candidate_fixes`).
    - `refine`: at most this many more noise levels, each the geometric mean of
        the strongest diverging and the weakest stable one, while no candidate
        is stable within the tolerance (`refined_noise`).
    - `keep_candidates`: keep every candidate's run directory in `OUT.candidates`.
    - `progress`: print what it does.
    - `measured`: outcomes the caller measured on this run with the same
        `horizon` (`diagnose`: the run as trained, the projection): not
        measured again.

    **Returns:**

    A `Stabilization`; its table also goes to `RUN/stabilize/stabilize.md` (and
    `OUT/stabilize/` when a fix was kept).
    """
    say = reporter(progress)
    out = None if out is None else pathlib.Path(out)
    if horizon < 1 or tolerance < 0:
        raise ConfigError("--horizon must be positive and --tolerance non-negative")
    if out is not None and (RunDir.of(out).checkpoint.exists()
                            or (out.exists() and any(out.iterdir()))):
        raise ConfigError(f"--out {out}: already exists and is not empty; choose a new directory")
    run = Run.open(run_dir)
    done, total = run.progress
    if done == 0 or done < total:
        raise ConfigError(f"{run.path}: training is not finished ({done} of {total} updates)")
    run_dir = run.path
    config, data, parts = run.config, run.data, run.parts
    whole_updates, top_rate = whole_run_budget(run)
    updates = updates or max(100, whole_updates // 5)
    learning_rate = learning_rate or 0.1 * top_rate
    statistics = data_statistics(parts["train"])  # once, for every candidate
    known = [o for o in measured if o.horizon == horizon]
    before = next((o for o in known if not o.changes and not o.updates), None)
    if before is None:
        with say(f"measuring the run as trained ({horizon}-step rollouts)"):
            before = measure(run.trained, config, parts, horizon=horizon, statistics=statistics)
    if progress:
        print(f"  diverged {before.diverged} / {before.rollouts}"
              + (f", first at step {before.first_divergence}" if before.diverged else ""))
    fixes = candidate_fixes(config, parts["train"], tolerated_bias=tolerated_bias,
                            normalization=run.normalization,
                            noise_floor=one_step_error(run.trained, parts, run.normalization),
                            statistics=statistics)
    workspace = (RunDir.of(run_dir).path / "stabilize" / "candidates" if out is None
                 else out.with_name(out.name + ".candidates"))
    if workspace.exists():
        shutil.rmtree(workspace)
    outcomes: list[tuple[Outcome, pathlib.Path]] = []

    def attempt(fix: Fix, label: str) -> None:
        cfg = fine_tune_config(config, run_dir, fix, updates, learning_rate)
        target = workspace / f"{len(outcomes) + 1:02d}"
        if progress:
            how = (f"{updates} updates at learning rate {learning_rate:.3g} from the trained run"
                   if fix.trains else "no training")
            print(f"candidate {label}: {fix.name} ({how}) - {fix.reason}")
        try:
            if fix.trains:
                tuned = train_run(cfg, target, dataset=data, progress=progress)
            else:
                apply_without_training(run_dir, target, cfg)
                tuned = Run(target).trained
        except TrainingError as err:  # a fix whose training fails is measured as failing
            if progress:
                print(f"  training failed: {err}")
            return
        same = [o for o in known if o.changes == fix.changes and not o.updates]
        if not fix.trains and same:  # measured by the caller already
            outcomes.append((same[0], target))
            return
        with say(f"  measuring {fix.name}"):
            outcome = measure(tuned, cfg, parts, horizon=horizon, name=fix.name,
                              statistics=statistics,
                              changes=fix.changes, updates=updates if fix.trains else 0)
        if progress:
            print(f"  diverged {outcome.diverged} / {outcome.rollouts}; error "
                  + ", ".join(f"{k} {v:.4g}" for k, v in outcome.errors.items()))
        outcomes.append((outcome, target))

    for i, fix in enumerate(fixes, 1):
        attempt(fix, f"{i}/{len(fixes)}")
    for i in range(refine):
        extra = refined_noise([o for o, _ in outcomes], before, tolerance)
        if extra is None:
            break
        attempt(extra, f"refinement {i + 1}/{refine}")
    combined = combined_fix(before, [o for o, _ in outcomes], tolerance,
                            band_filter_offered=any(f.name == "band filter" for f in fixes))
    if combined is not None:
        attempt(combined, "combined")
    projected = projected_fine_tune(before, [o for o, _ in outcomes], tolerance)
    if projected is not None:
        attempt(projected, "combined")
    capped = capped_fix(before, [o for o, _ in outcomes], tolerance)
    if capped is not None:
        attempt(capped, "combined")
    chosen = choose(before, [o for o, _ in outcomes], tolerance)
    kept = None
    if chosen is not None and out is not None:
        source = dict((id(o), p) for o, p in outcomes)[id(chosen)]
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.rmdir()
        if keep_candidates:
            shutil.copytree(source, out)
        else:
            os.replace(source, out)
        kept = out
    if (not keep_candidates or out is None) and workspace.exists():
        shutil.rmtree(workspace)
    report_dir = RunDir.of(run_dir).path / "stabilize"
    result_ = Stabilization(before, [o for o, _ in outcomes], chosen, kept,
                            report_dir / "stabilize.md", tolerance)
    write_report(result_, run_dir, report_dir)
    if kept is not None:
        write_report(result_, run_dir, kept / "stabilize")
    return result_
