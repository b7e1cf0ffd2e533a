"""The report of a study: headline table, comparisons, plots; markdown and HTML."""

from __future__ import annotations

import datetime
import os
import pathlib

import numpy as np

from ..evaluation import few_seeds_warning
from ..reporting import (
    Document,
    band,
    plot_against_unroll,
    plot_gradient_alignment,
    plot_metric_curves,
    plot_rollouts,
    plot_training,
    training_curve,
)
from ..runs import Run
from ._cell import Cell
from ._evidence import (
    SETUP_KEY,
    correction_gains,
    findings_table,
    interval_text,
    study_findings,
    tuning_section,
    write_findings,
)
from ._findings import findings_paragraph
from ._headline import against_baselines_section, headline_section
from ._long_rollouts import long_rollouts_section
from ._results import StudyResults
from ._study import write_results

UNROLL_KEY = "modality.unroll"


def _number(value: float | None) -> float:
    """A value for a table or plot (`nan` where it is not finite: a diverged rollout)."""
    return float("nan") if value is None else value


def _label(cell: Cell, skip: tuple[str | None, ...] = ()) -> str:
    parts = [str(v) for k, v in cell.varied.items() if k not in skip]
    return (" / ".join(parts) or cell.name) + (" (continued)" if cell.continued else "")


def build_report(out_dir: str | os.PathLike, opened: dict[str, Run] | None = None
                 ) -> pathlib.Path:
    """(Re)build `results.csv`, the plots, `report.md` and `report.html` of a study.

    Reads only files: `study.resolved.yaml` and each run's `metrics.json`,
    `train_log.csv` and `rollout_example.npz`; no training or evaluation.

    **Arguments:**

    - `out_dir`: the study directory.
    - `opened`: the cells' `Run`s this command trained and evaluated (their
        results in memory: no file of theirs is read again).

    **Returns:**

    The path of `report.md`.
    """
    out = pathlib.Path(out_dir)
    results = StudyResults.read(out, opened)
    write_results(out, results.all_cells, opened)
    runs, done = results.all_cells, results.done
    doc = Document()
    title = f"stablesim study: {results.record.get('name', 'study')}"
    doc.heading(title, 1)
    findings = study_findings(results)
    write_findings(out, findings)
    seeds = results.seeds
    if findings:  # the first paragraph: what this run shows of the paper, in words
        doc.paragraph(findings_paragraph(findings, _regime_name(results.cells), seeds))
    grid = ", ".join(f"`{k}` in {v}" for k, v in results.record.get("grid", {}).items()) or "one cell"
    shown = len({c.tuned_for or c.name for c in runs})
    doc.paragraph(f"{len(done)} of {shown} cells evaluated ({grid}). Built "
                  f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}. Long-format results: "
                  "`results.csv` (every run, seed, test set, start and metric); the findings' "
                  "ratios and intervals: `findings.csv`; each run's files are under `runs/`.")
    fingerprints = sorted({m.data_fingerprint for m in results.metrics.values()
                           if m.data_fingerprint})
    if fingerprints:
        doc.paragraph(f"Data fingerprint (SHA-256 of the trajectories and parameters, as "
                      f"`stablesim data info` prints it): {', '.join(fingerprints)}.")
    doc.paragraph(_regime(runs))
    if done and few_seeds_warning(seeds) and not findings:  # (else the findings say it)
        doc.paragraph(f"Warning: {few_seeds_warning(seeds)}.")
    if not done:
        doc.paragraph("No cell has been evaluated yet.")
        md, _ = doc.write(out, title=title)
        return md
    against_baselines_section(doc, results)
    headline_section(doc, results)
    findings_table(doc, findings)
    correction_gains(doc, results)
    tuning_section(doc, results.picks, runs)
    long_rollouts_section(doc, results)
    _setup_comparison(doc, results)
    _unroll_length(doc, results)
    _plots(doc, results)
    md, _ = doc.write(out, title=title)
    return md


def _regime_name(cells) -> str:
    if not any(c.start for c in cells):
        return "from-scratch regime"
    if any(c.continued for c in cells):
        return "fine-tuning regime, against ONE continued for the same updates"
    return "fine-tuning regime, against ONE with fewer updates (no matched control)"


