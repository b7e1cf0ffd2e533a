"""One rule for "the same parameter value": equal to float32 precision (importable without JAX)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RELATIVE_TOLERANCE = 1e-5  # parameters are stored as float32


def matches(column: np.ndarray | Sequence[float], value: float) -> np.ndarray:
    """Which entries of `column` equal `value`: |x - v| <= 1e-5 max(1, |v|).

    **Arguments:**

    - `column`: parameter values (e.g. one column of a dataset's parameters).
    - `value`: the value looked for.

    **Returns:**

    A boolean array shaped like `column`.
    """
    col = np.asarray(column, dtype=np.float64)
    return np.abs(col - float(value)) <= RELATIVE_TOLERANCE * max(1.0, abs(float(value)))


def same_values(values: Sequence[float], others: Sequence[float]) -> list[float]:
    """The `values` that equal one of `others` (see `matches`)."""
    return [v for v in values if others and bool(matches(others, v).any())]
