"""The unrolling paper's findings, checked with paired bootstrap intervals and put in words.

Every finding is a set of ratios of mean errors (the claimed better cell over
the other, claimed below 1) per test set; each ratio carries a 95% bootstrap
interval and a three-way verdict ("holds", "not significant", "fails"), and
the finding's verdict is the weakest of its ratios.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
from jaxtyping import Float

from ..evaluation import (
    RatioInterval,
    Verdict,
    few_pairs_warning,
    few_seeds_warning,
    paired_ratio,
    unpaired_ratio,
)

PAPER_HEADLINE_FACTOR = 4.5  # WIG-prediction error / NOG-correction error in the paper
FINDINGS_COLUMNS = ("finding", "test_set", "numerator", "denominator", "ratio", "low", "high",
                    "verdict")


@dataclasses.dataclass(frozen=True)
class CellErrors:
    """One study cell's per-start errors.

    **Fields:**

    - `name`: the cell (its run directory's name).
    - `errors`: `{test set: (seeds, starts) relative errors at the horizon}`.
    """

    name: str
    errors: Mapping[str, Float[np.ndarray, "seeds starts"]]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One ratio behind a finding: the numerator cell's error over the denominator's.

    **Fields:**

    - `test_set`: where the errors were measured (or `"extrapolation / interpolation"`).
    - `numerator`, `denominator`: cell names.
    - `interval`: the ratio with its bootstrap interval.
    - `claim`: the claimed side of 1 ("below": the numerator is better).
    """

    test_set: str
    numerator: str
    denominator: str
    interval: RatioInterval
    claim: Literal["below", "above"] = "below"

    @property
    def verdict(self) -> Verdict:
        return self.interval.verdict(self.claim)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One of the paper's findings as this run's numbers show it.

    **Fields:**

    - `claim`: the finding, in words.
    - `comparisons`: the ratios behind it.
    - `note`: what the claim means when it holds (empty for the paper's findings).
    """

    claim: str
    comparisons: tuple[Comparison, ...]
    note: str = ""

    @property
    def verdict(self) -> Verdict:
        """"fails" if any ratio fails, "holds" if all hold, else "not significant"."""
        return weakest(c.verdict for c in self.comparisons)

    @property
    def evidence(self) -> str:
        """The ratios with their intervals, e.g. `NOG / ONE: interpolation 0.81 [0.58, 1.05]`."""
        marks = {"holds": "", "not significant": " n.s.", "fails": " fails"}
        groups: dict[tuple[str, str], list[str]] = {}
        for c in self.comparisons:
            groups.setdefault((c.numerator, c.denominator), []).append(
                f"{c.test_set} {c.interval.text()}{marks[c.verdict]}")
        return "; ".join(f"{n} / {d}: {', '.join(v)}" for (n, d), v in groups.items())


def weakest(verdicts: Iterable[str]) -> Verdict:
    """A finding's verdict from its ratios': any "fails" fails, all "holds" hold."""
    seen = set(verdicts)
    if "fails" in seen:
        return "fails"
    return "holds" if seen == {"holds"} else "not significant"


def summarize_findings(path: str | os.PathLike) -> str:
    """The verdicts of a `findings.csv`, one line per finding, for the terminal.

    **Arguments:**

    - `path`: the study's `findings.csv`.

    **Returns:**

    Text (empty when the file has no findings).
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    by_claim: dict[str, list[dict]] = {}
    for row in rows:
        by_claim.setdefault(row["finding"], []).append(row)
    if not by_claim:
        return ""
    verdicts = {claim: weakest(r["verdict"] for r in group) for claim, group in by_claim.items()}
    counts = [sum(v == name for v in verdicts.values())
              for name in ("holds", "not significant", "fails")]
    lines = [f"findings ({path}): {counts[0]} hold, {counts[1]} not significant, "
             f"{counts[2]} fail (paired bootstrap 95% intervals)"]
    for claim, group in by_claim.items():
        ratios = ", ".join(f"{r['test_set']} {float(r['ratio']):.3g} "
                           f"[{float(r['low']):.3g}, {float(r['high']):.3g}]" for r in group[:2])
        more = f", +{len(group) - 2} more" if len(group) > 2 else ""
        lines.append(f"  {verdicts[claim]:15s} {claim}: {ratios}{more}")
    return "\n".join(lines)


def check_findings(cells: Mapping[tuple[str, str], CellErrors]) -> list[Finding]:
    """The paper's findings that a study's cells can speak to, each with a verdict.

    **Arguments:**

    - `cells`: `{(setup, modality): CellErrors}` with the same seeds and test
        starts in every cell. `("prediction", "ONE")` should be the ONE that
        had the same budget as NOG and WIG (the continued ONE of a
        fine-tuning study).

    **Returns:**

    `Finding`s: correction against prediction, NOG-correction against
    WIG-prediction, ONE-correction against WIG-prediction ("the solver
    alone carries it"), WIG and NOG against ONE per setup, extrapolation
    against interpolation. Findings whose cells are missing are left out.
    """
    sets = sorted({t for c in cells.values() for t in c.errors}, key=lambda t: t != "interpolation")

    def have(*keys):
        return all(k in cells and all(t in cells[k].errors for t in sets) for k in keys)

    def compare(better, worse) -> list[Comparison]:
        a, b = cells[better], cells[worse]
        return [Comparison(t, a.name, b.name, paired_ratio(a.errors[t], b.errors[t]))
                for t in sets]

    found = []
    modalities = [m for m in ("ONE", "NOG", "WIG") if have(("prediction", m), ("correction", m))]
    if modalities:
        found.append(Finding("correction beats prediction at every modality", tuple(
            c for m in modalities for c in compare(("correction", m), ("prediction", m)))))
    if have(("prediction", "WIG"), ("correction", "NOG")):
        found.append(Finding(
            "NOG with the solver (correction) beats WIG without it (prediction)",
            tuple(compare(("correction", "NOG"), ("prediction", "WIG"))),
            f"the paper: WIG-prediction about {PAPER_HEADLINE_FACTOR:g}x NOG-correction's error"))
    if have(("prediction", "WIG"), ("correction", "ONE")):
        found.append(Finding(
            "the solver alone carries it: ONE with the solver (correction) already beats WIG "
            "without it (prediction)",
            tuple(compare(("correction", "ONE"), ("prediction", "WIG"))),
            "when this holds, the headline above owes its gain to the solver, not to NOG"))
    for modality in ("WIG", "NOG"):
        for setup in ("prediction", "correction"):
            if have((setup, modality), (setup, "ONE")):
                found.append(Finding(f"{modality} beats ONE in {setup}",
                                     tuple(compare((setup, modality), (setup, "ONE")))))
    if "interpolation" in sets and "extrapolation" in sets:
        both = [c for c in cells.values() if {"interpolation", "extrapolation"} <= set(c.errors)]
        if both:  # different starts in the two sets: independent samples, not pairs
            found.append(Finding(
                "extrapolation to unseen parameters is harder than interpolation",
                tuple(Comparison("extrapolation / interpolation", c.name, c.name,
                                 unpaired_ratio(c.errors["extrapolation"],
                                                c.errors["interpolation"]), claim="above")
                      for c in both)))
    return found


def findings_rows(findings: list[Finding]) -> list[tuple]:
    """`findings.csv` rows (see `FINDINGS_COLUMNS`): one per finding, test set and ratio."""
    return [(f.claim, c.test_set, c.numerator, c.denominator, repr(c.interval.ratio),
             repr(c.interval.low), repr(c.interval.high), c.verdict)
            for f in findings for c in f.comparisons]


def findings_paragraph(findings: list[Finding], regime: str, seeds: int) -> str:
    """The findings in one paragraph: how many hold, are not significant, fail; each in words.

    **Arguments:**

    - `findings`: from `check_findings`.
    - `regime`: e.g. "fine-tuning, against a ONE continued for the same updates", named in the text.
    - `seeds`: the number of training seeds (fewer than 5 adds a warning).

    **Returns:**

    Markdown text; an empty string when there is nothing to compare.
    """
    if not findings:
        return ""
    counts = {v: [f for f in findings if f.verdict == v]
              for v in ("holds", "not significant", "fails")}
    first = findings[0].comparisons[0].interval
    text = (f"**Findings of the unrolling paper ({regime}):** of {len(findings)} findings, "
            f"{len(counts['holds'])} hold, {len(counts['not significant'])} are not "
            f"significant and {len(counts['fails'])} fail. Each ratio is the claimed better "
            "cell's mean relative error over the other's with a paired bootstrap 95% interval "
            f"over seeds x test starts ({first.resamples} resamples, SciPy); a finding holds "
            "when every interval excludes 1 on the claimed side, fails when one excludes it on "
            "the other side.")
    pairs = min(c.interval.pairs for f in findings for c in f.comparisons)
    for warning in (few_seeds_warning(seeds), few_pairs_warning(pairs)):
        if warning:
            text += f" Warning: {warning}."
    for verdict, label in (("holds", "Holds"), ("not significant", "Not significant"),
                           ("fails", "Fails")):
        if counts[verdict]:
            text += f" {label}: " + "; ".join(
                f"{f.claim} ({f.evidence}{'; ' + f.note if f.note else ''})"
                for f in counts[verdict]) + "."
    return text
