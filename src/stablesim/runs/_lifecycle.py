"""A run's lifecycle: train a new run, resume it, start a fine-tune from another."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import jax

from .._distributed import is_writer
from .._errors import ConfigError
from .._rundir import RunDir
from ..config import RunConfig, load_run_config, write_yaml
from ..data import TrajectoryDataset
from ..training import TrainResult, train, trained_from_checkpoint
from ._build import (
    build_system,
    make_dataset,
    run_normalization,
    simulator_factory,
    split_dataset,
)
from ._data_source import read_normalization, record_data, save_normalization
from ._opened import Run
from ._solver_build import check_solver


def read_run_config(run_dir: str | os.PathLike) -> RunConfig:
    """The resolved `config.yaml` of a run directory."""
    return Run(run_dir).config


def run_progress(run_dir: str | os.PathLike | Run) -> tuple[int, int]:
    """(updates done, updates planned) of a run directory (0 done: no checkpoint)."""
    return Run.open(run_dir).progress


def train_run(
    config: RunConfig | dict,
    run_dir: str | os.PathLike,
    *,
    dataset: TrajectoryDataset | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a new run into `run_dir` (config.yaml, dataset.h5, checkpoint, log).

    **Arguments:**

    - `config`: the run config, or its sections as a mapping (from Python:
        relative paths resolve against the working directory; checked as a
        file is).
    - `run_dir`: a new (or empty) directory.
    - `dataset`: the full dataset, if already made (studies share one).
    - `stop_after`: stop with a checkpoint after this many updates.
    - `progress`: show a progress bar.

    **Returns:**

    The `TrainResult`.
    """
    if not isinstance(config, RunConfig):
        config = load_run_config(config)
    files = RunDir.of(run_dir)
    if files.checkpoint.exists():
        raise ConfigError(f"{run_dir} already holds a trained run; continue it with "
                          f"`stablesim train --resume {run_dir}` or choose another --out")
    data = dataset if dataset is not None else make_dataset(config)
    parts = split_dataset(config, data)
    check_solver(config, data)
    norm = (read_normalization(config.model.init_from) if config.model.init_from is not None
            else run_normalization(config, parts["train"]))
    make = simulator_factory(config, build_system(config), data, norm)
    make(jax.random.key(0))  # a model that cannot be built fails before the run directory exists
    start = starting_networks(config, make)
    if is_writer():  # in a run over several processes, process 0 writes the files
        pathlib.Path(run_dir).mkdir(parents=True, exist_ok=True)
        record_data(config, data, run_dir)
        save_normalization(run_dir, norm)
        write_yaml(config, files.config)
    return _train(config, run_dir, make, parts, resume=False, stop_after=stop_after,
                  progress=progress, initial_networks=start)


def starting_networks(config: RunConfig, make) -> Any:
    """The trained networks of `model.init_from` (None without it), checked for a fine-tune.

    The start run must have finished its training, with the same seeds and
    model; its networks become this run's starting point, seed by seed.
    """
    source = config.model.init_from
    if source is None:
        return None
    start = Run(source) if _has_config(source) else None
    if start is None or start.checkpoint is None:
        raise ConfigError(f"model.init_from: {source} holds no trained run (no checkpoint)")
    done, total = start.progress
    if done < total:
        raise ConfigError(f"model.init_from: {source} stopped at update {done} of {total}; "
                          f"finish it first (stablesim train --resume {source})")
    keys = ("architecture", "width", "depth", "activation")
    theirs = start.config.model
    differ = [f"{k} {getattr(theirs, k)}, here {getattr(config.model, k)}" for k in keys
              if getattr(theirs, k) != getattr(config.model, k)]
    if differ:
        raise ConfigError(f"model.init_from: {source} was trained with another model "
                          f"({'; '.join(differ)})")
    header, payload = start.checkpoint
    if list(header["seeds"]) != list(config.training.seeds):
        raise ConfigError(f"model.init_from: {source} trained seeds {header['seeds']}, this run "
                          f"has {config.training.seeds}; fine-tuning goes seed by seed")
    try:
        return trained_from_checkpoint(make, start.files.checkpoint, header, payload).networks
    except (ValueError, TypeError, KeyError) as err:
        raise ConfigError(f"model.init_from: {source} holds another model: {err}") from None


def _has_config(path: str | os.PathLike) -> bool:
    """Whether `path` is a run directory (it holds a `config.yaml`)."""
    return RunDir.of(path).config.exists()


def resume_run(run_dir: str | os.PathLike | Run, *, stop_after: int | None = None,
               progress: bool = True) -> TrainResult:
    """Continue an interrupted run from its checkpoint (exactly where it stopped)."""
    run = Run.open(run_dir)
    return _train(run.config, run.path, run.make, run.parts,
                  resume=run.files.checkpoint.exists(), stop_after=stop_after,
                  progress=progress)


def _train(config, run_dir, make, parts, *, resume, stop_after, progress, initial_networks=None):
    return train(make, parts["train"], config.training, config.modality, out_dir=run_dir, resume=resume,
                 stop_after=stop_after, run_config=config.model_dump(mode="json"),
                 initial_networks=initial_networks, progress=progress)



