"""The report's ratios with paired intervals: per-start errors, matched controls, findings.

Every ratio a study report prints comes from here: the errors of every seed
and test start (`metrics.json` rows), paired between two cells by seed index
and start, resampled by `stablesim.evaluation.paired_ratio`.
"""

from __future__ import annotations

import csv
import pathlib
from typing import Literal

from .._atomic import atomic_path
from ..evaluation import RatioInterval, paired_ratio
from ._cell import Cell
from ._findings import FINDINGS_COLUMNS, CellErrors, Finding, check_findings, findings_rows
from ._results import StudyResults

MODALITY_KEY = "modality.name"
SETUP_KEY = "simulator.setup"


def one_partner(cell: Cell, cells: list[Cell]) -> Cell | None:
    """The ONE a cell is compared with: the same budget where the study has one.

    A fine-tuned cell's partner is its start cell continued with ONE (else
    the start cell); a continued cell's is its start (what continuing bought);
    from scratch, the ONE cell with the same other grid values.
    """
    if MODALITY_KEY not in cell.varied:
        return None
    if cell.continued:
        return next((c for c in cells if c.name == cell.start), None)
    if cell.start is not None:
        return (next((c for c in cells if c.continued and c.start == cell.start), None)
                or next((c for c in cells if c.name == cell.start), None))
    return next((c for c in cells if c.varied.get(MODALITY_KEY) == "ONE" and not c.continued
                 and c.start is None and all(c.varied[k] == v for k, v in cell.varied.items()
                                             if k != MODALITY_KEY)), None)


def interval_text(interval: RatioInterval | None,
                  claim: Literal["below", "above"] = "below") -> str:
    """`0.84 [0.70, 1.01] n.s.` for a table cell (`holds`: no mark; `fails`: marked)."""
    if interval is None:
        return "n/a"
    mark = {"holds": "", "not significant": " n.s.", "fails": " (worse)"}[interval.verdict(claim)]
    return f"{interval.ratio:.2f} [{interval.low:.2f}, {interval.high:.2f}]{mark}"


def study_findings(results: StudyResults) -> list[Finding]:
    """The paper's findings for a grid over setup and modality (else none).

    "ONE" is the matched control: the continued ONE of a fine-tuning study.
    """
    done = results.done
    if not done or set(done[0].varied) != {SETUP_KEY, MODALITY_KEY}:
        return []
    chosen: dict[tuple[str, str], CellErrors] = {}
    for cell in sorted(done, key=lambda c: c.continued):  # a continued ONE replaces its start
        errors = {t: results.metrics[cell.name].start_errors(t) for t in results.test_sets}
        chosen[(cell.varied[SETUP_KEY], cell.varied[MODALITY_KEY])] = CellErrors(
            cell.name, {t: e for t, e in errors.items() if e is not None})
    return check_findings(chosen)


def write_findings(out: pathlib.Path, findings: list[Finding]) -> pathlib.Path:
    """`findings.csv`: one row per finding, test set and ratio (see `FINDINGS_COLUMNS`)."""
    path = out / "findings.csv"
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FINDINGS_COLUMNS)
        writer.writerows(findings_rows(findings))
    return path


def correction_gains(doc, results: StudyResults) -> None:
    """Solver-alone error over corrected error, with intervals, for every correction cell."""
    rows, test_sets = [], results.test_sets
    for cell in results.done:
        m = results.metrics[cell.name]
        if m.setup != "correction" or m.baseline is None:
            continue
        row, hurts = [cell.label], []
        for t in test_sets:
            alone = m.start_errors(t, model="solver_alone")
            mine = m.start_errors(t)
            if alone is None or mine is None:
                row.append("n/a")
                continue
            gain = paired_ratio(alone, mine)
            row.append(interval_text(gain, claim="above"))
            if gain.verdict("above") == "fails":
                hurts.append(t)
        row.append(f"the correction hurts ({', '.join(hurts)})" if hurts else
                   "helps" if all("n.s." not in r and r != "n/a" for r in row[1:]) else
                   "not significant on some test sets")
        rows.append(row)
    if not rows:
        return
    doc.heading("Correction gain", 2)
    doc.paragraph("Solver-alone error over the corrected error (above 1: the correction helps), "
                  "with paired bootstrap 95% intervals over seeds x test starts; `n.s.`: the "
                  "interval contains 1.")
    doc.table(["correction cell"] + [f"gain ({t})" for t in test_sets] + ["verdict"], rows)


def tuning_section(doc, picks, cells: list[Cell]) -> None:
    """Each tuned cell's pick and every variant's validation error."""
    if not picks:
        return
    by_name = {c.name: c for c in cells}
    doc.heading("Tuning on validation data", 2)
    doc.paragraph("Each tuned cell trained once per value combination; the one with the lowest "
                  "validation error (mean relative error at the horizon over seeds and "
                  "validation starts) is the cell's result everywhere in this report. No test "
                  "set entered any choice.")
    rows = []
    for pick in picks:
        for name, error in pick.errors.items():
            values = ", ".join(f"{k}={v}" for k, v in by_name[name].tune_values.items())
            rows.append([pick.cell, values, f"{error:.4g}", "kept" if name == pick.chosen.name
                         else ""])
    doc.table(["cell", "values", "validation error", "pick"], rows)


def findings_table(doc, findings: list[Finding]) -> None:
    """Every ratio behind the findings, with its interval and verdict (as `findings.csv`)."""
    if not findings:
        return
    doc.heading("Findings", 2)
    doc.paragraph("Each ratio: the claimed better cell's mean relative error over the other's "
                  "(for extrapolation against interpolation: the cell's extrapolation error over "
                  "its interpolation error, two independent samples), with its bootstrap 95% "
                  "interval; the finding's verdict is the weakest of its ratios.")
    rows = [[f.claim, f.verdict, c.test_set, c.numerator, c.denominator, c.interval.text(),
             c.verdict] for f in findings for c in f.comparisons]
    doc.table(["finding", "finding's verdict", "test set", "numerator", "denominator",
               "ratio [95% interval]", "verdict"], rows)
