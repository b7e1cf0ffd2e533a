"""Reading and writing trajectory datasets (HDF5 via h5py, or NumPy .npz)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence

import h5py
import numpy as np

from .._atomic import atomic_path
from .._dataset_files import HDF5_SUFFIXES, read_dataset_file
from .._errors import DataError
from .._file_formats import peek_dataset, read_layout
from .._lazy_files import LazyTrajectories
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
        traj = dataset.trajectories
        frame_bytes = 4 * int(np.prod(traj.shape[2:]))
        # One trajectory per chunk (they are read a trajectory at a time), about 1 MiB each.
        chunks = (1, max(1, min(traj.shape[1], CHUNK_BYTES // max(frame_bytes, 1))),
                  *traj.shape[2:])
        if isinstance(traj, LazyTrajectories):  # copied a piece at a time
            out = f.create_dataset("trajectories", shape=traj.shape, dtype="f4",
                                   chunks=chunks, compression="gzip")
            for i, t0, t1, piece in traj.chunks():
                out[i, t0:t1] = piece
        else:
            f.create_dataset("trajectories", data=np.asarray(traj, np.float32), chunks=chunks,
                             compression="gzip")
        f.create_dataset("params", data=dataset.params)
        f.attrs["parameter_names"] = json.dumps(list(dataset.parameter_names))
        f.attrs["metadata"] = json.dumps(dataset.metadata)
    return path


CHUNK_BYTES = 1 << 20
"""About the size of one HDF5 chunk `save_hdf5` writes (one trajectory, whole frames)."""

IN_MEMORY_BYTES = 256 << 20
"""Data up to this size are read into memory by default; larger data stay in their files."""


def load_dataset(path: str | os.PathLike, *, format: str = "auto",
                 fields: Sequence[str] | None = None,
                 in_memory: bool | None = None) -> TrajectoryDataset:
    """Open a dataset in stablesim's, The Well's or PDEBench's layout (`_formats`).

    stablesim's layout: an HDF5 (`.h5`) or NumPy (`.npz`) file holding
    `trajectories` shaped `(trajectories, time, channels, *space)` and,
    optionally, `params` `(trajectories, P)`; an `.npz` may also hold
    `parameter_names` and `dt`, an HDF5 file carries them as attributes
    (`parameter_names` as a JSON list, a string or an array of strings; `dt`;
    a JSON `metadata` attribute).

    **Arguments:**

    - `path`: the file, folder of files, or dataset folder of The Well.
    - `format`: `auto` (detected from the layout), `stablesim`, `well` or `pdebench`.
    - `fields`: The Well / PDEBench: keep only the fields of these names.
    - `in_memory`: read every value now (and check it); False keeps HDF5 data
        in their files, read a window at a time; None: in memory up to
        `IN_MEMORY_BYTES`.

    **Returns:**

    The `TrajectoryDataset` (lazy where not in memory).

    **Raises:**

    `DataError` for a missing, damaged or malformed file.
    """
    path = pathlib.Path(path)
    if path.is_file() and path.suffix.lower() == ".npz" or (
            format in ("auto", "stablesim") and not path.is_dir() and path.exists()
            and path.suffix.lower() not in HDF5_SUFFIXES):
        return _load_arrays(path)
    layout = read_layout(path, format, fields)
    lazy = LazyTrajectories(layout.blocks, state_shape=layout.state_shape)
    names = layout.parameter_names
    if names and len(names) != layout.params.shape[1]:
        raise DataError(f"{path}: {len(names)} parameter names for {layout.params.shape[1]} "
                        "parameters")
    metadata = {"source": str(path), **layout.metadata}
    data = TrajectoryDataset(lazy, layout.params, tuple(names), metadata)
    if in_memory or (in_memory is None and lazy.nbytes <= IN_MEMORY_BYTES):
        available = _available_memory()
        if available is not None and lazy.nbytes > 0.8 * available:
            raise DataError(f"{path}: {lazy.nbytes / 2**30:.1f} GiB of trajectories do not fit in "
                            f"the {available / 2**30:.1f} GiB of memory available; read them "
                            "from the file as needed (data.stream: on or auto)")
        try:
            return data.in_memory()
        except DataError as err:
            raise DataError(f"{path}: {err}") from None
    return data


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux `MemAvailable`: free plus reclaimable cache),
    or None where it cannot be asked."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _load_arrays(path: pathlib.Path) -> TrajectoryDataset:
    raw = read_dataset_file(path)
    metadata = dict(raw["metadata"])
    metadata.setdefault("source", str(path))
    traj, params = validate_trajectories(raw["trajectories"], raw["params"], source=str(path))
    names = raw["parameter_names"]
    if names and len(names) != params.shape[1]:
        raise DataError(f"{path}: {len(names)} parameter names for {params.shape[1]} parameters")
    return TrajectoryDataset(traj, params, tuple(names), metadata)


def load_initial_states(path: str | os.PathLike, *, format: str = "auto"
                        ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The first frame of every trajectory of a dataset file: initial states for a rollout.

    The file is in any layout `load_dataset` reads; one frame per trajectory
    is enough.

    **Arguments:**

    - `path`: the file or folder.
    - `format`: as for `load_dataset`.

    **Returns:**

    `(states (B, C, *N), params (B, P), parameter names)`.
    """
    path = pathlib.Path(path)
    if path.is_file() and (path.suffix.lower() == ".npz" or "trajectories" in _keys(path)):
        raw = read_dataset_file(path)
        traj, params = validate_trajectories(raw["trajectories"], raw["params"], min_frames=1,
                                             source=str(path))
        return traj[:, 0], params, tuple(raw["parameter_names"] or ())
    layout = read_layout(path, format)
    blocks = [dataclasses.replace(b, frames=max(b.frames, 2)) for b in layout.blocks]
    lazy = LazyTrajectories(blocks, state_shape=layout.state_shape)
    states = np.stack([lazy.read(i, 0, 1)[0] for i in range(len(lazy))])
    traj, params = validate_trajectories(states[:, None], layout.params, min_frames=1,
                                         source=str(path))
    return traj[:, 0], params, layout.parameter_names


def _keys(path: pathlib.Path) -> set[str]:
    try:
        with h5py.File(path, "r") as f:
            return set(f.keys())
    except OSError:
        return {"trajectories"}  # not HDF5: the plain reader names the problem
