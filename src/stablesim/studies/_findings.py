"""The unrolling paper's findings, checked against a study's numbers and put in words."""

from __future__ import annotations

import dataclasses

PAPER_HEADLINE_FACTOR = 4.5  # WIG-prediction error / NOG-correction error in the paper


@dataclasses.dataclass(frozen=True)
class Finding:
    """One of the paper's findings as this run's numbers show it.

    **Fields:**

    - `claim`: the finding, in words.
    - `reproduced`: whether this run's numbers show it.
    - `evidence`: the numbers behind the verdict.
    """

    claim: str
    reproduced: bool
    evidence: str


def check_findings(errors: dict[tuple[str, str], dict[str, float]]) -> list[Finding]:
    """The paper's findings that a study's cells can speak to, each with a verdict.

    **Arguments:**

    - `errors`: `{(setup, modality): {test set: mean relative error}}`, e.g.
        `{("correction", "NOG"): {"interpolation": 0.01, "extrapolation": 0.02}}`.

    **Returns:**

    A list of `Finding`s: correction against prediction, NOG-correction
    against WIG-prediction, WIG and NOG against ONE per setup,
    extrapolation against interpolation. Findings whose cells are missing are
    left out.
    """
    sets = sorted({t for e in errors.values() for t in e}, key=lambda t: t != "interpolation")

    def err(setup, modality, t):
        return errors.get((setup, modality), {}).get(t)

    def have(*cells):
        return all(all(err(s, m, t) is not None for t in sets) for s, m in cells)

    found = []
    modalities = [m for m in ("ONE", "NOG", "WIG") if have(("prediction", m), ("correction", m))]
    if modalities:
        gains = {m: [err("prediction", m, t) / err("correction", m, t) for t in sets]
                 for m in modalities}
        worse = [m for m, g in gains.items() if min(g) <= 1]
        found.append(Finding(
            "correction beats prediction at every modality",
            not worse,
            "; ".join(f"{m} {' / '.join(f'{g:.1f}x' for g in gains[m])}" for m in modalities)
            + f" ({' / '.join(sets)}: prediction error over correction error)"))
    if have(("prediction", "WIG"), ("correction", "NOG")):
        ratio = [err("prediction", "WIG", t) / err("correction", "NOG", t) for t in sets]
        found.append(Finding(
            "NOG with the solver (correction) beats WIG without it (prediction)",
            min(ratio) > 1,
            f"WIG-prediction / NOG-correction = {' / '.join(f'{r:.1f}x' for r in ratio)}; "
            f"the paper: about {PAPER_HEADLINE_FACTOR:g}x"))
    for modality in ("WIG", "NOG"):
        for setup in ("prediction", "correction"):
            if not have((setup, modality), (setup, "ONE")):
                continue
            ratio = [err(setup, modality, t) / err(setup, "ONE", t) for t in sets]
            found.append(Finding(
                f"{modality} beats ONE in {setup}",
                max(ratio) < 1,
                f"{modality} / ONE error = {' / '.join(f'{r:.2f}' for r in ratio)}"))
    if "interpolation" in sets and "extrapolation" in sets:
        cells = [c for c in errors if have(c)]
        harder = [c for c in cells
                  if errors[c]["extrapolation"] > errors[c]["interpolation"]]
        if cells:
            found.append(Finding(
                "extrapolation to unseen parameters is harder than interpolation",
                len(harder) == len(cells),
                f"higher extrapolation error in {len(harder)} of {len(cells)} cells"))
    return found


def findings_paragraph(findings: list[Finding], regime: str) -> str:
    """The findings in one paragraph: which this run reproduces and which not.

    **Arguments:**

    - `findings`: from `check_findings`.
    - `regime`: "from scratch" or "fine-tuning", named in the text.

    **Returns:**

    Markdown text; an empty string when there is nothing to compare.
    """
    if not findings:
        return ""
    yes = [f for f in findings if f.reproduced]
    no = [f for f in findings if not f.reproduced]
    text = (f"**Findings of the unrolling paper ({regime} regime):** this run reproduces "
            f"{len(yes)} of {len(findings)}.")
    if yes:
        text += " Reproduced: " + "; ".join(f"{f.claim} ({f.evidence})" for f in yes) + "."
    if no:
        text += " Not reproduced: " + "; ".join(f"{f.claim} ({f.evidence})" for f in no) + "."
    return text