def _regime(cells) -> str:
    """Which training regime the study shows and whether the budgets match."""
    tuned = [c for c in cells if c.start and not c.continued]
    if not tuned:
        updates = sorted({c.config.training.total_updates for c in cells})
        if len(updates) == 1:
            return ("Regime: **from scratch**; every cell trains the same "
                    f"{updates[0]} updates from a fresh initialisation (matched budgets).")
        return ("Regime: **from scratch**, **budgets differ**: cells train "
                f"{' or '.join(map(str, updates))} updates; a ratio between cells of different "
                "budgets mixes the method with the budget.")
    by_name = {c.name: c for c in cells}
    first = by_name[tuned[0].start].config.training.total_updates
    more = tuned[0].config.training.total_updates
    starts = sorted({c.start for c in tuned})
    count = len({c.tuned_for or c.name for c in tuned})  # tuning variants count once
    text = (f"Regime: **fine-tuning** (the paper's protocol): {count} cells start from the "
            f"trained networks of a start cell ({', '.join(starts)}) with the same other settings "
            f"and seed, after its {first} updates, and train {more} more: {first + more} "
            f"updates in total against the start cells' {first}.")
    continued = [c for c in cells if c.continued]
    if continued:
        text += (f" Matched control: each start cell is also continued with its own modality "
                 f"for the same {more} updates, schedule and learning rate and a fresh "
                 f"optimizer ({', '.join(sorted({c.tuned_for or c.name for c in continued}))}); "
                 "every `vs ONE` ratio and finding of a fine-tuned cell uses it.")
    else:
        text += (" **No matched control**: ONE was not continued (fine_tune.continue_start: "
                 "false), so `vs ONE` compares cells with different budgets.")
    return text


def _setup_comparison(doc, results: StudyResults):
    """Correction against prediction with every other setting equal."""
    done, metrics = results.done, results.metrics
    horizon, test_sets = results.horizon, results.test_sets
    if SETUP_KEY not in done[0].varied:
        return
    others = [k for k in done[0].varied if k != SETUP_KEY]
    pairs: dict = {}
    for cell in done:
        key = tuple(cell.varied[k] for k in others) + (cell.continued,)
        pairs.setdefault(key, {})[cell.varied[SETUP_KEY]] = cell.name
    rows, wins, compared = [], [], 0
    for key, by_setup in pairs.items():
        if {"prediction", "correction"} <= set(by_setup):
            compared += 1
            row = [" / ".join(map(str, key[:-1])) + (" (continued)" if key[-1] else "") or "-"]
            better = True
            for t in test_sets:
                p, c = (metrics[by_setup[s]].summary[t].rel_error.mean
                        for s in ("prediction", "correction"))
                gain = results.ratio(by_setup["prediction"], by_setup["correction"], t)
                row += [f"{p:.4f}", f"{c:.4f}", interval_text(gain, claim="above")]
                better &= gain is not None and gain.verdict("above") == "holds"
            row.append("yes" if better else "no")
            wins.append(better)
            rows.append(row)
    if not rows:
        return
    doc.heading("Correction against prediction", 2)
    header = [" / ".join(others) or "cell"]
    for t in test_sets:
        header += [f"{t} prediction", f"{t} correction", "gain"]
    header.append("correction better on all test sets (interval above 1)")
    doc.table(header, rows)
    doc.paragraph(f"Correction beats prediction, with the gain's paired 95% interval above 1 on "
                  f"every test set, in {sum(wins)} of {compared} comparisons (relative error at "
                  f"{horizon} frames; gain: prediction error over correction error).")


