"""The layouts of trajectory files we read in place (no JAX imported): stablesim's, The Well's, PDEBench's.

Each reader turns a file or folder into `Block`s (see `_lazy_files`): which
datasets make which named channels, how many trajectories and frames, the
physical parameters of every trajectory, and facts (boundary conditions,
time step, the file's own train/valid/test split, a statistics file). No
field values are read here.

- **stablesim**: `trajectories` `(B, T, C, *N)`, optional `params` `(B, P)`.
- **The Well** (polymathic-ai.org/the_well, "Data format"): `t0_fields`,
  `t1_fields`, `t2_fields` groups of `(B, T, *N[, D[, D]])` datasets with
  `time_varying` / `sample_varying` attributes; `dimensions`, `scalars`,
  `boundary_conditions` (`bc_type` periodic / wall / open); a dataset folder
  holds `data/train`, `data/valid`, `data/test` and `stats.yaml`.
- **PDEBench**: `tensor` `(B, T, *N)` (1D advection, Burgers, reaction-
  diffusion) with `x-coordinate` / `t-coordinate`; the CFD variables
  `density`, `pressure`, `Vx`, `Vy`, `Vz` `(B, T, *N)`; or one group per
  trajectory holding `data` `(T, *N, C)`. Parameters come from numeric file
  attributes or from the file name (`1D_Burgers_Sols_Nu0.001.hdf5`: Nu).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Sequence

import h5py
import numpy as np

from ._dataset_files import HDF5_SUFFIXES, read_dataset_file
from ._errors import DataError
from ._lazy_files import Block, Field

FORMATS = ("auto", "stablesim", "well", "pdebench")
WELL_SPLITS = (("train", "train"), ("valid", "validation"), ("test", "interpolation"))
"""The Well's split folders and the names of our sets they become (test: the test set)."""
BOUNDARY_TYPES = {"periodic": "periodic", "wall": "wall", "open": "open",
                  "outgoing": "open", "neumann": "open", "dirichlet": "wall"}
CFD_VARIABLES = ("density", "pressure", "Vx", "Vy", "Vz")


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """What a reader found: blocks, parameters and facts, before any value is read.

    **Fields:**

    - `format`: `"stablesim"`, `"well"` or `"pdebench"`.
    - `blocks`: the files and their channels.
    - `params`: `(trajectories, P)` physical parameters.
    - `parameter_names`: their names.
    - `state_shape`: `(channels, *space)`.
    - `metadata`: channels, boundary, dt, splits, stats file, source.
    """

    format: str
    blocks: tuple[Block, ...]
    params: np.ndarray
    parameter_names: tuple[str, ...]
    state_shape: tuple[int, ...]
    metadata: dict


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _names(value) -> list[str]:
    return [_text(v) for v in np.atleast_1d(np.asarray(value)).tolist()]


def hdf5_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """The HDF5 files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in HDF5_SUFFIXES)


def _well_root(path: pathlib.Path) -> pathlib.Path | None:
    """The folder holding The Well's split folders, if `path` is (or holds) one."""
    for root in (path, path / "data"):
        if root.is_dir() and any((root / s).is_dir() for s, _ in WELL_SPLITS):
            return root
    return None


def detect_format(path: pathlib.Path) -> str:
    """The layout of a file or folder (`stablesim`, `well` or `pdebench`).

    **Raises:** `DataError` when no known layout matches, naming what was found.
    """
    if path.is_dir():
        if _well_root(path) is not None:
            return "well"
        files = hdf5_files(path)
        if not files:
            raise DataError(f"{path}: is a directory without HDF5 files (nor The Well's "
                            "train/valid/test folders); expected an .h5 or .npz file")
        path = files[0]
    if path.suffix.lower() == ".npz":
        return "stablesim"
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            if "trajectories" in keys:
                return "stablesim"
            if keys & {"t0_fields", "t1_fields", "t2_fields"}:
                return "well"
            if "tensor" in keys or keys & set(CFD_VARIABLES):
                return "pdebench"
            if keys and all(isinstance(f[k], h5py.Group) and "data" in f[k] for k in keys):
                return "pdebench"
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({str(err).splitlines()[0]})") from None
    raise DataError(f"{path}: no known layout: no 'trajectories' dataset (stablesim), no "
                    "t0_fields/t1_fields (The Well), no 'tensor' or density/Vx (PDEBench); "
                    f"found {sorted(keys)}")


