"""The results of one evaluated run, typed: what `metrics.json` holds, written and read here only.

`stablesim.runs.evaluate_run` builds a `Metrics`; the terminal table, the run's
plots and a study's report and intervals read it. The file keeps the long
format it always had (summaries per test set, then one row per seed, start,
metric and horizon), so older `metrics.json` files still read.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from .._atomic import atomic_write_json
from .._errors import DataError

VERDICTS = ("stable", "bounded but unphysical", "diverges")
"""The long-rollout verdicts, in the order `long_verdict` rows number them."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Stat(_Record):
    """A metric's mean and standard deviation over seeds of the per-seed means (None: a
    seed's value is not finite)."""

    mean: float | None = None
    std: float | None = None
    per_seed: list[int | float | None] = []


class Divergences(Stat):
    """Diverged test rollouts: per seed, in total, and the first step any diverged at."""

    total: int = 0
    first_step: int | None = None


class LongDivergences(_Record):
    """Diverged long rollouts (`evaluation.stability_steps`)."""

    total: int
    first_step: int | None = None
    per_seed: list[int] = []


class ChannelErrors(_Record):
    """One channel's errors at the horizon, mean over seeds (the data's units for `rmse`)."""

    vrmse: float | None = None
    rel_error: float | None = None
    rmse: float | None = None


class Spread(_Record):
    mean: float
    max: float


class PhysicsSummary(_Record):
    """The long rollouts' verdicts and statistics against the data's own."""

    steps: int
    rollouts: int
    verdicts: dict[str, int]
    empty_band_fraction: Spread | None = None
    rms_ratio: Spread | None = None
    wasserstein: Spread | None = None
    worst_reason: str | None = None

    def words(self) -> str:
        """`12 stable, 3 bounded but unphysical, 1 diverge of 16; e.g. <reason>`."""
        v = self.verdicts
        line = (f"{v.get('stable', 0)} stable, {v.get('bounded but unphysical', 0)} bounded "
                f"but unphysical, {v.get('diverges', 0)} diverge of {self.rollouts}")
        return line + (f"; e.g. {self.worst_reason}" if self.worst_reason else "")


class SetSummary(_Record):
    """One test set's summary over seeds (see `stablesim.runs.evaluate_run`)."""

    rel_error: Stat
    mse: Stat = Stat()
    correlation: Stat = Stat()
    decorrelation_time: Stat = Stat()
    divergences: Divergences = Divergences()
    gmean100_nrmse: Stat | None = None
    vrmse: Stat | None = None
    cases: int = 0
    per_channel: dict[str, ChannelErrors] = {}
    long_divergences: LongDivergences | None = None
    physics: PhysicsSummary | None = None


class Baseline(_Record):
    """The solver alone, rolled out from the same starts."""

    name: str = "solver alone"
    solver: str | None = None
    summary: dict[str, SetSummary] = {}


class GradientRow(_Record):
    """The WIG-to-NOG gradient diagnostic at one unroll `m`."""

    m: int
    wig_norm: float | None = None
    nog_norm: float | None = None
    ratio: float | None = None
    cosine: float | None = None


class MetricRow(_Record):
    """One value: a seed's (None: a baseline's) metric on one start at one horizon; `model`
    is "learned", "solver_alone" or "persistence"."""

    test_set: str
    case: int
    seed: int | None = None
    metric: str
    horizon: int | None = None
    value: float | None = None
    model: str = "learned"


class Metrics(_Record):
    """Everything one evaluation measured; `metrics.json` is its JSON form."""

    run: str = ""
    horizon: int
    steps: int = 0
    seeds: list[int] = []
    updates: int | None = None
    setup: str | None = None
    data_fingerprint: str | None = None
    channels: list[str] = []
    evaluation: dict[str, Any] = {}
    divergence_rule: str = ""
    summary: dict[str, SetSummary] = {}
    baseline: Baseline | None = None
    persistence: dict[str, SetSummary] = {}
    """Per test set, the initial state held (`u_t = u_0`): the baseline where there is no
    solver to compare with; empty where there is one."""
    gradient_alignment: list[GradientRow] = []
    gradient_alignment_note: str | None = None
    rows: list[MetricRow] = []

    @classmethod
    def read(cls, path: str | os.PathLike) -> Metrics:
        """A `metrics.json`; a missing, corrupt or foreign file ends in one `DataError` line."""
        path = pathlib.Path(path)
        if not path.exists():
            run = path.parent
            raise DataError(f"{run}: not evaluated yet (no metrics.json); run `stablesim "
                            f"evaluate {run}`")
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (json.JSONDecodeError, ValidationError):
            raise DataError(f"{path}: corrupt metrics file") from None

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically (a reader never sees half a file)."""
        atomic_write_json(path, self.model_dump(mode="json"))

    @property
    def plots(self) -> bool:
        """Whether the evaluation asked for plots."""
        return bool(self.evaluation.get("plots", True))

    @property
    def stability_steps(self) -> int:
        """The long rollouts' length (0: none were run)."""
        return int(self.evaluation.get("stability_steps") or 0)

    def baseline_of(self, test_set: str) -> SetSummary | None:
        """The solver alone's summary on a test set (None: no solver, or not that set)."""
        return None if self.baseline is None else self.baseline.summary.get(test_set)

    def start_errors(self, test_set: str, *, model: str = "learned") -> np.ndarray | None:
        """Relative errors at the headline horizon of every seed and start: `(seeds, starts)`.

        **Arguments:**

        - `test_set`: e.g. "interpolation".
        - `model`: "learned", "solver_alone" or "persistence" (one row each: they have
            no seeds).

        **Returns:**

        The array (a diverged start counts 1.0), or None where there are no such rows.
        """
        rows = [r for r in self.rows if r.metric == "rel_error" and r.horizon == self.horizon
                and r.test_set == test_set and r.model == model]
        if not rows:
            return None
        seeds = sorted({r.seed for r in rows}, key=lambda s: (s is None, s))
        out = np.full((len(seeds), 1 + max(r.case for r in rows)), np.nan)
        for r in rows:
            out[seeds.index(r.seed), r.case] = 1.0 if r.value is None else r.value
        return out

    def validation_error(self) -> float | None:
        """Mean validation error at the horizon (None: the run has no validation set)."""
        errors = self.start_errors("validation")
        return None if errors is None else float(np.mean(errors))

    def curves(self, metric: str, test_set: str, *, model: str = "learned"
               ) -> dict[int, np.ndarray]:
        """Per seed (-1: a baseline, which has no seeds): the metric at horizons 1..T, mean
        over starts."""
        acc: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in self.rows:
            if (r.model == model and r.metric == metric and r.test_set == test_set
                    and r.horizon is not None):
                seed = -1 if r.seed is None else r.seed
                acc[seed][r.horizon].append(np.nan if r.value is None else r.value)
        return {seed: np.array([np.mean(by_h[h]) for h in sorted(by_h)])
                for seed, by_h in acc.items()}
