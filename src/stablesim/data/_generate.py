"""Datasets generated from a built-in system."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..systems import System
from ._dataset import TrajectoryDataset


def generate_dataset(
    system: System,
    parameter_values: Sequence[float],
    *,
    trajectories_per_value: int = 1,
    frames: int,
    transient: int = 0,
    seed: int = 0,
    stream: int = 0,
) -> TrajectoryDataset:
    """Simulate reference trajectories of a system for several parameter values.

    **Arguments:**

    - `system`: the system (reference stepper and initial conditions).
    - `parameter_values`: values of its (single) physical parameter; empty for
        a system without parameters.
    - `trajectories_per_value`: trajectories per value (different ICs).
    - `frames`: frames kept per trajectory.
    - `transient`: transient frames simulated and discarded.
    - `seed`: random seed of the initial conditions.
    - `stream`: 0, or another number for initial conditions independent of
        stream 0's at the same seed (the validation set's fresh starts).

    **Returns:**

    A `TrajectoryDataset` with metadata (system, dt, grid, seed, version).
    """
    from .. import __version__

    if system.parameter_names:
        system.check_parameters(parameter_values)
        rows = np.repeat(np.asarray(parameter_values, np.float32), trajectories_per_value)[:, None]
    else:
        rows = np.zeros((trajectories_per_value, 0), np.float32)
    key = jax.random.key(seed)
    if stream:
        key = jax.random.fold_in(key, stream)
    traj = system.trajectories(key, jnp.asarray(rows), frames=frames, transient=transient)
    metadata = {
        "system": type(system).__name__,
        "dt": float(system.dt),
        "num_points": int(system.num_points),
        "num_spatial_dims": int(system.num_spatial_dims),
        "transient": int(transient),
        "seed": int(seed),
        "generated_in": "float64 (stored as float32)",
        "stablesim_version": __version__,
    }
    return TrajectoryDataset(np.asarray(traj), rows, tuple(system.parameter_names), metadata)
