"""The report's opening tables: each cell against its baseline and the headline table.

A cell's baseline is the solver alone where the run has a solver (its own, or
the built-in system's coarse one), else persistence, the initial state held:
what a model without a solver must beat to have learned any dynamics.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import Metrics, SetSummary, Stat
from ._evidence import MODALITY_KEY, interval_text, one_partner
from ._results import StudyResults

SOLVER, PERSISTENCE = "solver_alone", "persistence"


def _fmt(stats: Stat | None) -> str:
    if stats is None or stats.mean is None:
        return "n/a"
    return f"{stats.mean:.4g} ± {stats.std:.2g}"


def _baselines(results: StudyResults) -> list[tuple[str, str, dict[str, SetSummary]]]:
    """Each distinct baseline of the evaluated cells: (rows' model, name, summaries)."""
    out, seen = [], set()
    for cell in results.done:
        m = results.metrics[cell.name]
        if m.baseline is not None:
            key = (SOLVER, m.baseline.solver)
            name, summary = f"solver alone ({m.baseline.solver})", m.baseline.summary
        elif m.persistence:
            key, name, summary = (PERSISTENCE, m.data_fingerprint), \
                "persistence (initial state held)", m.persistence
        else:
            continue
        if key not in seen:
            seen.add(key)
            out.append((key[0], name, summary))
    return out


def _baseline_model(m: Metrics) -> str | None:
    return SOLVER if m.baseline is not None else PERSISTENCE if m.persistence else None


def against_baselines_section(doc, results: StudyResults) -> None:
    """The verdicts against the solver alone (or persistence), in words, at the top."""
    lines = []
    horizon, test_sets = results.horizon, results.test_sets
    for model, name, summary in _baselines(results):
        div = sum(summary[t].divergences.total for t in test_sets)
        cases = sum(summary[t].cases for t in test_sets)
        if model == PERSISTENCE:
            errs = ", ".join(f"{t} {summary[t].rel_error.mean:.4g}" for t in test_sets)
            lines.append(f"No solver to compare with: the baseline is persistence, the initial "
                         f"state held, whose relative error at {horizon} frames is {errs}.")
        elif div:
            first = min(summary[t].divergences.first_step or 10**9 for t in test_sets)
            lines.append(f"The {name} diverges in {div} of {cases} test "
                         f"rollouts (first at step {first}): on its own it is no usable "
                         "simulator here, so a learned correction is essential.")
        else:
            errs = ", ".join(f"{t} {summary[t].rel_error.mean:.4g}" for t in test_sets)
            lines.append(f"The {name} stays within the reference's range; its relative error "
                         f"at {horizon} frames: {errs}.")
    for cell in results.done:
        m = results.metrics[cell.name]
        own = _baseline_model(m)
        if own is None or (own == SOLVER and m.setup != "correction"):
            continue
        against = {t: results.ratio(cell.name, cell.name, t, denominator_model=own)
                   for t in test_sets}
        short = {t: r for t, r in against.items() if r is not None and r.verdict() != "holds"}
        if not short:
            continue
        ratios = ", ".join(f"{t} {r.text()}" for t, r in short.items())
        significant = any(r.verdict() == "fails" for r in short.values())
        if own == PERSISTENCE:
            lines.append(
                f"**The model `{cell.label}` is worse than persistence** (its error over "
                f"holding the initial state: {ratios}): it has learned no usable dynamics."
                if significant else
                f"The model `{cell.label}` is not significantly better than persistence (its "
                f"error over holding the initial state: {ratios}; the intervals contain 1).")
        else:
            lines.append(
                f"**The learned correction `{cell.label}` is worse than the solver it "
                f"corrects** (its error over the solver's: {ratios}): the network spoils the "
                "solver; train longer, with a smaller correction, or do not use it."
                if significant else
                f"The learned correction `{cell.label}` is not significantly better than "
                f"the solver it corrects (its error over the solver's: {ratios}; the intervals "
                "contain 1).")
    if lines:
        kinds = {model for model, _, _ in _baselines(results)}
        doc.heading({frozenset({SOLVER}): "Against the solver alone",
                     frozenset({PERSISTENCE}): "Against persistence"}.get(
                         frozenset(kinds), "Against the baseline"), 2)
        for line in lines:
            doc.paragraph(line)


def headline_section(doc, results: StudyResults) -> None:
    """Every evaluated cell's errors, its ratios to the matched ONE and to its baseline."""
    cells, done, metrics = results.cells, results.done, results.metrics
    horizon, test_sets = results.horizon, results.test_sets
    keys = list(done[0].varied)
    rule = next(iter(metrics.values())).divergence_rule or "left the reference's range"
    baselines = _baselines(results)
    kinds = [k for k in (SOLVER, PERSISTENCE) if any(model == k for model, _, _ in baselines)]
    doc.heading("Headline", 2)
    doc.paragraph(
        f"Relative error over the first {horizon} frames of the test rollouts (sum of squared "
        "errors over sum of squared reference values; diverged rollouts count as 1.0): mean "
        "over test trajectories per seed, then mean ± standard deviation over seeds. "
        "`vs ONE` is the mean error divided by that of the ONE with the same budget and other "
        "settings (for a fine-tuned cell the continued ONE; for the continued ONE, its start), "
        "`vs solver` divided by that of the solver alone, `vs persistence` by that of holding "
        "the initial state (where there is no solver; below 1 is better); each with its "
        "paired bootstrap 95% interval over seeds x test starts, `n.s.` where it contains 1, "
        f"`(worse)` where it lies above 1. `diverged` counts rollouts over all seeds and test "
        f"cases; {rule}.")
    header = (keys or ["cell"]) + [f"{t} error" for t in test_sets]
    has_one = MODALITY_KEY in keys
    if has_one:
        header += [f"vs ONE ({t[:6]}.)" for t in test_sets]
    for kind in kinds:
        header += [f"vs {'solver' if kind == SOLVER else kind} ({t[:6]}.)" for t in test_sets]
    header += ["diverged", "decorrelation (frames)"]
    rows = []
    for model, name, bs in baselines:
        row = ([name] + ["-" for _ in keys[1:]] + [_fmt(bs[t].rel_error) for t in test_sets])
        if has_one:
            row += ["-" for _ in test_sets]
        for kind in kinds:
            row += ["1.00" if kind == model else "-" for _ in test_sets]
        row += [f"{sum(bs[t].divergences.total for t in test_sets)} / "
                f"{sum(bs[t].cases for t in test_sets)}",
                f"{np.mean([bs[t].decorrelation_time.mean for t in test_sets]):.1f}"]
        rows.append(row)
    for cell in done:
        s = metrics[cell.name].summary
        row = ([str(cell.varied[k]) for k in keys] or [cell.name]) + [
            _fmt(s[t].rel_error) for t in test_sets]
        if cell.continued:
            row[len(keys) - 1] += " (continued)"
        if has_one:
            partner = one_partner(cell, cells)
            for t in test_sets:
                if partner is None or partner.name not in metrics:
                    row.append("n/a")
                elif partner.name == cell.name:
                    row.append("1.00")
                else:
                    row.append(interval_text(results.ratio(cell.name, partner.name, t)))
        own = _baseline_model(metrics[cell.name])
        for kind in kinds:
            for t in test_sets:
                row.append(interval_text(results.ratio(cell.name, cell.name, t,
                                                       denominator_model=kind))
                           if kind == own else "-")
        div = sum(s[t].divergences.total for t in test_sets)
        cases = sum(s[t].cases for t in test_sets)
        decor = np.mean([s[t].decorrelation_time.mean for t in test_sets])
        row += [f"{div} / {cases}", f"{decor:.1f}"]
        rows.append(row)
    doc.table(header, rows)
