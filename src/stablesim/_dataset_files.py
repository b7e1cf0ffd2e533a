"""Reading the raw arrays of a dataset file (HDF5 or .npz), importable without JAX.

Every way a file can be wrong (missing, a folder, truncated, not the format
its suffix says, without a `trajectories` array) ends in one `DataError`
line. `stablesim.data.load_dataset` validates what is read here.
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from typing import Any

import numpy as np

from ._errors import DataError

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def _attribute_list(value: Any) -> list[str] | None:
    """Parameter names stored as a JSON string, a plain string, or an array of strings."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return [value]
        return [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]
    arr = np.asarray(value)
    if arr.dtype.kind in "SUO":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel().tolist()]
    return None


def _attribute_mapping(value: Any) -> dict:
    if isinstance(value, bytes):
        value = value.decode()
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _check_path(path: pathlib.Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected an .h5 or .npz file")
    suffix = path.suffix.lower()
    if suffix not in HDF5_SUFFIXES + (".npz",):
        raise DataError(f"{path}: unknown file type {suffix!r}; use .h5 or .npz")
    return suffix


def _npz_error(path: pathlib.Path, err: BaseException) -> DataError:
    with open(path, "rb") as f:
        zip_magic = f.read(2) == b"PK"
    if not zip_magic:
        return DataError(f"{path}: not a NumPy .npz archive (numpy.savez writes one)")
    return DataError(f"{path}: damaged or truncated .npz archive "
                     f"({type(err).__name__}: {str(err).splitlines()[0][:120]})")


def read_dataset_file(path: str | os.PathLike, *, arrays: bool = True) -> dict[str, Any]:
    """The raw content of a dataset file.

    **Arguments:**

    - `path`: an `.h5`/`.hdf5` or `.npz` file.
    - `arrays`: read the arrays; False reads only shapes and names (fast).

    **Returns:**

    A dict with `shape` (of `trajectories`), `parameter_names` (list) and
    `metadata` (dict), and with `arrays`: `trajectories` and `params` (None
    if absent).
    """
    path = pathlib.Path(path)
    suffix = _check_path(path)
    out: dict[str, Any] = {"metadata": {}, "parameter_names": []}
    if suffix in HDF5_SUFFIXES:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                if "trajectories" not in f:
                    raise DataError(f"{path}: no 'trajectories' dataset (found: {sorted(f.keys())})")
                out["shape"] = tuple(f["trajectories"].shape)
                params_shape = tuple(f["params"].shape) if "params" in f else None
                if arrays:
                    out["trajectories"] = f["trajectories"][()]
                    out["params"] = f["params"][()] if "params" in f else None
                if "parameter_names" in f.attrs:
                    out["parameter_names"] = _attribute_list(f.attrs["parameter_names"]) or []
                if "metadata" in f.attrs:
                    out["metadata"] = _attribute_mapping(f.attrs["metadata"])
                if "dt" in f.attrs and "dt" not in out["metadata"]:
                    out["metadata"]["dt"] = float(np.asarray(f.attrs["dt"]))
        except OSError as err:
            raise DataError(f"{path}: not a readable HDF5 file ({str(err).splitlines()[0]})") from None
    else:
        try:
            with np.load(path, allow_pickle=False) as z:
                if "trajectories" not in z.files:
                    raise DataError(f"{path}: no 'trajectories' array (found: {sorted(z.files)})")
                traj = z["trajectories"]
                out["shape"] = tuple(traj.shape)
                params = z["params"] if "params" in z.files else None
                params_shape = None if params is None else tuple(params.shape)
                if arrays:
                    out["trajectories"], out["params"] = traj, params
                if "parameter_names" in z.files:
                    out["parameter_names"] = [str(n) for n in np.atleast_1d(z["parameter_names"])]
                if "dt" in z.files:
                    out["metadata"]["dt"] = float(z["dt"])
        except DataError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
            raise _npz_error(path, err) from None
    if not out["parameter_names"] and params_shape is not None:
        width = 1 if len(params_shape) == 1 else (params_shape[1] if len(params_shape) > 1 else 0)
        out["parameter_names"] = [f"p{i}" for i in range(width)]
    return out
