"""A run directory opened once: `Run`.

Every command on a trained run (evaluate, resume, fine-tuning starts,
diagnose, stabilize, rollout, study cells) takes a `Run`. Each file is read
at most once per `Run` and what is derived from it (the split, the system,
the simulator factory, the projection basis, the trained networks) is
computed at most once, on first use.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from .._errors import ConfigError
from .._rundir import RunDir
from ..config import RunConfig, read_yaml, validate
from ..data import Normalization, TrajectoryDataset
from ..evaluation import Metrics
from ..simulators import AbstractSimulator
from ..systems import System
from ..training import TrainResult, read_checkpoint, read_train_log, trained_from_checkpoint
from ._build import build_system, simulator_factory, split_dataset
from ._data_source import open_run_data, read_normalization


class Run:
    """A run directory, its files each read at most once.

    **Arguments:**

    - `path`: the run directory (it must hold a `config.yaml`).
    - `config`: use this config instead of the stored one (evaluation
        overrides); the stored one is still what was trained.

    Attributes are computed on first use and kept: `config`, `checkpoint`
    (header and arrays, checksum verified), `progress`, `system`, `data`
    (opened and checked against the recorded fingerprint), `parts` (the
    split), `normalization`, `make` (the simulator factory), `trained`.
    """

    def __init__(self, path: str | os.PathLike, config: RunConfig | None = None):
        self.path = pathlib.Path(path)
        self.files = RunDir(self.path)
        if config is None and not self.files.config.exists():
            if self.files.checkpoint.exists():
                raise ConfigError(
                    f"{path}: trained by stablesim.training.train, which keeps no config.yaml to "
                    "rebuild the run from; train it with stablesim.runs.train_run(config, "
                    "out_dir) instead (the config names your solver and network as "
                    "'file.py:function'), see the README's 'Runs trained from Python'")
            raise ConfigError(f"{path}: not a run directory (no config.yaml)")
        if config is not None:
            self.__dict__["config"] = config

    @classmethod
    def open(cls, run: str | os.PathLike | Run) -> Run:
        """`run` itself if it is a `Run`, else the run directory at that path, opened."""
        return run if isinstance(run, Run) else cls(run)

    def with_config(self, config: RunConfig) -> Run:
        """The same run under another config (evaluation keys, a change without training),
        sharing the files read: the checkpoint, the data and the normalization are read
        here, once, for both."""
        other = Run(self.path, config)
        for name in ("checkpoint", "data", "normalization"):
            other.__dict__[name] = getattr(self, name)
        if config.data == self.config.data:  # the same split: what is derived from it once
            other.__dict__["parts"] = self.parts
        return other

    @functools.cached_property
    def config(self) -> RunConfig:
        """The resolved `config.yaml`."""
        return validate(RunConfig, read_yaml(self.files.config), source=str(self.files.config))

    @functools.cached_property
    def checkpoint(self) -> tuple[dict[str, Any], bytes] | None:
        """`(header, arrays)` of the checkpoint, read once (None: not trained yet)."""
        if not self.files.checkpoint.exists():
            return None
        return read_checkpoint(self.files.checkpoint)

    @property
    def progress(self) -> tuple[int, int]:
        """`(updates done, updates planned)`."""
        total = self.config.training.total_updates
        return (0 if self.checkpoint is None else int(self.checkpoint[0]["step"])), total

    def require_trained(self, *, finished: bool = True) -> None:
        """One line and a `ConfigError` if the run is not trained (or not finished)."""
        done, total = self.progress
        if done == 0:
            raise ConfigError(f"{self.path}: not trained yet (no checkpoint)")
        if finished and done < total:
            raise ConfigError(f"{self.path}: training stopped at update {done} of {total}; "
                              f"resume it first (`stablesim train --resume {self.path}`)")

    @functools.cached_property
    def system(self) -> System | None:
        return build_system(self.config)

    @functools.cached_property
    def data(self) -> TrajectoryDataset:
        """The full dataset, checked against the one the run was trained on."""
        return open_run_data(self.path, self.config)

    @functools.cached_property
    def parts(self) -> dict[str, TrajectoryDataset]:
        """Train, validation and test sets."""
        return split_dataset(self.config, self.data)

    @functools.cached_property
    def normalization(self) -> Normalization | None:
        return read_normalization(self.path)

    @functools.cached_property
    def make(self) -> Callable[[jax.Array], AbstractSimulator]:
        """The simulator factory of the run's config, data and normalization."""
        return simulator_factory(self.config, self.system, self.data, self.normalization,
                                 parts=self.parts)

    @functools.cached_property
    def metrics(self) -> Metrics:
        """The results of the last evaluation (kept by `evaluate_run`, else `metrics.json`)."""
        return Metrics.read(self.files.metrics)

    @property
    def evaluated(self) -> bool:
        return "metrics" in self.__dict__ or self.files.metrics.exists()

    @functools.cached_property
    def history(self) -> list[dict]:
        """The training log's rows up to the checkpoint (whose step an evaluation records:
        the checkpoint is not read for it)."""
        if "checkpoint" not in self.__dict__ and self.evaluated:
            return read_train_log(self.files.log, self.metrics.updates or 10**12)
        return read_train_log(self.files.log, self.progress[0])

    @functools.cached_property
    def examples(self) -> dict[str, np.ndarray]:
        """The example rollouts of the last evaluation (kept by `evaluate_run`, else read)."""
        if not self.files.rollout_example.exists():
            return {}
        with np.load(self.files.rollout_example) as arrays:
            return {key: arrays[key] for key in arrays.files}

    @functools.cached_property
    def trained(self) -> TrainResult:
        """The trained networks of every seed (from the checkpoint read once)."""
        self.require_trained(finished=False)
        assert self.checkpoint is not None
        return trained_from_checkpoint(self.make, self.files.checkpoint, *self.checkpoint)
