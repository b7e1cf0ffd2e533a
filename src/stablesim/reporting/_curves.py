"""Curves and aggregates for the figures (no plotting here)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np


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