def read_layout(path: str | pathlib.Path, format: str = "auto",
                fields: Sequence[str] | None = None) -> FileLayout:
    """Read the layout of an HDF5 file or folder in one of `FORMATS`.

    **Arguments:**

    - `path`: a file, a folder of files, or a dataset folder of The Well.
    - `format`: one of `FORMATS` (`auto` detects it).
    - `fields`: keep only these fields (by name, before components become
        channels); None keeps all.

    **Returns:**

    The `FileLayout`.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if format not in FORMATS:
        raise DataError(f"data.format: {format!r} is not one of {', '.join(FORMATS)}")
    kind = detect_format(path) if format == "auto" else format
    if kind == "well":
        return _well_layout(path, fields)
    if kind == "pdebench":
        return _pdebench_layout(path, fields)
    return _stablesim_layout(path, fields)


def _stablesim_layout(path: pathlib.Path, fields) -> FileLayout:
    files = hdf5_files(path) if path.is_dir() else [path]
    if len(files) != 1:
        raise DataError(f"{path}: stablesim's layout is one file; found {len(files)}")
    info = read_dataset_file(files[0], arrays=False)
    shape = info["shape"]
    with h5py.File(files[0], "r") as f:
        params = f["params"][()] if "params" in f else np.zeros((shape[0], 0), np.float32)
    params = params[:, None] if params.ndim == 1 else params
    meta = dict(info["metadata"])
    channels = meta.get("channels") or [f"c{i}" for i in range(shape[2])]
    block = Block(files[0], shape[0], shape[1],
                  (Field("trajectories", tuple(channels), channels_first=True),))
    return FileLayout("stablesim", (block,), params.astype(np.float32),
                      tuple(info["parameter_names"]), tuple(shape[2:]), meta)


def _component_names(name: str, rank: int, dims: list[str]) -> tuple[str, ...]:
    if rank == 0:
        return (name,)
    if rank == 1:
        return tuple(f"{name}_{d}" for d in dims)
    return tuple(f"{name}_{a}{b}" for a in dims for b in dims)


def _well_file(file: pathlib.Path, fields) -> tuple[Block, dict, tuple[int, ...], dict]:
    """One file of The Well: its block, its parameters by name, state shape, facts."""
    with h5py.File(file, "r") as f:
        count = int(f.attrs.get("n_trajectories", 0))
        dims = _names(f["dimensions"].attrs.get("spatial_dims", [])) if "dimensions" in f else []
        chosen, spatial, frames = [], None, None
        for rank, group in enumerate(("t0_fields", "t1_fields", "t2_fields")):
            if group not in f:
                continue
            names = _names(f[group].attrs["field_names"]) if "field_names" in f[group].attrs \
                else sorted(f[group].keys())
            for name in names:
                if fields is not None and name not in fields:
                    continue
                ds = f[group][name]
                per_traj = bool(ds.attrs.get("sample_varying", True))
                per_time = bool(ds.attrs.get("time_varying", True))
                lead = int(per_traj) + int(per_time)
                shape = ds.shape[lead: ds.ndim - rank]
                dims = dims or [f"x{i}" for i in range(len(shape))]
                spatial = spatial or shape
                if shape != spatial:
                    raise DataError(f"{file}: field {name} has grid {shape}, others {spatial}")
                if per_traj:
                    count = count or ds.shape[0]
                if per_time:
                    frames = frames or ds.shape[int(per_traj)]
                chosen.append(Field(f"{group}/{name}", _component_names(name, rank, dims),
                                    component_axes=rank, per_trajectory=per_traj,
                                    per_time=per_time))
        if not chosen:
            raise DataError(f"{file}: no fields" + (f" named {list(fields)}" if fields else ""))
        if frames is None and "dimensions" in f and "time" in f["dimensions"]:
            frames = f["dimensions"]["time"].shape[-1]
        params: dict[str, np.ndarray] = {}
        for name in _names(f.attrs.get("simulation_parameters", [])):
            if name in f.attrs:
                params[name] = np.full(count, float(np.asarray(f.attrs[name]).ravel()[0]))
        if not params and "scalars" in f:
            for name in sorted(f["scalars"].keys()):
                ds = f["scalars"][name]
                if ds.attrs.get("time_varying", False):
                    continue
                values = np.asarray(ds[()], np.float64).ravel()
                params[name] = values[:count] if ds.attrs.get("sample_varying", False) and \
                    values.size >= count else np.full(count, values[0])
        boundary = {}
        for group in (f["boundary_conditions"].values() if "boundary_conditions" in f else []):
            kind = BOUNDARY_TYPES.get(_text(group.attrs.get("bc_type", "")).lower())
            for dim in _names(group.attrs.get("associated_dims", [])):
                if kind and dim in dims:
                    boundary[dim] = kind
        facts: dict = {"boundary": [boundary.get(d, "periodic") for d in dims] if boundary else None,
                 "dataset_name": _text(f.attrs.get("dataset_name", file.stem))}
        if "dimensions" in f and "time" in f["dimensions"]:
            time = np.asarray(f["dimensions"]["time"][()]).ravel()
            if time.size > 1:
                facts["dt"] = float(time[1] - time[0])
    assert spatial is not None and frames is not None
    channels = sum(len(c.names) for c in chosen)
    return Block(file, count, frames, tuple(chosen)), params, (channels, *spatial), facts


def _params_matrix(per_file: list[dict], counts: list[int], where: pathlib.Path
                   ) -> tuple[np.ndarray, tuple[str, ...]]:
    names = tuple(per_file[0]) if per_file else ()
    for p in per_file:
        if tuple(p) != names:
            raise DataError(f"{where}: files carry different parameters ({list(names)} and "
                            f"{list(p)})")
    if not names:
        return np.zeros((sum(counts), 0), np.float32), ()
    columns = [np.concatenate([p[n] for p in per_file]) for n in names]
    return np.stack(columns, axis=1).astype(np.float32), names


def _read_files(files: list[pathlib.Path], read_file, fields, empty: str
                ) -> tuple[list[Block], list[dict], tuple[int, ...], dict]:
    """Every file's block, parameters and facts (the first file's), read with `read_file`;
    the files' states must agree in shape; `empty` is the error when there are none."""
    facts: dict = {}
    blocks, params, shape = [], [], None
    for file in files:
        block, p, file_shape, file_facts = read_file(file, fields)
        if shape is not None and file_shape != shape:
            raise DataError(f"{file}: states shaped {file_shape}, other files {shape}")
        shape = file_shape
        blocks.append(block)
        params.append(p)
        facts = facts or file_facts
    if shape is None:
        raise DataError(empty)
    return blocks, params, shape, facts


