"""From a `RunConfig` to the objects of a run: system, data, simulator factory."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Callable

import jax
import numpy as np

from .._errors import ConfigError, DataError
from .._rundir import RunDir
from ..config import RunConfig, check_rollout, same_values, split_parameter_column
from ..data import (
    Normalization,
    TrajectoryDataset,
    generate_dataset,
    load_dataset,
    normalization_statistics,
    scale_warnings,
    split_by_parameter,
    well_statistics,
)
from ..models import make_network, normalized_network
from ..simulators import (
    AbstractSimulator,
    Correction,
    Prediction,
)
from ..systems import SYSTEMS, System
from ._solver_build import build_solver


def build_system(config: RunConfig) -> System | None:
    """The built-in system of a config (None for the user's own data)."""
    if config.system.name is None:
        return None
    options = {} if config.system.num_points is None else {"num_points": config.system.num_points}
    return SYSTEMS[config.system.name](**options)


def split_values(config: RunConfig, system: System | None) -> dict[str, list[float]]:
    """Parameter values of the train / interpolation / extrapolation sets."""
    d = config.data

    def pick(given, default):
        return list(given) if given is not None else list(default)

    if system is None:
        return {"train": list(d.train_values or []),
                "validation": list(d.validation_values or []),
                "interpolation": list(d.interpolation_values or []),
                "extrapolation": list(d.extrapolation_values or [])}
    values = {"train": pick(d.train_values, system.train_values),
              "interpolation": pick(d.interpolation_values, system.interpolation_values),
              "extrapolation": pick(d.extrapolation_values, system.extrapolation_values)}
    validation = pick(d.validation_values, system.validation_values)
    if d.validation_values is None:  # the system's defaults, less those the user's split takes
        taken = same_values(validation, [v for vs in values.values() for v in vs])
        validation = [v for v in validation if v not in taken]
    return {**values, "validation": validation}


def dataset_key(config: RunConfig) -> str:
    """A string identifying the dataset a config asks for (for caching)."""
    return json.dumps({"system": config.system.model_dump(), "data": config.data.model_dump()},
                      sort_keys=True)


def make_dataset(config: RunConfig) -> TrajectoryDataset:
    """Load `data.file`, or simulate the built-in system for every split value.

    **Arguments:**

    - `config`: the run config.

    **Returns:**

    The full dataset (all splits); see `split_dataset`.
    """
    system = build_system(config)
    if config.data.file is not None:
        data = open_data_file(config)
        if system is not None and data.state_shape != system.data_shape:
            raise DataError(f"{config.data.file}: states shaped {data.state_shape}, but "
                            f"system {config.system.name} has {system.data_shape}")
        return data
    assert system is not None, "RunConfig's validation asks user data for data.file"
    values = split_values(config, system)
    every = values["train"] + values["interpolation"] + values["extrapolation"]
    d = config.data
    options = dict(trajectories_per_value=d.trajectories_per_value, frames=d.frames,
                   transient=d.transient, seed=d.seed)
    data = generate_dataset(system, every, **options)
    if not values["validation"]:
        return data
    # fresh initial conditions (stream 1): train and test data do not move with these values
    validation = generate_dataset(system, values["validation"], stream=1, **options)
    return dataclasses.replace(
        data, trajectories=np.concatenate([data.trajectories, validation.trajectories]),
        params=np.concatenate([data.params, validation.params]))


IN_MEMORY = {"auto": None, "on": False, "off": True}
"""`data.stream` as `load_dataset`'s `in_memory`."""


def open_data_file(config: RunConfig, path: str | os.PathLike | None = None
                   ) -> TrajectoryDataset:
    """The user's data file as `data.format`, `data.fields` and `data.stream` say."""
    d = config.data
    source = path if path is not None else d.file
    assert source is not None
    return load_dataset(source, format=d.format, fields=d.fields, in_memory=IN_MEMORY[d.stream])


def split_column(config: RunConfig, data: TrajectoryDataset) -> int:
    """The parameter column the split values refer to (`data.split_parameter`)."""
    return split_parameter_column(config.data.split_parameter, data.parameter_names, "the data")


def split_dataset(config: RunConfig, data: TrajectoryDataset) -> dict[str, TrajectoryDataset]:
    """Train, validation and test sets by parameter value (only where values exist).

    With `data.test_trajectories: N` the last N trajectories are the test set
    (`interpolation`) and, with `data.validation_trajectories: V`, the V
    before them the validation set.
    """
    held_out = config.data.test_trajectories
    if held_out is not None:
        b, held_val = data.num_trajectories, config.data.validation_trajectories or 0
        if held_out + held_val >= b:
            key = "data.validation_trajectories" if held_val else "data.test_trajectories"
            raise ConfigError(f"{key}: holding out {held_out + held_val} of the {b} "
                              "trajectories would leave none to train on")
        first_test = b - held_out
        parts = {"train": data.take(np.arange(first_test - held_val)),
                 "interpolation": data.take(np.arange(first_test, b))}
        if held_val:
            parts["validation"] = data.take(np.arange(first_test - held_val, first_test))
        _check_rollout_fits(config, parts)
        return parts
    values = split_values(config, build_system(config))
    if config.system.name is None and config.data.train_values is None:
        return _file_split(config, data)
    if not data.params.shape[1]:
        raise DataError("the dataset has no physical parameters to split by; hold out "
                        "trajectories instead (data.test_trajectories: N)")
    column = split_column(config, data)
    parts = split_by_parameter(data, train=values["train"],
                               interpolation=values["interpolation"],
                               extrapolation=values["extrapolation"], column=column)
    if values["validation"] and (config.data.validation_values is not None
                                 or data.has_parameter(values["validation"], column=column)):
        # (a run directory from before validation sets holds none of the system's values)
        parts["validation"] = data.with_parameter(values["validation"], column=column)
    _check_rollout_fits(config, parts)
    return parts


def _file_split(config: RunConfig, data: TrajectoryDataset) -> dict[str, TrajectoryDataset]:
    """The split the data carry (The Well's train / valid / test folders)."""
    ranges = data.metadata.get("splits") or {}
    if "train" not in ranges:
        raise ConfigError("data.train_values: needed to split the user's own data (the data carry "
                          "no train/valid/test split of their own); or hold out trajectories "
                          "with data.test_trajectories")
    parts = {name: data.take(np.arange(*span)) for name, span in ranges.items()}
    if len(parts) == 1:
        raise ConfigError("data.file: its split holds only training trajectories; hold out test "
                          "trajectories with data.test_trajectories")
    _check_rollout_fits(config, parts)
    return parts


def _check_rollout_fits(config: RunConfig, parts: dict[str, TrajectoryDataset]) -> None:
    for name, part in parts.items():
        if name != "train":  # a file's own splits may differ in length
            try:
                check_rollout(config, part.num_frames, f"the {name} set")
            except ValueError as err:
                raise ConfigError(str(err)) from None


def data_energy(train: TrajectoryDataset, frames: np.ndarray | None = None):
    """The `EnergySpectrum` of a training split's sample (`sampled()`: up to 1 GiB of evenly
    spaced trajectories; `frames`: that sample, if read already), computed once per split
    object (diagnose, the projection)."""
    from ..stability import energy_spectrum

    cached = train.__dict__.get("_energy_spectrum")
    if cached is None:
        cached = energy_spectrum(train.sampled() if frames is None else frames)
        train.__dict__["_energy_spectrum"] = cached
    return cached


def projection_basis(config: RunConfig, train: TrajectoryDataset) -> np.ndarray | None:
    """Orthonormal basis of the training data's subspace (`simulator.projection`), or None."""
    s = config.simulator
    if not s.projection:
        return None
    energy = data_energy(train)
    rank = s.projection_rank or energy.rank
    if rank > energy.num_features:
        raise ConfigError(f"simulator.projection_rank: {rank} exceeds the state dimension "
                          f"{energy.num_features}")
    if rank > energy.directions.shape[1]:
        raise ConfigError(f"simulator.projection_rank: {rank} exceeds the "
                          f"{energy.directions.shape[1]} directions the training frames span "
                          "(the rest carry no energy, so no basis of them is kept)")
    return energy.directions[:, :rank].astype(np.float32)


def simulator_factory(
    config: RunConfig, system: System | None, data: TrajectoryDataset,
    normalization: Normalization | None = None, *,
    parts: dict[str, TrajectoryDataset] | None = None,
) -> Callable[[jax.Array], AbstractSimulator]:
    """`make(key) -> simulator` for the trainer, as the config describes.

    **Arguments:**

    - `config`: the run config (model and simulator sections).
    - `system`: the built-in system (its coarse solver for correction), or None.
    - `data`: the dataset (state shape, number of parameters; the training
        split defines the projection subspace).
    - `normalization`: the run's statistics (`run_normalization`), or None.
    - `parts`: the split of `data`, if already made (the projection needs it).

    **Returns:**

    A function of a random key.
    """
    m, s = config.model, config.simulator
    scale = (tuple(system.parameter_scale) if system is not None
             else tuple(1.0 for _ in data.parameter_names))
    solver = build_solver(config, system, data) if s.setup == "correction" else None
    basis = (projection_basis(config, (parts or split_dataset(config, data))["train"])
             if s.projection else None)

    keep = (band_filter_mask((parts or split_dataset(config, data))["train"])
            if s.band_filter else None)
    cap = None
    if s.energy_cap:
        from ..stability import largest_mean_square

        cap = largest_mean_square((parts or split_dataset(config, data))["train"].sampled())

    def make(key):
        try:
            net = make_network(m.architecture, state_shape=tuple(data.state_shape),
                               num_parameters=data.params.shape[1], parameter_scale=scale,
                               width=m.width, depth=m.depth, activation=m.activation,
                               initializer=m.initializer, boundary=data.boundary,
                               residual=solver is None and s.residual, key=key)
        except ConfigError as err:
            text = str(err)
            raise ConfigError(text if text.startswith("model.") else f"model: {text}") from None
        if normalization is not None:
            net = normalized_network(net, normalization,
                                     shift_output=solver is None and not s.residual)
        sim = (Prediction(net, residual=s.residual, contraction=s.contraction) if solver is None
               else Correction(net, solver, mode=s.mode))
        if basis is not None:
            from ..stability import Projected

            sim = Projected(sim, basis)
        if keep is not None:
            from ..stability import BandFiltered

            sim = BandFiltered(sim, keep)
        if cap is not None:
            from ..stability import EnergyCapped

            sim = EnergyCapped(sim, cap)
        return sim

    return make


def band_filter_mask(train: TrajectoryDataset) -> np.ndarray:
    """The Fourier coefficients `simulator.band_filter` keeps: bands with data energy."""
    from ..evaluation import EMPTY_BAND_SHARE
    from ..stability import kept_band_mask
    from ._long_physics import data_statistics

    if len(train.state_shape) < 2 or set(train.boundary) != {"periodic"}:
        raise ConfigError("simulator.band_filter: needs fields on a periodic grid, the data "
                          f"are shaped {train.state_shape} with boundaries {train.boundary}")
    share = data_statistics(train).band_share
    return kept_band_mask(share, tuple(train.state_shape[1:]), EMPTY_BAND_SHARE)


def normalization_mode(config: RunConfig) -> bool:
    """Whether the run normalizes (`data.normalize`; auto: the user's own file only)."""
    mode = config.data.normalize
    return mode == "on" or (mode == "auto" and config.data.file is not None)


def run_normalization(config: RunConfig, train: TrajectoryDataset) -> Normalization | None:
    """The statistics a new run normalizes with (None: off), from its training split.

    The Well's `stats.yaml` when the data come with one; else one pass over
    the training trajectories. With normalization off, channels or
    parameters far from O(1) are named on stderr.
    """
    norm = (well_statistics(train.metadata["stats_file"], train.metadata["channel_fields"],
                            train.params)
            if "stats_file" in train.metadata and "channel_fields" in train.metadata
            else None)
    if normalization_mode(config):
        return norm or normalization_statistics(train)
    if config.data.file is not None:
        import sys

        # a warning needs the orders of magnitude only: a sample of evenly spaced
        # trajectories (64 MiB), not the full pass of up to 1 GiB normalization takes
        stats = norm or normalization_statistics(train, max_bytes=64 << 20)
        for line in scale_warnings(stats, train.channel_names, train.parameter_names):
            print(f"stablesim: warning: {line}", file=sys.stderr)
    return None


def run_paths(run_dir: str | os.PathLike) -> dict[str, pathlib.Path]:
    """The files of a run directory by role."""
    return RunDir.of(run_dir).as_dict()
