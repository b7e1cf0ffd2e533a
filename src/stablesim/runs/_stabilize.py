"""`stablesim stabilize RUN --out NEW`: try fixes, measure them, keep the best verified one.

Every candidate fix is a short fine-tune of the trained run (`model.init_from`)
with one config change: projection onto the data subspace, noise injection at
a few strengths, unrolled training, or no change at all (the control: is
more training alone enough?). Each is measured the same way as the run
itself: divergence of long rollouts from every validation start over the horizon
(no long reference needed) and the relative error at `evaluation.horizon`
frames where the reference exists. The fixes are ranked by that measurement,
never by theory.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import shutil
from typing import Any

import numpy as np

from .._atomic import atomic_write_json, atomic_write_text
from .._errors import ConfigError, TrainingError
from .._progress import reporter
from .._rundir import RunDir
from ..config import RunConfig, apply_overrides, validate, write_yaml
from ..data import Normalization, TrajectoryDataset
from ..evaluation import relative_error
from ..stability import energy_spectrum, recommend_noise
from ..training import TrainResult, copy_checkpoint
from ._data_source import (
    copy_data_record,
)
from ._evaluate import VALIDATION, long_divergences, rollout_seeds
from ._lifecycle import train_run
from ._opened import Run

NOISE_FACTORS = (1.0, 3.0, 10.0, 30.0, 100.0)
"""Noise candidates: these multiples of the horizon-aware recommended sigma."""


@dataclasses.dataclass(frozen=True)
class Fix:
    """One candidate: a name, the config changes (dotted key -> value) and why.

    **Fields:**

    - `name`: short label for tables.
    - `changes`: dotted config keys and their new values.
    - `reason`: what it is meant to do, in one sentence.
    - `trains`: whether it fine-tunes (False: the trained weights with the
        change applied, e.g. a projection).
    """

    name: str
    changes: dict[str, Any]
    reason: str
    trains: bool = True


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The measured effect of a model on long rollouts and short-horizon error.

    **Fields:**

    - `name`: the fix's name ("as trained" for the run itself).
    - `changes`: its config changes.
    - `divergence_steps`: `(seeds, cases)` first divergence step over all
        validation set (`horizon + 1`: never).
    - `errors`: per measured set, the relative error at `evaluation.horizon`
        frames (mean over cases, then seeds).
    - `horizon`: the long-rollout horizon.
    - `updates`: fine-tuning updates (0 for the run itself).
    """

    name: str
    changes: dict[str, Any]
    divergence_steps: np.ndarray
    errors: dict[str, float]
    horizon: int
    updates: int

    @property
    def diverged(self) -> int:
        return int((self.divergence_steps <= self.horizon).sum())

    @property
    def rollouts(self) -> int:
        return int(self.divergence_steps.size)

    @property
    def stable(self) -> bool:
        return self.diverged == 0

    @property
    def first_divergence(self) -> int | None:
        return int(self.divergence_steps.min()) if self.diverged else None

    @property
    def mean_error(self) -> float:
        return float(np.mean(list(self.errors.values())))

    def within(self, before: Outcome, tolerance: float) -> bool:
        """Error at most `1 + tolerance` times `before`'s on every measured set."""
        return all(self.errors[k] <= (1 + tolerance) * before.errors[k] for k in before.errors)

    def as_dict(self) -> dict:
        return {"name": self.name, "changes": self.changes, "updates": self.updates,
                "horizon": self.horizon, "diverged": self.diverged, "rollouts": self.rollouts,
                "first_divergence": self.first_divergence,
                "median_divergence_step": float(np.median(self.divergence_steps)),
                "errors": self.errors}


