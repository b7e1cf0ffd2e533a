"""Roll a trained run out on the user's own initial states."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError
from ..data import TrajectoryDataset, load_initial_states, save_hdf5
from ..evaluation import rollout_batch
from ..simulators import solver_errors
from ._opened import Run
from ._solver_build import baseline_simulator, solver_name


@solver_errors()
def rollout_run(
    run_dir: str | os.PathLike | Run,
    initial_file: str | os.PathLike,
    *,
    steps: int,
    out: str | os.PathLike,
    seed_index: int = 0,
    params: Sequence[float] | None = None,
    with_solver: bool = False,
) -> dict[str, pathlib.Path]:
    """Roll a trained model out from the first frame of each trajectory in a file.

    **Arguments:**

    - `run_dir`: a trained run directory.
    - `initial_file`: a dataset file (`.h5`/`.npz`, the data format): its
        `trajectories` `(B, T, C, *N)` give the initial states (frame 0),
        its `params` the physical parameters.
    - `steps`: rollout length.
    - `out`: the `.h5` file to write (data format: `(B, steps + 1, C, *N)`,
        the initial state first).
    - `seed_index`: which of the run's seeds (position).
    - `params`: physical parameters for every trajectory (overrides the file's).
    - `with_solver`: also roll out the solver alone, into `<out stem>_solver_alone.h5`.

    **Returns:**

    `{"model": path, "solver_alone": path}` (the second only with `with_solver`).
    """
    run = Run.open(run_dir)
    run.require_trained(finished=False)
    config = run.config
    out = pathlib.Path(out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise ConfigError(f"--out {out}: write an .h5 file")
    data = run.data
    states, phys, _ = load_initial_states(initial_file)  # one frame per trajectory suffices
    if states.shape[1:] != data.state_shape:
        raise DataError(f"{initial_file}: states shaped {states.shape[1:]}, the run was "
                        f"trained on {data.state_shape}")
    if params is not None:
        phys = np.tile(np.asarray(params, np.float32), (states.shape[0], 1))
    if phys.shape[1] != data.params.shape[1]:
        raise DataError(f"{initial_file}: {phys.shape[1]} parameters per trajectory, the run "
                        f"needs {data.params.shape[1]} ({', '.join(data.parameter_names)}); "
                        "give them with --params")
    system = run.system
    trained = run.trained
    if not 0 <= seed_index < len(trained.seeds):
        raise ConfigError(f"--seed-index must be in [0, {len(trained.seeds) - 1}]")
    start = jnp.asarray(states)
    written = {}
    runs = [("model", trained.simulator_for(seed_index), out)]
    if with_solver:
        alone = baseline_simulator(config, system, data)
        if alone is None:
            raise ConfigError("--with-solver: the run has no solver (user data without "
                              "simulator.solver_function)")
        runs.append(("solver_alone", alone, out.with_name(f"{out.stem}_solver_alone{out.suffix}")))
    for name, sim, path in runs:
        states = np.asarray(rollout_batch(sim, start, jnp.asarray(phys), steps))
        trajectories = np.concatenate([np.asarray(start)[:, None], states], axis=1)
        meta = {"source_run": str(run.path.resolve()),
                "initial_file": str(initial_file), "seed": trained.seeds[seed_index],
                "simulator": name if name == "model" else f"solver alone ({solver_name(config)})"}
        if data.dt is not None:
            meta["dt"] = data.dt
        finite = np.isfinite(trajectories)
        if not finite.all():  # keep diverged rollouts visible but storable
            meta["non_finite_values"] = int((~finite).sum())
            trajectories = np.where(finite, trajectories, np.nan)
        written[name] = _save_raw(trajectories, phys, data.parameter_names, meta, path)
    return written


def _save_raw(trajectories, params, names, metadata, path) -> pathlib.Path:
    """Save rollouts in the data format (non-finite values allowed, unlike training data)."""
    if np.isfinite(trajectories).all():
        return save_hdf5(TrajectoryDataset(trajectories, params, tuple(names), metadata), path)
    import json

    import h5py

    from .._atomic import atomic_path

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("trajectories", data=trajectories.astype(np.float32), compression="gzip")
        f.create_dataset("params", data=np.asarray(params, np.float32))
        f.attrs["parameter_names"] = json.dumps(list(names))
        f.attrs["metadata"] = json.dumps(metadata)
    return pathlib.Path(path)