def _well_layout(path: pathlib.Path, fields) -> FileLayout:
    root = _well_root(path)
    if root is not None:
        parts = [(ours, hdf5_files(root / theirs)) for theirs, ours in WELL_SPLITS
                 if (root / theirs).is_dir()]
    else:
        parts = [("", hdf5_files(path) if path.is_dir() else [path])]
    listed = [(split, file) for split, files in parts for file in files]
    blocks, params, shape, facts = _read_files([f for _, f in listed], _well_file, fields,
                                               f"{path}: no HDF5 files in The Well's layout")
    splits: dict[str, list[int]] = {}
    start = 0
    for split, _ in parts:  # the files of a split are consecutive
        count = sum(b.count for (s, _), b in zip(listed, blocks) if s == split)
        if split and count:
            splits[split] = [start, start + count]
        start += count
    matrix, names = _params_matrix(params, [b.count for b in blocks], path)
    meta: dict = {"format": "well", "source": str(path), "channels": list(blocks[0].channel_names),
                  "channel_fields": [f.path.split("/")[-1] for f in blocks[0].fields
                                     for _ in f.names],
                  **{k: v for k, v in facts.items() if v is not None}}
    if splits:
        meta["splits"] = splits
    stats = next((p for p in (path / "stats.yaml", path.parent / "stats.yaml")
                  if root is not None and p.is_file()), None)
    if stats is not None:
        meta["stats_file"] = str(stats)
    return FileLayout("well", tuple(blocks), matrix, names, shape, meta)


_NAME_VALUE = re.compile(r"^([A-Za-z]+)([0-9][0-9.eE+-]*)$")


def parameters_from_name(stem: str) -> dict[str, float]:
    """PDEBench's parameters in a file name: `1D_CFD_Rand_Eta1.e-8_Zeta0.1_periodic` gives
    `{"Eta": 1e-8, "Zeta": 0.1}`."""
    out = {}
    for token in stem.split("_"):
        m = _NAME_VALUE.match(token)
        if m:
            try:
                out[m.group(1)] = float(m.group(2).rstrip("."))
            except ValueError:
                continue
    return out


