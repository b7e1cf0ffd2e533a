"""Reading and writing trajectory datasets (HDF5 via h5py, or NumPy .npz)."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

import h5py
import numpy as np

from .._errors import DataError
from ._dataset import TrajectoryDataset

_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("trajectories", data=dataset.trajectories, compression="gzip")
            f.create_dataset("params", data=dataset.params)
            f.attrs["parameter_names"] = json.dumps(list(dataset.parameter_names))
            f.attrs["metadata"] = json.dumps(dataset.metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _read_attr_json(attrs, name, default):
    if name not in attrs:
        return default
    value = attrs[name]
    if isinstance(value, bytes):
        value = value.decode()
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return default


def load_dataset(path: str | os.PathLike) -> TrajectoryDataset:
    """Load and validate a dataset from an HDF5 (`.h5`) or NumPy (`.npz`) file.

    The file must hold `trajectories` shaped `(trajectories, time, channels,
    *space)`; `params` `(trajectories, P)` is optional. An `.npz` may also hold
    `parameter_names` and `dt`; an HDF5 file may carry them as attributes
    (`parameter_names`, `dt`, or a JSON `metadata` attribute).

    **Arguments:**

    - `path`: the file.

    **Returns:**

    The validated `TrajectoryDataset`.

    **Raises:**

    `DataError` for a missing, unreadable or malformed file.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected an .h5 or .npz file")
    suffix = path.suffix.lower()
    if suffix in _HDF5_SUFFIXES:
        try:
            with h5py.File(path, "r") as f:
                if "trajectories" not in f:
                    raise DataError(
                        f"{path}: no 'trajectories' dataset (found: {sorted(f.keys())})"
                    )
                traj = f["trajectories"][()]
                params = f["params"][()] if "params" in f else None
                names = _read_attr_json(f.attrs, "parameter_names", [])
                metadata = _read_attr_json(f.attrs, "metadata", {})
                if "dt" in f.attrs and "dt" not in metadata:
                    metadata["dt"] = float(f.attrs["dt"])
        except OSError as err:
            raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                if "trajectories" not in z:
                    raise DataError(f"{path}: no 'trajectories' array (found: {sorted(z.files)})")
                traj = z["trajectories"]
                params = z["params"] if "params" in z else None
                names = [str(n) for n in z["parameter_names"]] if "parameter_names" in z else []
                metadata = {"dt": float(z["dt"])} if "dt" in z else {}
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: not a readable .npz file ({err})") from None
    else:
        raise DataError(f"{path}: unknown file type {suffix!r}; use .h5 or .npz")
    metadata.setdefault("source", str(path))
    from ._dataset import validate_trajectories

    traj, params = validate_trajectories(traj, params, source=str(path))
    if names and len(names) != params.shape[1]:
        raise DataError(f"{path}: {len(names)} parameter names for {params.shape[1]} parameters")
    return TrajectoryDataset(traj, params, tuple(names), metadata)
