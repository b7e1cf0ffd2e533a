"""Reading and writing trajectory datasets (HDF5 via h5py, or NumPy .npz)."""

from __future__ import annotations

import json
import os
import pathlib

import h5py
import numpy as np

from .._atomic import atomic_path
from .._dataset_files import peek_dataset, read_dataset_file
from .._errors import DataError
from ._dataset import TrajectoryDataset, validate_trajectories

__all__ = ["save_hdf5", "load_dataset", "peek_dataset"]


def save_hdf5(dataset: TrajectoryDataset, path: str | os.PathLike) -> pathlib.Path:
    """Write a dataset to an HDF5 file atomically (temporary file, then rename).

    Layout: datasets `trajectories` `(B, T, C, *N)` and `params` `(B, P)`;
    file attributes `parameter_names` and `metadata` (JSON strings).

    **Arguments:**

    - `dataset`: what to write.
    - `path`: the target file.

    **Returns:**

    The path written.
    """
    path = pathlib.Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("trajectories", data=dataset.trajectories, compression="gzip")
        f.create_dataset("params", data=dataset.params)
        f.attrs["parameter_names"] = json.dumps(list(dataset.parameter_names))
        f.attrs["metadata"] = json.dumps(dataset.metadata)
    return path


def load_dataset(path: str | os.PathLike) -> TrajectoryDataset:
    """Load and validate a dataset from an HDF5 (`.h5`) or NumPy (`.npz`) file.

    The file must hold `trajectories` shaped `(trajectories, time, channels,
    *space)`; `params` `(trajectories, P)` is optional. An `.npz` may also hold
    `parameter_names` and `dt`; an HDF5 file may carry them as attributes
    (`parameter_names` as a JSON list, a string or an array of strings; `dt`;
    a JSON `metadata` attribute).

    **Arguments:**

    - `path`: the file.

    **Returns:**

    The validated `TrajectoryDataset`.

    **Raises:**

    `DataError` for a missing, damaged or malformed file.
    """
    raw = read_dataset_file(path)
    metadata = dict(raw["metadata"])
    metadata.setdefault("source", str(path))
    traj, params = validate_trajectories(raw["trajectories"], raw["params"], source=str(path))
    names = raw["parameter_names"]
    if names and len(names) != params.shape[1]:
        raise DataError(f"{path}: {len(names)} parameter names for {params.shape[1]} parameters")
    return TrajectoryDataset(traj, params, tuple(names), metadata)


def load_initial_states(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The first frame of every trajectory of a dataset file: initial states for a rollout.

    The file is in the data format (`load_dataset`); one frame per trajectory
    is enough.

    **Arguments:**

    - `path`: the file.

    **Returns:**

    `(states (B, C, *N), params (B, P), parameter names)`.
    """
    raw = read_dataset_file(path)
    traj, params = validate_trajectories(raw["trajectories"], raw["params"], min_frames=1,
                                         source=str(path))
    return traj[:, 0], params, tuple(raw["parameter_names"] or ())
