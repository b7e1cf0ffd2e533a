"""What `stabilize_run` measured and kept, and its report (`stabilize.md`, `stabilize.json`)."""

from __future__ import annotations

import dataclasses
import pathlib

from .._atomic import atomic_write_json, atomic_write_text
from ._fixes import Outcome

TRAINING_STARTS = 16
"""Training trajectories whose first frames also start long rollouts where a validation set
exists: stability is judged on them too (never their error), so a choice rests on more starts
than the validation set has, and never on a test set."""


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
                    f"the data's range and statistics for {b.horizon} steps, so nothing was "
                    "kept. Train longer, or from "
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
        # "stable" below means: no rollout diverges and none leaves the data's statistics
        for o in [self.before, *self.outcomes]:
            change = ", ".join(f"`{k}: {v}`" for k, v in o.changes.items()) or "-"
            if o is self.before:
                verdict = "before"
            elif o is self.chosen:
                verdict = "**kept**"
            elif o.diverged:
                verdict = "diverges"
            elif not o.stable:
                verdict = f"bounded but unphysical ({o.unphysical_reason})"
            elif not o.within(self.before, self.tolerance):
                verdict = f"error > {1 + self.tolerance:.2f}x before"
            else:
                verdict = "stable, larger error"
            first = "-" if o.first_divergence is None else str(o.first_divergence)
            lines.append(f"| {o.name} | {change} | {o.updates} | {o.diverged} / {o.rollouts} | "
                         f"{first} | " + " | ".join(f"{o.errors[s]:.4g}" for s in sets)
                         + f" | {verdict} |")
        return "\n".join(lines)



def write_report(s: Stabilization, run_dir, folder: pathlib.Path) -> None:
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
        f"out from every validation start and up to {TRAINING_STARTS} training starts (only "
        f"the training starts where the data have no validation set; never a test start) for "
        f"{s.before.horizon} steps (diverged: a value "
        "not finite or outside the trajectory's range widened by evaluation.divergence_margin), and "
        "the relative error is taken at evaluation.horizon frames.",
        s.table(), ""]))
