"""The layout of a run directory: every file's name in one place."""

from __future__ import annotations

import dataclasses
import os
import pathlib


@dataclasses.dataclass(frozen=True)
class RunDir:
    """The files of a run directory by role.

    **Fields:**

    - `path`: the run directory.

    The properties name its files: `config` (resolved YAML), `dataset`
    (HDF5) or `data_source` (a reference to the user's file), `normalization`,
    `checkpoint` (and `previous_checkpoint`), `log` (training log),
    `metrics` (evaluation), `rollout_example` (one rollout per test set),
    `plots` and `diagnose` (folders).
    """

    path: pathlib.Path

    @classmethod
    def of(cls, run_dir: str | os.PathLike) -> RunDir:
        return cls(pathlib.Path(run_dir))

    @property
    def config(self) -> pathlib.Path:
        return self.path / "config.yaml"

    @property
    def dataset(self) -> pathlib.Path:
        return self.path / "dataset.h5"

    @property
    def data_source(self) -> pathlib.Path:
        """Where the user's data file is, with its size and fingerprint (instead of a copy)."""
        return self.path / "data_source.json"

    @property
    def normalization(self) -> pathlib.Path:
        """The per-channel and per-parameter statistics the run normalizes with."""
        return self.path / "normalization.json"

    @property
    def checkpoint(self) -> pathlib.Path:
        return self.path / "checkpoint.eqx"

    @property
    def previous_checkpoint(self) -> pathlib.Path:
        return self.path / "checkpoint.eqx.prev"

    @property
    def log(self) -> pathlib.Path:
        return self.path / "train_log.csv"

    @property
    def metrics(self) -> pathlib.Path:
        return self.path / "metrics.json"

    @property
    def rollout_example(self) -> pathlib.Path:
        return self.path / "rollout_example.npz"

    @property
    def plots(self) -> pathlib.Path:
        return self.path / "plots"

    @property
    def diagnose(self) -> pathlib.Path:
        return self.path / "diagnose"

    def as_dict(self) -> dict[str, pathlib.Path]:
        """The files by role, as a mapping."""
        return {name: getattr(self, name) for name in (
            "config", "dataset", "data_source", "normalization", "checkpoint", "log", "metrics",
            "rollout_example", "plots", "diagnose")}
