"""The run's numerical solver: the user's function as JAX or NumPy, checked before training."""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Callable

import jax
import numpy as np

from .._errors import ConfigError
from ..config import RunConfig
from ..data import TrajectoryDataset
from ..simulators import (
    AbstractSimulator,
    Solver,
    SolverAlone,
    check_simulator_solvers,
    check_solver_gradient,
    external_solver,
    jax_solver,
    jax_trace_problem,
    load_solver_function,
)
from ..systems import SYSTEMS, System
from ..training import build_modality


def _host_coarse_solver(system: System) -> Callable:
    step = jax.jit(jax_solver(system.coarse_step))  # in the default float, as in the graph
    return lambda state, params: np.asarray(step(state, params))


def solver_name(config: RunConfig) -> str | None:
    """How reports name the run's solver (None: the run has none)."""
    s = config.simulator
    if s.solver_function is not None:
        target, name = s.solver_function.rsplit(":", 1)
        return f"{pathlib.Path(target).name}:{name}"
    if config.system.name is None:
        return None
    system = SYSTEMS[config.system.name]
    kind = "external " if s.setup == "correction" and s.solver == "external" else ""
    return f"{kind}{system.__name__} coarse solver"


def build_solver(config: RunConfig, system: System | None,
                 data: TrajectoryDataset | None = None) -> Solver | None:
    """The numerical solver of a run: what a correction corrects, the solver-alone baseline.

    `simulator.solver_function` (the user's code: inside the compiled step
    if it is JAX, else through a host callback; `solver_kind_of`), else the
    built-in system's coarse solver (JAX, or through the callback with
    `simulator.solver: external` in a correction), else None.

    **Arguments:**

    - `config`: the run config.
    - `system`: the built-in system, or None.
    - `data`: the dataset (needed with `solver_function`: `solver_kind: auto`
        traces it on the data's state).
    """
    s = config.simulator
    if s.solver_function is not None:
        fn = load_solver_function(s.solver_function)
        if solver_kind_of(config, data) == "jax":
            return jax_solver(fn)
        return external_solver(fn, vectorized=s.solver_batched, name=solver_name(config))
    if system is None:
        return None
    if s.setup == "correction" and s.solver == "external":
        return external_solver(_host_coarse_solver(system), name=solver_name(config))
    # the same wrapper as a user's JAX solver: Exponax runs in the default float (float64
    # under jax_enable_x64), the state keeps the data's dtype
    return jax_solver(system.coarse_step)


def solver_kind_of(config: RunConfig, data: TrajectoryDataset | None) -> str:
    """`jax` or `numpy`: how the run's `solver_function` runs (`simulator.solver_kind`, with
    `auto` decided by tracing it once on the data's first state); one line if `jax` was
    asked for and the function is not JAX."""
    s = config.simulator
    assert s.solver_function is not None
    if s.solver_kind == "numpy":
        return "numpy"
    if data is None:
        raise ValueError("build_solver: a solver_function needs the data (its state shape)")
    problem = _trace_problem(*_trace_key(config, data))
    if problem is None:
        return "jax"
    if s.solver_kind == "jax":
        raise ConfigError(f"simulator.solver_kind: jax, but solver {solver_name(config)} is not "
                          f"a JAX function of one state: {problem}")
    return "numpy"


def correction_on_host(config: RunConfig, data: TrajectoryDataset) -> bool:
    """Whether the run corrects a solver that runs as a host callback (no derivatives: WIG
    cannot train it)."""
    s = config.simulator
    if s.setup != "correction":
        return False
    if s.solver_function is not None:
        return solver_kind_of(config, data) == "numpy"
    return s.solver == "external"


def _trace_key(config: RunConfig, data: TrajectoryDataset) -> tuple:
    state, params = data.trajectories[0, 0], data.params[0]
    assert config.simulator.solver_function is not None
    return (config.simulator.solver_function, tuple(state.shape), str(state.dtype),
            tuple(params.shape))


@functools.lru_cache(maxsize=32)
def _trace_problem(spec: str, shape: tuple, dtype: str, param_shape: tuple) -> str | None:
    return jax_trace_problem(load_solver_function(spec), np.zeros(shape, dtype),
                             np.zeros(param_shape, np.float32))


@functools.lru_cache(maxsize=64)
def _say_once(line: str) -> None:
    """Print a line once per process (a study checks each cell's solver, then trains it)."""
    print(line)


def check_solver(config: RunConfig, data: TrajectoryDataset) -> None:
    """Check the user's solver on real training states before anything trains.

    A NumPy solver is called once (an exception, `None`, a wrong shape or
    non-finite values end in one `ConfigError` line naming the solver); a
    JAX solver is traced and run once (shape, dtype, array type, finite
    values) and, when a stage back-propagates through it (WIG) and
    `simulator.gradient_check` is on, its VJP is compared with central finite
    differences (the relative error is printed).
    """
    s = config.simulator
    if s.solver_function is None:
        return
    name = solver_name(config) or s.solver_function
    state, params = np.asarray(data.trajectories[0, 0]), np.asarray(data.params[0])
    through = s.setup == "correction" and any(
        build_modality(stage.modality).requires_differentiable_solver for stage in config.stages)
    kind = solver_kind_of(config, data)
    if s.solver_kind == "auto":
        how = ("as JAX inside the compiled step" if kind == "jax" else
               "as NumPy through a host callback (it does not trace as JAX: "
               f"{_trace_problem(*_trace_key(config, data))})")
        _say_once(f"solver {name}: runs {how}; simulator.solver_kind: auto traced it once, "
                  "set it to numpy or jax to choose")
    if kind == "numpy" and through:
        why = ("simulator.solver_kind is numpy" if s.solver_kind == "numpy" else
               "it does not trace as JAX: " + str(_trace_problem(*_trace_key(config, data))))
        raise ConfigError(f"solver {name}: WIG back-propagates through the solver, but it "
                          f"runs as NumPy through a host callback ({why}); use NOG or ONE, "
                          "or write the solver in jax.numpy")
    solver = build_solver(config, None, data)
    assert solver is not None
    check_simulator_solvers(SolverAlone(solver), state, params, name=name)
    if kind == "jax" and through and s.gradient_check:
        count = min(4, data.num_trajectories)
        frames = data.num_frames
        states = np.stack([np.asarray(data.trajectories[i, (i * 7) % frames])
                           for i in range(count)])
        error = check_solver_gradient(solver, states, np.asarray(data.params[:count]), name=name,
                                      tolerance=s.gradient_tolerance)
        print(f"solver {name}: VJP vs central finite differences on {count} training states: "
              f"relative error {error:.2g} (tolerance {s.gradient_tolerance:g})")


def baseline_simulator(config: RunConfig, system: System | None,
                       data: TrajectoryDataset | None = None) -> AbstractSimulator | None:
    """The solver alone, as the run's baseline (None: no solver to compare with); `data` as
    for `build_solver`."""
    solver = build_solver(config, system, data)
    return None if solver is None else SolverAlone(solver)