def _pdebench_file(file: pathlib.Path, fields) -> tuple[Block, dict, tuple[int, ...], dict]:
    with h5py.File(file, "r") as f:
        keys = set(f.keys())
        groups: tuple[str, ...] = ()
        if "tensor" in keys:
            ds = f["tensor"]
            chosen = [Field("tensor", ("u",))]
            count, frames, spatial = ds.shape[0], ds.shape[1], ds.shape[2:]
        elif keys & set(CFD_VARIABLES):
            names = [v for v in CFD_VARIABLES if v in keys and (fields is None or v in fields)]
            if not names:
                raise DataError(f"{file}: none of the fields {list(fields or [])}")
            ds = f[names[0]]
            chosen = [Field(v, (v,)) for v in names]
            count, frames, spatial = ds.shape[0], ds.shape[1], ds.shape[2:]
        else:
            groups = tuple(sorted(k for k in keys if isinstance(f[k], h5py.Group)))
            ds = f[groups[0]]["data"]
            components = ds.shape[-1]
            chosen = [Field("{trajectory}/data", tuple(f"u{i}" for i in range(components)),
                            component_axes=1, per_trajectory=False)]
            count, frames, spatial = len(groups), ds.shape[0], ds.shape[1:-1]
        numeric = {k: float(np.asarray(v).ravel()[0]) for k, v in f.attrs.items()
                   if np.asarray(v).dtype.kind in "fiu" and np.asarray(v).size == 1}
        facts: dict = {}
        t = f["t-coordinate"][()] if "t-coordinate" in keys else None
        if t is not None and np.size(t) > 1:
            facts["dt"] = float(np.ravel(t)[1] - np.ravel(t)[0])
    from_name = parameters_from_name(file.stem)
    params = numeric or from_name
    lowered = file.stem.lower()
    kind = next((v for k, v in BOUNDARY_TYPES.items() if k in lowered), None)
    if kind is not None:
        facts["boundary"] = [kind] * len(spatial)
    channels = sum(len(c.names) for c in chosen)
    block = Block(file, count, frames, tuple(chosen), groups=groups)
    return block, {k: np.full(count, v) for k, v in params.items()}, (channels, *spatial), facts


def _pdebench_layout(path: pathlib.Path, fields) -> FileLayout:
    files = hdf5_files(path) if path.is_dir() else [path]
    blocks, params, shape, facts = _read_files(files, _pdebench_file, fields,
                                               f"{path}: no HDF5 files")
    frames = min(b.frames for b in blocks)
    blocks = [dataclasses.replace(b, frames=frames) for b in blocks]
    matrix, names = _params_matrix(params, [b.count for b in blocks], path)
    meta = {"format": "pdebench", "source": str(path),
            "channels": list(blocks[0].channel_names), **facts}
    return FileLayout("pdebench", tuple(blocks), matrix, names, shape, meta)


@dataclasses.dataclass(frozen=True)
class DataShape:
    """What a data file holds, read without its values.

    **Fields:** `shape` `(trajectories, time, channels, *space)`,
    `parameter_names`, `splits` (the file's own train/validation/test
    trajectory ranges, empty if it has none).
    """

    shape: tuple[int, ...]
    parameter_names: list[str]
    splits: dict[str, list[int]]


def peek_dataset(path: str | os.PathLike, format: str = "auto",
                 fields: list[str] | None = None) -> DataShape:
    """The shape, parameter names and own split of a data file or folder, without its values.

    **Arguments:** `path`, and `format` / `fields` as `stablesim.data.load_dataset` takes them.

    **Returns:** a `DataShape`.
    """
    path = pathlib.Path(path)
    if path.is_file() and (path.suffix.lower() not in HDF5_SUFFIXES or format == "stablesim"):
        info = read_dataset_file(path, arrays=False)
        return DataShape(tuple(info["shape"]), list(info["parameter_names"]), {})
    layout = read_layout(path, format, fields)
    count = sum(b.count for b in layout.blocks)
    return DataShape((count, layout.blocks[0].frames, *layout.state_shape),
                     list(layout.parameter_names), dict(layout.metadata.get("splits", {})))