def candidate_fixes(config: RunConfig, train: TrajectoryDataset, *,
                    tolerated_bias: float = 0.05,
                    normalization: Normalization | None = None) -> list[Fix]:
    """The fixes worth measuring for a run, none of which it already uses.

    **Arguments:**

    - `config`: the trained run's config.
    - `train`: its training set (energy spectrum, window length).
    - `tolerated_bias`: the compounded noise bias at `evaluation.horizon`
        that the base noise level allows (`recommend_noise`).
    - `normalization`: the run's, if it normalizes: noise levels are then in
        its units (the units the input noise is added in).

    **Returns:**

    The candidates, the control ("more training", no change) first.
    """
    fixes = [Fix("more training", {}, "the same config trained longer: the control")]
    sample = train.sampled()
    energy = energy_spectrum(sample if normalization is None
                             else normalization.trajectories(sample), fourier=False)
    if energy.unlearnable_dimension and not config.simulator.projection:
        fixes.append(Fix("projection", {"simulator.projection": True},
                         f"{energy.unlearnable_dimension} of {energy.num_features} directions "
                         "have no data energy; the trained weights, every step projected onto "
                         "the data subspace", trains=False))
    modality = _final_modality(config)
    sigma = recommend_noise(energy.energies, tolerated_bias=tolerated_bias, rank=energy.rank,
                            horizon=config.evaluation.horizon)
    for factor in NOISE_FACTORS:
        value = float(f"{factor * sigma:.3g}")
        if value > modality["noise"]:
            fixes.append(Fix(f"noise {value:g}", {"modality.noise": value},
                             f"{factor:g}x the sigma whose bias compounded over "
                             f"{config.evaluation.horizon} steps is {tolerated_bias:.0%}: damps "
                             "every direction, most those without data"))
    unroll = 2 * modality["unroll"] if modality["name"] != "ONE" else 8
    if modality["pushforward"] + unroll + 1 <= train.num_frames:
        name = "NOG" if modality["name"] in ("ONE", "NOG") or config.external_solver else "WIG"
        fixes.append(Fix(f"{name} m={unroll}", {"modality.name": name, "modality.unroll": unroll},
                         "unrolled training sees its own rollout errors"))
    return fixes


def _final_modality(config: RunConfig) -> dict:
    return config.stages[-1].modality.model_dump(mode="json")


def with_changes(config: RunConfig, fix: Fix) -> RunConfig:
    """`config` with the fix's changes applied and validated (no training changes)."""
    raw = apply_overrides(config.model_dump(mode="json"), list(fix.changes.items()))
    return validate(RunConfig, raw, source=f"fix {fix.name!r}")


def fine_tune_config(config: RunConfig, source: str | os.PathLike, fix: Fix,
                     updates: int, learning_rate: float) -> RunConfig:
    """The config of a fine-tune of `source` with `fix` applied (curriculum: its last stage),
    at a constant learning rate; without training (`fix.trains` False) the source's config
    with the change (`with_changes`)."""
    if not fix.trains:
        return with_changes(config, fix)
    raw = config.model_dump(mode="json")
    raw["modality"] = _final_modality(config)
    raw["training"].pop("curriculum", None)
    raw["training"]["updates"] = int(updates)
    raw["training"]["ramp"] = 0
    raw["training"]["learning_rate"] = float(learning_rate)
    raw["training"]["schedule"] = "constant"
    # log and checkpoint at a divisor of 100 that divides the updates
    raw["training"]["checkpoint_every"] = raw["training"]["log_every"] = math.gcd(updates, 100)
    raw["model"]["init_from"] = str(pathlib.Path(source).resolve())
    return with_changes(validate(RunConfig, raw, source=f"fix {fix.name!r}"), fix)


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


def measure(result: TrainResult, config: RunConfig, parts: dict[str, TrajectoryDataset], *,
            horizon: int, name: str = "as trained", changes: dict | None = None,
            updates: int = 0) -> Outcome:
    """Long-rollout divergence and short-horizon error of every seed of a trained run.

    **Arguments:**

    - `result`: the trained networks.
    - `config`: their run's config (evaluation section: horizon, margin).
    - `parts`: the split dataset (its validation set is measured; the training set
        where there is none: choices never look at a test set).
    - `horizon`: steps of the long rollouts.
    - `name`, `changes`, `updates`: how the table names it.

    **Returns:**

    An `Outcome`.
    """
    ev = config.evaluation
    tests = choice_sets(parts)
    sims = [result.simulator_for(i) for i in range(len(result.seeds))]
    steps, errors = [], {}
    for test_set, test in tests.items():
        steps.append(long_divergences(sims, test, steps=horizon, margin=ev.divergence_margin))
        frames = min(ev.horizon, test.num_frames - 1)
        every = rollout_seeds(result, test.trajectories[:, 0], test.params, frames)
        ref = test.trajectories[:, 1 : frames + 1]
        errors[test_set] = float(np.mean(  # mean over cases, then over seeds
            [np.mean(np.asarray(relative_error(p, ref, horizon=frames))) for p in every]))
    return Outcome(name, dict(changes or {}), np.concatenate(steps, axis=1), errors, horizon,
                   updates)


