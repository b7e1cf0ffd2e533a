"""Tuning on validation data: one run per value combination, the lowest validation error kept.

No choice here looks at a test set: the variants are compared on the
validation set alone (`data.validation_values`, `data.validation_trajectories`
or a built-in system's validation values).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ..config import RunConfig, changed, current_key
from ..runs import build_system, split_values
from ._cell import Cell, cell_name

if TYPE_CHECKING:
    from ._config import StudyConfig


@dataclasses.dataclass(frozen=True)
class TuningPick:
    """The variant kept for one tuned cell.

    **Fields:**

    - `cell`: the tuned cell's name.
    - `chosen`: the kept variant (its run directory is `runs/{chosen.name}`).
    - `errors`: `{variant name: validation error}` of every variant (mean
        relative error at the horizon over seeds and validation starts).
    """

    cell: str
    chosen: Cell
    errors: dict[str, float]


def has_validation_set(config: RunConfig) -> bool:
    """Whether a run config holds out validation data (what tuning needs).

    The split's own rule decides (`runs.split_values`: a built-in system's
    default values less those the user's split takes).
    """
    if config.data.validation_trajectories:
        return True
    return bool(split_values(config, build_system(config))["validation"])


def tuning_variants(study: StudyConfig, cells: list[Cell], source: str) -> list[Cell]:
    """Each tuned cell replaced by one variant per combination of `study.tune`.

    In a fine-tuning study the fine-tuning cells (continued start cells
    included) are tuned and the start cells keep their config; otherwise
    every cell is. Variants are named `CELL--VALUES`.

    **Arguments:**

    - `study`: the study (its `tune` and `fine_tune`).
    - `cells`: the resolved cells.
    - `source`: what to name in error messages.

    **Returns:**

    The cells, tuned ones replaced by their variants, in the same order.
    """
    keys = [current_key(k) for k in study.tune]
    grid = {current_key(k) for k in study.grid}
    for key, options in zip(keys, study.tune.values()):
        if not options:
            raise ConfigError(f"{source}: tune.{key}: needs at least one value")
        if key in grid:
            raise ConfigError(f"{source}: tune.{key}: is a grid key; a key is either compared "
                              "(grid) or tuned per cell (tune)")
    out: list[Cell] = []
    for cell in cells:
        if study.fine_tune is not None and cell.start is None:
            out.append(cell)
            continue
        if not has_validation_set(cell.config):
            raise ConfigError(f"{source}: tune: cell {cell.name} has no validation set to "
                              "choose on; set data.validation_values (or "
                              "data.validation_trajectories with data.test_trajectories)")
        for combo in itertools.product(*study.tune.values()):
            values = dict(zip(keys, combo))
            config = changed(cell.config, values, source=f"{source}: tune of cell {cell.name}")
            out.append(dataclasses.replace(cell, name=f"{cell.name}--{cell_name(combo)}",
                                           config=config, tuned_for=cell.name,
                                           tune_values=values))
    return out


def pick_variants(cells: list[Cell], validation_error: Callable[[Cell], float | None]
                  ) -> tuple[list[Cell], list[TuningPick]]:
    """The cells with every tuned group replaced by its variant of lowest validation error.

    **Arguments:**

    - `cells`: cells as `tuning_variants` returns them.
    - `validation_error`: a variant's validation error, None if not evaluated yet.

    **Returns:**

    `(cells, picks)`: a group with a variant not yet evaluated is left out
    of both (its cell is not done).
    """
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.tuned_for is not None:
            groups.setdefault(cell.tuned_for, []).append(cell)
    picks: dict[str, TuningPick] = {}
    for name, variants in groups.items():
        errors = {v.name: validation_error(v) for v in variants}
        if any(e is None for e in errors.values()):
            continue
        ranked = {k: (e if math.isfinite(e) else math.inf) for k, e in errors.items()
                  if e is not None}
        best = min(variants, key=lambda v: ranked[v.name])
        picks[name] = TuningPick(name, best, {k: float(e) for k, e in ranked.items()})
    out: list[Cell] = []
    for cell in cells:
        if cell.tuned_for is None:
            out.append(cell)
        elif cell.tuned_for in picks and picks[cell.tuned_for].chosen is cell:
            out.append(cell)
    return out, list(picks.values())


def describe_values(values: dict[str, Any]) -> str:
    """`training.learning_rate=0.001, ...`."""
    return ", ".join(f"{k}={v}" for k, v in values.items())
