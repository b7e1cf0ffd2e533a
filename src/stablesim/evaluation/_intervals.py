"""Ratios of errors with bootstrap 95% intervals, and the three-way verdict they give.

The resampling is SciPy's (`scipy.stats.bootstrap`); this module only says
what is resampled (paired errors of two models on the same seed and start,
or two independent samples) and how an interval becomes a verdict.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Literal

import numpy as np
from jaxtyping import Float
from scipy import stats

RESAMPLES = 9999
CONFIDENCE = 0.95
FEW_SEEDS = 5
Verdict = Literal["holds", "not significant", "fails"]


@dataclasses.dataclass(frozen=True)
class RatioInterval:
    """A ratio of mean errors with its bootstrap interval.

    **Fields:**

    - `ratio`: mean of the numerator's errors / mean of the denominator's.
    - `low`, `high`: the 95% bootstrap interval of the ratio.
    - `pairs`: how many values each mean is over (seeds x starts when paired).
    - `paired`: whether pairs were resampled together.
    - `resamples`: the bootstrap resample count.
    - `method`: SciPy's interval method (`BCa`, or `percentile` where BCa is
        undefined, e.g. for a ratio that is the same in every resample).
    """

    ratio: float
    low: float
    high: float
    pairs: int
    paired: bool
    resamples: int = RESAMPLES
    method: str = "BCa"

    def verdict(self, claim: Literal["below", "above"] = "below") -> Verdict:
        """"holds" if the interval lies on the claimed side of 1, "fails" if on the other.

        **Arguments:**

        - `claim`: "below" (the numerator's error is smaller) or "above".

        **Returns:**

        "holds", "not significant" (the interval contains 1) or "fails".
        """
        below, above = self.high < 1.0, self.low > 1.0
        if not (below or above):
            return "not significant"
        return "holds" if below == (claim == "below") else "fails"

    def text(self, digits: int = 3) -> str:
        """E.g. `0.81 [0.58, 1.05]`."""
        return f"{self.ratio:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def _ratio_of_means(x, y, axis=-1):
    return np.mean(x, axis=axis) / np.mean(y, axis=axis)


def _interval(samples: tuple[np.ndarray, ...], paired: bool, resamples: int, seed: int,
              method: str) -> tuple[float, float, str]:
    for how in dict.fromkeys((method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate resamples: handled below
            result = stats.bootstrap(samples, _ratio_of_means, paired=paired, vectorized=True,
                                     n_resamples=resamples, confidence_level=CONFIDENCE,
                                     method=how, rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high, how
    ratio = float(_ratio_of_means(*samples))  # every resample gives the same ratio
    return ratio, ratio, "percentile"


def paired_ratio(
    numerator: Float[np.ndarray, "*seeds_a starts"],
    denominator: Float[np.ndarray, "*seeds_b starts"],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    method: Literal["BCa", "percentile"] = "BCa",
) -> RatioInterval:
    """Ratio of two models' mean errors with a paired bootstrap 95% interval.

    Entry `[s, i]` of both arrays is the error of the same seed index `s`
    from the same start `i` (a test trajectory), so the pairs `(s, i)` are
    resampled together: a start that is hard for both models moves both
    means. A model without seeds (the solver alone) is repeated over seeds.

    **Arguments:**

    - `numerator`, `denominator`: errors `(seeds, starts)` (or `(starts,)`).
    - `resamples`: bootstrap resamples.
    - `seed`: seed of the resampling (the same inputs give the same interval).
    - `method`: SciPy's interval method; BCa falls back to percentile where
        it is undefined.

    **Returns:**

    A `RatioInterval`.
    """
    num, den = np.broadcast_arrays(np.atleast_2d(numerator), np.atleast_2d(denominator))
    num, den = num.astype(np.float64).ravel(), den.astype(np.float64).ravel()
    if num.size < 2:
        raise ValueError(f"a bootstrap needs at least 2 pairs, got {num.size}")
    low, high, how = _interval((num, den), True, resamples, seed, method)
    return RatioInterval(float(num.mean() / den.mean()), low, high, int(num.size), True,
                         resamples, how)


def unpaired_ratio(
    numerator: Float[np.ndarray, ...],
    denominator: Float[np.ndarray, ...],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    method: Literal["BCa", "percentile"] = "BCa",
) -> RatioInterval:
    """Ratio of two independent samples' means (e.g. two test sets) with a bootstrap interval.

    **Arguments:**

    - `numerator`, `denominator`: errors of any shape (flattened; sizes may differ).
    - `resamples`, `seed`, `method`: as for `paired_ratio`.

    **Returns:**

    A `RatioInterval` (`pairs`: the smaller sample's size).
    """
    num = np.asarray(numerator, np.float64).ravel()
    den = np.asarray(denominator, np.float64).ravel()
    if min(num.size, den.size) < 2:
        raise ValueError("a bootstrap needs at least 2 values in each sample")
    low, high, how = _interval((num, den), False, resamples, seed, method)
    return RatioInterval(float(num.mean() / den.mean()), low, high, int(min(num.size, den.size)),
                         False, resamples, how)


FEW_PAIRS = 16


def few_pairs_warning(pairs: int) -> str | None:
    """A sentence warning that a bootstrap over so few pairs is crude (None from `FEW_PAIRS` up)."""
    if pairs >= FEW_PAIRS:
        return None
    return (f"some intervals rest on only {pairs} seed x start pairs: a bootstrap of so few "
            "pairs has few distinct resamples and gives intervals that are too narrow; add "
            "seeds or test trajectories before trusting a verdict")


def few_seeds_warning(seeds: int) -> str | None:
    """A sentence warning that the intervals rest on few seeds (None from `FEW_SEEDS` up)."""
    if seeds >= FEW_SEEDS:
        return None
    return (f"only {seeds} seed{'s' if seeds != 1 else ''}: the intervals resample starts "
            "within these seeds and cannot show how much another training seed would move a "
            f"ratio; read them as optimistic (use {FEW_SEEDS} or more seeds for a verdict "
            "on the training method)")
