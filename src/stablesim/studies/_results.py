"""A study's results, typed and gathered once: what its report, tables and findings receive."""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib

from ..evaluation import Metrics, RatioInterval, paired_ratio
from ..runs import TEST_SETS, Run
from ._cell import Cell
from ._study import cell_run, study_cells
from ._tuning import TuningPick, pick_variants


@dataclasses.dataclass(frozen=True)
class StudyResults:
    """The evaluated cells of a study directory.

    **Fields:**

    - `out`: the study directory.
    - `record`: its `study.resolved.yaml` (name, grid, base config).
    - `all_cells`: every cell, tuning variants included.
    - `cells`: the cells after the tuning pick (one per tuned group).
    - `picks`: the tuning picks, chosen on validation errors only.
    - `runs`: the evaluated cells' `Run`s by name (their `Metrics` in memory).
    """

    out: pathlib.Path
    record: dict
    all_cells: list[Cell]
    cells: list[Cell]
    picks: list[TuningPick]
    runs: dict[str, Run]

    @classmethod
    def read(cls, out_dir: str | os.PathLike, opened: dict[str, Run] | None = None
             ) -> StudyResults:
        """A study directory's results (`opened`: cells this command evaluated, not re-read).

        **Arguments:**

        - `out_dir`: the study directory.
        - `opened`: `Run`s already opened and evaluated by this process.

        **Returns:**

        The results; the tuning pick is made here, on validation errors.
        """
        out = pathlib.Path(out_dir)
        record, all_cells = study_cells(out)
        runs = {}
        for cell in all_cells:
            run = cell_run(out, cell.name, opened)
            if run is not None and run.evaluated:
                runs[cell.name] = run
        cells, picks = pick_variants(all_cells, lambda c: (runs[c.name].metrics.validation_error()
                                                           if c.name in runs else None))
        return cls(out, record, all_cells, cells, picks, runs)

    @functools.cached_property
    def metrics(self) -> dict[str, Metrics]:
        """Each evaluated cell's `Metrics`."""
        return {name: run.metrics for name, run in self.runs.items()}

    @property
    def done(self) -> list[Cell]:
        """The evaluated cells, in the study's order."""
        return [c for c in self.cells if c.name in self.runs]

    @property
    def horizon(self) -> int | None:
        return self.metrics[self.done[0].name].horizon if self.done else None

    @property
    def test_sets(self) -> list[str]:
        """The test sets the evaluated cells were measured on (never validation)."""
        if not self.done:
            return []
        return [t for t in TEST_SETS if t in self.metrics[self.done[0].name].summary]

    @property
    def seeds(self) -> int:
        return len(self.metrics[self.done[0].name].seeds) if self.done else 0

    def ratio(self, numerator: str, denominator: str, test_set: str,
              denominator_model: str = "learned") -> RatioInterval | None:
        """`numerator`'s mean error over `denominator`'s, paired by seed and start, with its
        bootstrap interval (None: no such rows, or different starts)."""
        num = self.metrics[numerator].start_errors(test_set)
        den = self.metrics[denominator].start_errors(test_set, model=denominator_model)
        if num is None or den is None or num.shape[1] != den.shape[1]:
            return None
        return paired_ratio(num, den)
