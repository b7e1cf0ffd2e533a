"""Watching a neural ODE during training: does it stay re-discretisable?

`TransferMonitor` re-evaluates the model under a finer and another
discretisation at each logged point and warns (`StepSpecificWarning`) when
those losses leave the training loss; `plateau_update` finds where a loss
curve flattened. Library pieces: the `ode transfer` experiment uses them, and
so can a user's own training loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from .._errors import ConfigError

REFERENCE_STEPS = 64  # RK4 steps of the "other method" evaluation


def worst_ratio(row: dict) -> float:
    """The largest of a logged row's transfer ratios."""
    return max(row["finer"], row["other"], row.get("adaptive") or 0.0)


def best_ratio(row: dict) -> float:
    """The smallest of a logged row's transfer ratios."""
    ratios = [row["finer"], row["other"]] + ([row["adaptive"]]
                                             if row.get("adaptive") is not None else [])
    return min(ratios)


def plateau_update(history: list[tuple[int, float]], window: int,
                   plateau: float) -> int | None:
    """The first logged update at which the loss had fallen by less than `plateau`
    (relative) over the preceding `window` updates.

    **Arguments:**

    - `history`: `(updates, loss)` pairs in training order.
    - `window`: updates to look back (a logged point must lie exactly that far back).
    - `plateau`: the relative decrease below which the loss counts as flat.

    **Returns:**

    That update, or None if the loss never plateaued.
    """
    loss_at = dict(history)
    for done, value in history:
        before = loss_at.get(done - window)
        if before is not None and before - value < plateau * before:
            return done
    return None


class StepSpecificWarning(UserWarning):
    """A neural ODE's loss under a finer or another discretisation left its training loss."""


class TransferMonitor:
    """Tracks, during training, whether a neural ODE stays re-discretisable.

    Call it at each logged point with the model as a function of time
    (`TimeFunction`, or per-layer parameters through `interpolate_parameters`).
    It evaluates the loss under the training discretisation, under 2x its
    steps and under another method, records the ratios, and warns once
    (`StepSpecificWarning`) when a ratio leaves 1 by more than `tolerance`:
    above, the model fits the discretisation's own error (step-specific);
    below, the training loss is dominated by that error (a finer step is
    better than the one trained with).

    **Arguments:**

    - `loss_under`: `(theta_of_t, method, steps) -> loss`.
    - `method`, `steps`: the training discretisation.
    - `other`: `(method, steps)` of the reference evaluation (default RK4, 64).
    - `adaptive_loss`: `theta_of_t -> loss` under an adaptive high-accuracy solve
        (e.g. with `adaptive_solve`); None: not tracked.
    - `tolerance`: how far (relative) a ratio may leave 1.
    - `warn`: issue the warning (False: only record).
    """

    def __init__(self, loss_under: Callable, *, method: str, steps: int,
                 other: tuple[str, int] = ("rk4", REFERENCE_STEPS),
                 adaptive_loss: Callable | None = None, tolerance: float = 0.10,
                 warn: bool = True):
        if not 0 < tolerance < 1:
            raise ConfigError(f"tolerance must lie in (0, 1), got {tolerance}")
        self.loss_under, self.method, self.steps = loss_under, method, int(steps)
        self.adaptive_loss = adaptive_loss
        self.other, self.tolerance, self.warn = other, float(tolerance), warn
        self.history: list[dict] = []

    def __call__(self, theta_of_t, step: int) -> dict:
        """Evaluate at training step `step`; returns the row it records."""
        own = float(self.loss_under(theta_of_t, self.method, self.steps))
        finer = float(self.loss_under(theta_of_t, self.method, 2 * self.steps))
        other = float(self.loss_under(theta_of_t, *self.other))
        adaptive = (None if self.adaptive_loss is None
                    else float(self.adaptive_loss(theta_of_t)) / own)
        row = {"updates": int(step), "own": own, "finer": finer / own, "other": other / own,
               "adaptive": adaptive}
        row["step_specific"] = worst_ratio(row) > 1 + self.tolerance
        row["discretisation_limited"] = best_ratio(row) < 1 - self.tolerance
        flagged = row["step_specific"] or row["discretisation_limited"]
        first = flagged and not any(r["step_specific"] or r["discretisation_limited"]
                                    for r in self.history)
        self.history.append(row)
        if first and self.warn:
            warnings.warn(self.advice(), StepSpecificWarning, stacklevel=2)
        return row

    def advice(self) -> str:
        """What the last evaluation means, and what to change (from `stablesim ode transfer`'s
        measurements) when the model is no longer re-discretisable."""
        if not self.history:
            return "not evaluated yet"
        r = self.history[-1]
        where = (f"the loss at 2N is {r['finer']:.3g}x and under {self.other[0]} x "
                 f"{self.other[1]} {r['other']:.3g}x the training loss ({self.method}, "
                 f"N = {self.steps})")
        remedy = (f"Recommended: parameters smooth in time (TimeFunction) trained through RK4 "
                  f"at {self.steps} steps. Measured (stablesim ode transfer, leapfrog N = 16, "
                  "10000 updates, Adam): smooth through RK4 x 16 kept every ratio within "
                  "0.2% of 1 through and past its plateau; smooth through leapfrog x 16 "
                  "reached 1.37 and through RK4 x 4 1.69, per-layer leapfrog 850 (corrected "
                  "gradients) and 187613 (plain). Train with steps whose own error lies below "
                  "the loss you train to.")
        if r["step_specific"]:
            return (f"step-specific at step {r['updates']}: {where}. The model fits this "
                    "discretisation: per-layer parameters trained with plain autodiff zigzag "
                    "along the layers (corrected gradients, integrate(..., gradients="
                    "'corrected'), kept the ratio 190-431x lower, measured), and any model "
                    "fits the integrator's own error once its loss falls below it, which no "
                    "gradient correction removes. " + remedy)
        if r["discretisation_limited"]:
            return (f"limited by its discretisation at step {r['updates']}: {where}. The "
                    "training loss is dominated by the integrator's own error at N steps, so "
                    "the model means something better than its training loss says. "
                    + remedy)
        return (f"re-discretisable at step {r['updates']}: loss at 2N {r['finer']:.3f}x and "
                f"under {self.other[0]} x {self.other[1]} {r['other']:.3f}x the training loss")
