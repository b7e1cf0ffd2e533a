"""Per-start errors of an evaluated run, as arrays (what every interval is computed from)."""

from __future__ import annotations

import numpy as np


def start_errors(metrics: dict, test_set: str, *, model: str = "learned") -> np.ndarray | None:
    """Relative errors at the headline horizon of every seed and start: `(seeds, starts)`.

    **Arguments:**

    - `metrics`: a run's `metrics.json` contents.
    - `test_set`: e.g. "interpolation".
    - `model`: "learned", or "solver_alone" (one row: it has no seeds).

    **Returns:**

    The array, or None where the run has no such rows.
    """
    horizon = metrics["horizon"]
    rows = [r for r in metrics["rows"] if r["metric"] == "rel_error" and r["horizon"] == horizon
            and r["test_set"] == test_set and r.get("model", "learned") == model]
    if not rows:
        return None
    seeds = sorted({r["seed"] for r in rows}, key=lambda s: (s is None, s))
    starts = 1 + max(int(r["case"]) for r in rows)
    out = np.full((len(seeds), starts), np.nan)
    for r in rows:
        out[seeds.index(r["seed"]), int(r["case"])] = 1.0 if r["value"] is None else r["value"]
    return out


def validation_error(metrics: dict | None) -> float | None:
    """Mean validation error at the horizon (None: not evaluated, or no validation set)."""
    if metrics is None:
        return None
    errors = start_errors(metrics, "validation")
    return None if errors is None else float(np.mean(errors))
