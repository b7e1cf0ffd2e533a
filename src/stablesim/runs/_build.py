"""From a `RunConfig` to the objects of a run: system, data, simulator factory."""

from __future__ import annotations

import importlib
import json
import pathlib
from collections.abc import Callable

import jax
import numpy as np

from .._errors import ConfigError, DataError
from ..config import RunConfig
from ..data import TrajectoryDataset, generate_dataset, load_dataset, split_by_parameter
from ..models import make_network
from ..simulators import AbstractSimulator, Correction, Prediction, external_solver
from ..systems import SYSTEMS, System


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
                "interpolation": list(d.interpolation_values or []),
                "extrapolation": list(d.extrapolation_values or [])}
    return {"train": pick(d.train_values, system.train_values),
            "interpolation": pick(d.interpolation_values, system.interpolation_values),
            "extrapolation": pick(d.extrapolation_values, system.extrapolation_values)}


def data_key(config: RunConfig) -> str:
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
        data = load_dataset(config.data.file)
        if system is not None and data.state_shape != system.data_shape:
            raise DataError(f"{config.data.file}: states shaped {data.state_shape}, but "
                            f"system {config.system.name} has {system.data_shape}")
        return data
    values = split_values(config, system)
    every = values["train"] + values["interpolation"] + values["extrapolation"]
    return generate_dataset(system, every, trajectories_per_value=config.data.trajectories_per_value,
                            frames=config.data.frames, warmup=config.data.warmup,
                            seed=config.data.seed)


def split_dataset(config: RunConfig, data: TrajectoryDataset) -> dict[str, TrajectoryDataset]:
    """Train and test sets by parameter value (test sets only where values exist)."""
    values = split_values(config, build_system(config))
    if not data.params.shape[1]:
        raise DataError("the dataset has no physical parameters to split by; give "
                        "data.train_values with a parameter column in the file")
    parts = split_by_parameter(data, train=values["train"],
                               interpolation=values["interpolation"],
                               extrapolation=values["extrapolation"])
    needed = config.evaluation.steps + 1
    for name, part in parts.items():
        if name != "train" and part.num_frames < needed:
            raise ConfigError(f"evaluation.steps: {config.evaluation.steps} rollout steps need "
                              f"{needed} frames, the {name} set has {part.num_frames}")
    return parts


def load_solver_function(spec: str) -> Callable:
    """Import `module:function` (a NumPy solver) for `simulator.solver_function`."""
    if spec.count(":") != 1:
        raise ConfigError(f"simulator.solver_function: expected 'module:function', got {spec!r}")
    module_name, name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"simulator.solver_function: cannot import {module_name!r} ({err})") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"simulator.solver_function: {module_name} has no function {name!r}")
    return fn


def _host_coarse_solver(system: System) -> Callable:
    step = jax.jit(system.coarse_step)
    return lambda state, params: np.asarray(step(state, params))


def simulator_factory(
    config: RunConfig, system: System | None, data: TrajectoryDataset
) -> Callable[[jax.Array], AbstractSimulator]:
    """`make(key) -> simulator` for the trainer, as the config describes.

    **Arguments:**

    - `config`: the run config (model and simulator sections).
    - `system`: the built-in system (its coarse solver for correction), or None.
    - `data`: the dataset (state shape, number of parameters).

    **Returns:**

    A function of a random key.
    """
    m, s = config.model, config.simulator
    scale = (tuple(system.parameter_scale) if system is not None
             else tuple(1.0 for _ in data.parameter_names))
    solver = None
    if s.setup == "correction":
        if s.solver_function is not None:
            solver = external_solver(load_solver_function(s.solver_function))
        elif s.solver == "external":
            solver = external_solver(_host_coarse_solver(system))
        else:
            solver = system.coarse_step

    def make(key):
        try:
            net = make_network(m.architecture, state_shape=tuple(data.state_shape),
                               num_parameters=data.params.shape[1], parameter_scale=scale,
                               width=m.width, depth=m.depth, activation=m.activation,
                               initializer=m.initializer, key=key)
        except ConfigError as err:
            raise ConfigError(f"model: {err}") from None
        if solver is None:
            return Prediction(net, residual=s.residual)
        return Correction(net, solver, mode=s.mode)

    return make


def run_paths(run_dir: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """The files of a run directory by role."""
    run = pathlib.Path(run_dir)
    return {"config": run / "config.yaml", "dataset": run / "dataset.h5",
            "checkpoint": run / "checkpoint.eqx", "log": run / "train_log.csv",
            "metrics": run / "metrics.json", "results": run / "results.csv",
            "plots": run / "plots"}