def _unroll_length(doc, results: StudyResults) -> None:
    """Error and the WIG/NOG gradient ratio and cosine against m, for a grid over the unroll."""
    out, done, metrics = results.out, results.done, results.metrics
    horizon, test_sets = results.horizon, results.test_sets
    if UNROLL_KEY not in done[0].varied:
        return
    others = [k for k in done[0].varied if k != UNROLL_KEY]
    errors: dict[str, dict[int, float]] = {}
    alignment: dict[str, dict[int, tuple[float, float]]] = {}
    rows = []
    for cell in done:
        m = int(cell.varied[UNROLL_KEY])
        group = " / ".join(str(cell.varied[k]) for k in others) or "all"
        summary = metrics[cell.name].summary
        for t in test_sets:
            errors.setdefault(f"{group}, {t}", {})[m] = _number(summary[t].rel_error.mean)
        own = [r for r in metrics[cell.name].gradient_alignment if r.m == m]
        if own:
            alignment.setdefault(group, {})[m] = (_number(own[0].ratio), _number(own[0].cosine))
        rows.append([group, str(m)] + [f"{_number(summary[t].rel_error.mean):.4f}"
                                       for t in test_sets]
                    + ([f"{_number(own[0].ratio):.2f}", f"{_number(own[0].cosine):.3f}"] if own
                       else ["n/a"] * 2))
    doc.heading("Unroll length", 2)
    doc.paragraph(f"Relative error at {horizon} frames (mean over seeds) of each model trained "
                  "with unroll m, and the norm ratio and cosine of the WIG and NOG gradients of "
                  "that model at its own m (first seed, 8 training windows). In the paper the "
                  "ratio grows and the cosine falls as m grows.")
    doc.table([" / ".join(others) or "cell", "m"] + [f"{t} error" for t in test_sets]
              + ["WIG/NOG norm ratio", "cosine"], rows)
    plot_against_unroll(errors, alignment, out / "plots" / "unroll_length.png")
    doc.image("plots/unroll_length.png", "Error (left), WIG/NOG gradient norm ratio (middle) "
                                         "and cosine (right) against the unroll m")


def _plots(doc, results: StudyResults):
    out, done, metrics, test_sets = results.out, results.done, results.metrics, results.test_sets
    evaluated = results.runs
    group_by = SETUP_KEY if SETUP_KEY in done[0].varied else None
    doc.heading("Plots", 2)
    for metric, name, log, caption in (
        ("rel_error", "error_vs_step.png", True,
         "Relative error over the first H frames against H (mean over seeds, band: seed range)"),
        ("correlation", "correlation_vs_step.png", False,
         "Pearson correlation of each predicted frame with the reference"),
    ):
        panels: dict[str, dict] = {}
        for t in test_sets:
            for cell in done:
                group = f"{cell.varied[group_by]}, {t}" if group_by else t
                curves = metrics[cell.name].curves(metric, t)
                if curves:
                    panels.setdefault(group, {})[_label(cell, (group_by,))] = band(curves)
                for model in ("solver_alone", "persistence"):  # the baseline, if any
                    alone = metrics[cell.name].curves(metric, t, model=model)
                    label = model.replace("_", " ")
                    if alone and label not in panels.get(group, {}):
                        panels.setdefault(group, {})[label] = band(alone)
        plot_metric_curves(panels, out / "plots" / name, ylabel=metric, log=log)
        doc.image(f"plots/{name}", caption)
    examples: list[tuple[str, np.ndarray]] = []
    for cell in done:
        arrays = evaluated[cell.name].examples
        if "interpolation_prediction" in arrays:
            if not examples:
                examples.append(("reference", arrays["interpolation_reference"]))
            examples.append((_label(cell), arrays["interpolation_prediction"]))
    if examples:
        plot_rollouts(examples, out / "plots" / "rollouts.png")
        doc.image("plots/rollouts.png", "First interpolation test trajectory: reference and "
                                        "each cell's rollout (first seed)")
    losses = {_label(cell): training_curve(evaluated[cell.name].history) for cell in done}
    plot_training(losses, out / "plots" / "training.png")
    doc.image("plots/training.png", "Training loss (mean over seeds) against update")
    alignment = {_label(c): metrics[c.name].gradient_alignment for c in done
                 if metrics[c.name].gradient_alignment}
    if alignment:
        plot_gradient_alignment(alignment, out / "plots" / "gradient_alignment.png")
        doc.image("plots/gradient_alignment.png",
                  "WIG-to-NOG gradient norm ratio and cosine against the unroll m, for each "
                  "trained model (first seed, 8 training windows)")
        rows = []
        for label, values in alignment.items():
            rows.append([label] + [f"{r.ratio:.2f} / {r.cosine:.2f}" for r in values])
        ms = [r.m for r in next(iter(alignment.values()))]
        doc.table(["model"] + [f"m={m}: ratio / cos" for m in ms], rows)
