"""The report's long-rollout section: each cell's verdicts and statistics against the data's."""

from __future__ import annotations

from ._results import StudyResults


def long_rollouts_section(doc, results: StudyResults) -> None:
    """Per cell and test set: stable / bounded but unphysical / diverges over
    `evaluation.stability_steps`, and the statistics' mean and worst (none: not asked for)."""
    rows = []
    steps = set()
    for cell in results.done:
        metrics = results.metrics[cell.name]
        for test_set in results.test_sets:
            physics = metrics.summary[test_set].physics
            if physics is None:
                continue
            steps.add(physics.steps)
            v = physics.verdicts
            stats = [f"{s.mean:.3g} / {s.max:.3g}" if s is not None else "-"
                     for s in (physics.empty_band_fraction, physics.rms_ratio,
                               physics.wasserstein)]
            rows.append([cell.label, test_set, str(v.get("stable", 0)),
                         str(v.get("bounded but unphysical", 0)), str(v.get("diverges", 0)),
                         *stats, physics.worst_reason or ""])
    if not rows:
        return
    doc.heading("Long rollouts", 2)
    doc.paragraph(
        f"Every seed rolled out from every test start for {' or '.join(map(str, sorted(steps)))} "
        "steps and judged by the training data's own statistics (\"Stable means physical\" in "
        "the README): the share of its late energy in bands (or POD directions) where the data "
        "have none, its late rms over the reference's largest, and the Wasserstein-1 distance "
        "of its values from the data's in data standard deviations (mean / worst over the "
        "rollouts that did not diverge).")
    doc.table(["cell", "test set", "stable", "bounded but unphysical", "diverges",
               "energy in empty bands", "rms ratio", "W1", "e.g."], rows)