def choose(before: Outcome, outcomes: list[Outcome], tolerance: float) -> Outcome | None:
    """The best verified fix: stable on every rollout, error within the tolerance if any is,
    then the smallest mean error (None: no candidate is stable)."""
    stable = [o for o in outcomes if o.stable]
    within = [o for o in stable if o.within(before, tolerance)]
    pool = within or stable
    return min(pool, key=lambda o: o.mean_error) if pool else None


def refined_noise(outcomes: list[Outcome], before: Outcome, tolerance: float) -> Fix | None:
    """The next noise level to try, or None when a candidate already meets the tolerance.

    Noise trades stability (damping) for bias: between the strongest noise
    that still diverges and the weakest that is stable (but too biased) lies
    the best compromise; the geometric mean of the two is tried next.
    """
    if any(o.stable and o.within(before, tolerance) for o in outcomes):
        return None
    noisy = [(o.changes["modality.noise"], o) for o in outcomes
             if list(o.changes) == ["modality.noise"]]
    stable = [v for v, o in noisy if o.stable]
    if not stable:
        return None
    hi = min(stable)
    below = [v for v, o in noisy if not o.stable and v < hi]
    if not below:
        return None
    value = float(f"{np.sqrt(max(below) * hi):.3g}")
    if value in [v for v, _ in noisy]:
        return None
    return Fix(f"noise {value:g}", {"modality.noise": value},
               f"between {max(below):g} (diverges) and {hi:g} (stable, error "
               f"{dict(noisy)[hi].mean_error / before.mean_error:.2f}x before)")


@dataclasses.dataclass(frozen=True)
class Stabilization:
    """What `stabilize_run` measured and kept.

    **Fields:**

    - `before`: the run as trained.
    - `outcomes`: every candidate, in the order tried.
    - `chosen`: the kept one (None: no candidate was stable).
    - `out_dir`: the new run directory (None when nothing was kept).
    - `report`: the markdown report's path.
    - `tolerance`: the allowed error increase.
    """

    before: Outcome
    outcomes: list[Outcome]
    chosen: Outcome | None
    out_dir: pathlib.Path | None
    report: pathlib.Path
    tolerance: float

    def summary(self) -> str:
        """One sentence: what was kept and its measured effect, or that nothing worked."""
        b, c = self.before, self.chosen
        before = (f"diverged {b.diverged} of {b.rollouts} rollouts within {b.horizon} steps"
                  + (f" (first at step {b.first_divergence})" if b.diverged else ""))
        if c is None:
            return (f"As trained the model {before}; no candidate kept every rollout inside "
                    f"for {b.horizon} steps, so nothing was kept. Train longer, or from "
                    "scratch with a change from the table.")
        change = ", ".join(f"{k}: {v}" for k, v in c.changes.items()) or "no change"
        ratio = c.mean_error / b.mean_error if b.mean_error > 0 else float("inf")
        bound = "within" if c.within(b, self.tolerance) else "NOT within"
        how = f"{c.updates} fine-tuning updates" if c.updates else "no training"
        verb = "Kept" if self.out_dir is not None else "Best (measured only, nothing written)"
        return (f"As trained the model {before}. {verb}: {c.name} ({change}; {how}): 0 of "
                f"{c.rollouts} rollouts diverge, and its error is {ratio:.3g}x before ({bound} "
                f"the {self.tolerance:.0%} tolerance on the validation set).")

    def table(self) -> str:
        """Markdown table: the run and every candidate, chosen one marked."""
        sets = list(self.before.errors)
        head = ("| model | config change | updates | diverged within "
                f"{self.before.horizon} steps | first divergence | "
                + " | ".join(f"rel. error {s}" for s in sets) + " | verdict |")
        lines = [head, "|" + " --- |" * (6 + len(sets))]
        for o in [self.before, *self.outcomes]:
            change = ", ".join(f"`{k}: {v}`" for k, v in o.changes.items()) or "-"
            if o is self.before:
                verdict = "before"
            elif o is self.chosen:
                verdict = "**kept**"
            elif not o.stable:
                verdict = "diverges"
            elif not o.within(self.before, self.tolerance):
                verdict = f"error > {1 + self.tolerance:.2f}x before"
            else:
                verdict = "stable, larger error"
            first = "-" if o.first_divergence is None else str(o.first_divergence)
            lines.append(f"| {o.name} | {change} | {o.updates} | {o.diverged} / {o.rollouts} | "
                         f"{first} | " + " | ".join(f"{o.errors[s]:.4g}" for s in sets)
                         + f" | {verdict} |")
        return "\n".join(lines)


