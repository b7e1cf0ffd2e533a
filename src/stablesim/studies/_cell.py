"""A study's cell: one run directory, the grid values it stands for, its config."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..config import RunConfig


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of a study.

    **Fields:**

    - `name`: its run directory's name under `runs/`.
    - `varied`: the grid values of the cell it stands for.
    - `config`: its validated run config.
    - `start`: the cell it fine-tunes from (None: from scratch).
    - `continued`: a start cell continued with its own modality (the
        matched-budget control of a fine-tuning study).
    - `tuned_for`: the cell this run is a tuning variant of (None: not tuned).
    - `tune_values`: the tuned keys' values of this variant.
    """

    name: str
    varied: dict[str, Any]
    config: RunConfig
    start: str | None = None
    continued: bool = False
    tuned_for: str | None = None
    tune_values: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        """The varied values in words, e.g. `correction / ONE (continued)`."""
        text = " / ".join(str(v) for v in self.varied.values()) or self.name
        return text + (" (continued)" if self.continued else "")


def cell_name(values: tuple) -> str:
    """A run directory name from grid values (characters outside [A-Za-z0-9_.=+-] become _)."""
    text = "-".join(str(v) for v in values) or "run"
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "run"
