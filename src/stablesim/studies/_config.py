"""The study file's schema (importable without JAX)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt

from ..config import StrictConfig


class FineTune(StrictConfig):
    """Cells that start from another cell's trained networks (the paper's protocol).

    **Fields:**

    - `start_from`: grid values naming the start cell of every other cell:
        the cell itself with these values (e.g. `{modality.name: ONE}`: each
        NOG/WIG cell starts from the ONE cell of the same setup). Cells that
        already have these values train from scratch.
    - `updates`: updates of the fine-tuning cells (their `training.updates`);
        the start cells keep theirs. The report shows both and the total.
    - `continue_start`: also continue each start cell with its own modality
        for the same updates, schedule and learning rate and a fresh
        optimizer (a cell `START-continued`): the matched control every
        "vs ONE" ratio uses, so no cell wins by its larger budget.
    """

    start_from: dict[str, Any]
    updates: PositiveInt
    continue_start: bool = True


class StudyConfig(StrictConfig):
    """A study: a base run config and a grid of dotted keys to vary.

    **Fields:**

    - `name`: a title for the report.
    - `base`: a run config file (relative to the study file), or None for
        the built-in defaults.
    - `config`: overrides of the base, as a nested mapping or dotted keys.
    - `grid`: `{dotted key: [values]}`; every combination is one cell.
    - `fine_tune`: cells that start from another cell's trained networks
        (None: every cell trains from scratch).
    - `tune`: `{dotted key: [values]}` chosen per cell on the validation set
        (e.g. `{training.learning_rate: [3e-4, 1e-3, 3e-3]}`): every tuned
        cell trains once per combination and the report uses the one with the
        lowest validation error. The same grid for every cell; in a
        fine-tuning study it tunes the fine-tuning cells (the continued start
        cells included), whose start cells keep their config.
    """

    name: str = "study"
    base: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    fine_tune: FineTune | None = None
    tune: dict[str, list[Any]] = Field(default_factory=dict)
