"""The study file's schema (importable without JAX)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..config import StrictConfig


class StudyConfig(StrictConfig):
    """A study: a base run config and a grid of dotted keys to vary.

    **Fields:**

    - `name`: a title for the report.
    - `base`: a run config file (relative to the study file), or None for
        the built-in defaults.
    - `config`: overrides of the base, as a nested mapping or dotted keys.
    - `grid`: `{dotted key: [values]}`; every combination is one cell.
    """

    name: str = "study"
    base: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
