"""Long rollouts of a run judged by the data's own statistics: diverges, unphysical, stable.

Every seed's simulator is rolled out from every start of a set for
`evaluation.stability_steps` steps (only the current state kept, plus
`SNAPSHOTS` states of the second half); each rollout gets the verdict of
`stablesim.evaluation.physical_verdict` against the training data's
statistics and its own reference trajectory's largest rms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..config import RunConfig
from ..data import TrajectoryDataset
from ..evaluation import (
    VERDICTS,
    DataStatistics,
    PhysicalTolerances,
    PhysicsSummary,
    RolloutPhysics,
    divergence_bounds,
    long_rollout,
    physical_verdict,
)
from ..simulators import solver_errors

SNAPSHOTS = 10
"""States kept from the second half of each long rollout for its statistics."""


STATISTICS_FRAMES = 4000  # frames the statistics are taken over (evenly spaced)
STATISTICS_MIN_BYTES = 256 << 20  # data up to this size are read whole for them


def data_statistics(train: TrajectoryDataset) -> DataStatistics:
    """The training data's statistics (`DataStatistics.of_trajectories` over at most
    `STATISTICS_FRAMES` evenly spaced frames, of all trajectories up to 256 MiB, else of
    evenly spaced ones holding about that many frames): what long rollouts, the band
    filter and its candidate are all measured against."""
    periodic = len(train.state_shape) > 1 and set(train.boundary) == {"periodic"}
    frame_bytes = int(np.prod(train.state_shape)) * 4
    read = max(STATISTICS_MIN_BYTES, STATISTICS_FRAMES * frame_bytes)
    return DataStatistics.of_trajectories(train.sampled(read), periodic=periodic,
                                          max_frames=STATISTICS_FRAMES)


def tolerances_of(config: RunConfig) -> PhysicalTolerances:
    p = config.evaluation.physics
    return PhysicalTolerances(p.empty_band_fraction, p.rms_ratio, p.wasserstein)


@solver_errors()
def long_physics(simulators: Sequence, test: TrajectoryDataset, data: DataStatistics,
                 config: RunConfig, *, steps: int | None = None) -> list[list[RolloutPhysics]]:
    """The verdict of every simulator's long rollout from every start of `test`.

    **Arguments:**

    - `simulators`: e.g. every seed's trained simulator.
    - `test`: the starts (first frames) and their reference trajectories.
    - `data`: the training data's statistics (`data_statistics`).
    - `config`: `evaluation.stability_steps`, `divergence_margin`, `physics`.
    - `steps`: the horizon, if not `evaluation.stability_steps`.

    **Returns:**

    `[simulator][start]` `RolloutPhysics`.
    """
    ev = config.evaluation
    steps = steps or ev.stability_steps
    lower, upper, reference_rms = reference_ranges(test, ev.divergence_margin)
    initial, params = jnp.asarray(test.trajectories[:, 0]), jnp.asarray(test.params)
    tolerances = tolerances_of(config)
    out = []
    for sim in simulators:
        first, late = long_rollout(sim, initial, params, lower, upper, steps=steps,
                                   snapshots=SNAPSHOTS)
        out.append([physical_verdict(int(first[b]) if first[b] <= steps else None,
                                     None if late is None else late[:, b],
                                     float(reference_rms[b]), data, tolerances)
                    for b in range(len(first))])
    return out


def reference_ranges(test: TrajectoryDataset, margin: float
                     ) -> tuple[jax.Array, jax.Array, np.ndarray]:
    """Per start: the divergence bounds and the largest frame rms of its reference
    trajectory, read one trajectory at a time (a set on disk is never loaded whole).

    **Returns:** `(lower, upper, reference_rms)`, one value each per trajectory.
    """
    lows, highs, rms = [], [], []
    for b in range(test.num_trajectories):
        trajectory = np.asarray(test.trajectories[b])  # (T, *state)
        lo, hi = divergence_bounds(trajectory[None], margin=margin)
        lows.append(lo[0])
        highs.append(hi[0])
        squares = np.mean(trajectory.astype(np.float64).reshape(len(trajectory), -1) ** 2, 1)
        rms.append(float(np.sqrt(squares.max())))
    return jnp.stack(lows), jnp.stack(highs), np.asarray(rms)


def physics_summary(per_start: Sequence[RolloutPhysics], steps: int) -> PhysicsSummary:
    """Counts of each verdict, the statistics' means and worsts, the worst reason."""
    counts = Counter(p.verdict for p in per_start)
    spreads = {}
    for key in ("empty_band_fraction", "rms_ratio", "wasserstein"):
        values = [getattr(p, key) for p in per_start if getattr(p, key) is not None]
        spreads[key] = ({"mean": float(np.mean(values)), "max": float(np.max(values))}
                        if values else None)
    unphysical = [p for p in per_start if p.verdict == "bounded but unphysical"]
    return PhysicsSummary.model_validate({
        "steps": steps, "rollouts": len(per_start),
        "verdicts": {v: counts.get(v, 0) for v in VERDICTS}, **spreads,
        "worst_reason": unphysical[0].reason if unphysical else None})