def stabilize_run(run_dir: str | os.PathLike | Run, out: str | os.PathLike | None, *,
                  horizon: int = 10_000,
                  updates: int | None = None, learning_rate: float | None = None,
                  tolerance: float = 0.10,
                  tolerated_bias: float = 0.05, refine: int = 2,
                  keep_candidates: bool = False, progress: bool = True) -> Stabilization:
    """Fine-tune a trained run with each candidate fix, measure, keep the best as a new run.

    **Arguments:**

    - `run_dir`: a trained run directory (left unchanged, apart from its
        `stabilize/` report folder).
    - `out`: the new run directory of the kept fix (must not hold a run);
        None: measure and rank only, keep nothing (`diagnose --verify`).
    - `horizon`: long-rollout steps every validation start must survive.
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
    updates = updates or max(100, total // 5)
    learning_rate = learning_rate or 0.1 * config.stages[-1].learning_rate
    with say(f"measuring the run as trained ({horizon}-step rollouts)"):
        before = measure(run.trained, config, parts, horizon=horizon)
    if progress:
        print(f"  diverged {before.diverged} / {before.rollouts}"
              + (f", first at step {before.first_divergence}" if before.diverged else ""))
    fixes = candidate_fixes(config, parts["train"], tolerated_bias=tolerated_bias,
                            normalization=run.normalization)
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
        with say(f"  measuring {fix.name}"):
            outcome = measure(tuned, cfg, parts, horizon=horizon, name=fix.name,
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
    _write_report(result_, run_dir, report_dir)
    if kept is not None:
        _write_report(result_, run_dir, kept / "stabilize")
    return result_


def ranked(before: Outcome, outcomes: list[Outcome], tolerance: float) -> list[Outcome]:
    """Best first: stable within the tolerance, stable, fewest divergences; then smallest error."""
    return sorted(outcomes, key=lambda o: (not (o.stable and o.within(before, tolerance)),
                                           not o.stable, o.diverged, o.mean_error))


def _write_report(s: Stabilization, run_dir, folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "stabilize.json", {
        "run": str(run_dir), "out": None if s.out_dir is None else str(s.out_dir),
        "tolerance": s.tolerance, "before": s.before.as_dict(),
        "candidates": [o.as_dict() for o in s.outcomes],
        "chosen": None if s.chosen is None else s.chosen.name})
    atomic_write_text(folder / "stabilize.md", "\n\n".join([
        f"# Stabilizing {pathlib.Path(run_dir).name}",
        s.summary(),
        "Each candidate fine-tunes the trained run with one config change; every seed is rolled "
        f"out from every validation start (the training starts where the data have no "
        f"validation set; never a test start) for {s.before.horizon} steps (diverged: a value "
        "not finite or outside the trajectory's range widened by evaluation.divergence_margin), and "
        "the relative error is taken at evaluation.horizon frames.",
        s.table(), ""]))
