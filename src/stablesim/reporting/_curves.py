"""Turn long-format metric rows into curves and aggregates (no plotting here)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np


def seed_curves(rows: Iterable[dict], metric: str, test_set: str, *,
                model: str = "learned") -> dict[int, np.ndarray]:
    """Per seed: the metric at horizons 1..T, averaged over test cases.

    `model` picks the learned simulator's rows or the baseline's
    (`"solver_alone"`, whose one curve has the key -1).
    """
    acc: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("model", "learned") != model:
            continue
        if r["metric"] == metric and r["test_set"] == test_set and r["horizon"] not in (None, ""):
            value = r["value"]
            seed = -1 if r["seed"] in (None, "", "None") else int(r["seed"])
            acc[seed][int(r["horizon"])].append(np.nan if value in (None, "") else float(value))
    out = {}
    for seed, by_h in acc.items():
        hs = sorted(by_h)
        out[seed] = np.array([np.mean(by_h[h]) for h in hs])
    return out


def band(curves: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, low, high) over seeds of per-seed curves."""
    stack = np.stack(list(curves.values()))
    steps = np.arange(1, stack.shape[1] + 1)
    return steps, stack.mean(axis=0), stack.min(axis=0), stack.max(axis=0)


def training_curve(history: Iterable[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(update, loss averaged over seeds) from `train_log.csv` rows."""
    acc: dict[int, list[float]] = defaultdict(list)
    for r in history:
        loss = float(r["loss"])
        if np.isfinite(loss):
            acc[int(r["step"])].append(loss)
    steps = np.array(sorted(acc))
    return steps, np.array([np.mean(acc[s]) for s in steps])
