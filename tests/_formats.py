"""Small files in The Well's and PDEBench's layouts, written from the formats' documentation.

The Well (polymathic-ai.org/the_well, "Data format"): per file, root
attributes `simulation_parameters`, each parameter, `dataset_name`,
`n_spatial_dims`, `n_trajectories`; groups `dimensions` (`spatial_dims`,
`time`, coordinates), `boundary_conditions` (`bc_type`, `associated_dims`),
`scalars`, `t0_fields` / `t1_fields` (`field_names`; datasets
`(B, T, *N[, D])` with `time_varying`, `sample_varying`); a dataset folder
holds `data/train`, `data/valid`, `data/test` and `stats.yaml`.

PDEBench (its README and data generation scripts): 1D files hold `tensor`
`(B, T, X)`, `x-coordinate`, `t-coordinate` (one more time than frames),
the parameter in the file name; CFD files hold `density`, `pressure`, `Vx`,
`Vy` `(B, T, X, Y)`; some files keep one group per sample with `data`
`(T, X, C)`.
"""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
import yaml


def write_well_file(path: pathlib.Path, *, reynolds: float, trajectories: int = 2,
                    frames: int = 6, grid=(8, 6), seed: int = 0,
                    bc=("periodic", "wall")) -> dict[str, np.ndarray]:
    """One file of The Well: a scalar field `tracer` and a vector field `velocity`.

    **Returns:** the arrays written, by field name, in the file's own layout.
    """
    rng = np.random.default_rng(seed)
    tracer = rng.normal(3.0, 2.0, (trajectories, frames, *grid)).astype(np.float32)
    velocity = rng.normal(0.0, 50.0, (trajectories, frames, *grid, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs["simulation_parameters"] = ["Reynolds"]
        f.attrs["Reynolds"] = reynolds
        f.attrs["dataset_name"] = "toy_flow"
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = 2
        f.attrs["n_trajectories"] = trajectories
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"] = np.arange(frames, dtype=np.float32) * 0.25
        dims["x"] = np.linspace(0, 1, grid[0], dtype=np.float32)
        dims["y"] = np.linspace(0, 1, grid[1], dtype=np.float32)
        bcs = f.create_group("boundary_conditions")
        for name, kind in zip(("x", "y"), bc):
            g = bcs.create_group(f"{name}_boundary")
            g.attrs["associated_dims"] = [name]
            g.attrs["associated_fields"] = []
            g.attrs["bc_type"] = kind.upper()
            g.attrs["sample_varying"] = False
            g.attrs["time_varying"] = False
        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Reynolds"]
        scalars["Reynolds"] = np.array(reynolds, np.float32)
        scalars["Reynolds"].attrs["sample_varying"] = False
        scalars["Reynolds"].attrs["time_varying"] = False
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["tracer"]
        t0["tracer"] = tracer
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1["velocity"] = velocity
        for ds in (t0["tracer"], t1["velocity"]):
            ds.attrs["time_varying"] = True
            ds.attrs["sample_varying"] = True
            ds.attrs["dim_varying"] = [True, True]
        f.create_group("t2_fields").attrs["field_names"] = []
    return {"tracer": tracer, "velocity": velocity}


def write_well_dataset(root: pathlib.Path, **options) -> pathlib.Path:
    """A dataset folder `root/toy_flow` with train (2 files), valid and test splits."""
    folder = root / "toy_flow"
    plan = {"train": [1e4, 4e4], "valid": [2.5e4], "test": [7e4]}
    seed = 0
    for split, values in plan.items():
        (folder / "data" / split).mkdir(parents=True)
        for re in values:
            write_well_file(folder / "data" / split / f"toy_flow_Re{int(re)}.hdf5",
                            reynolds=re, seed=seed, **options)
            seed += 1
    stats = {"mean": {"tracer": 3.0, "velocity": [0.0, 0.0]},
             "std": {"tracer": 2.0, "velocity": [50.0, 50.0]}}
    (folder / "stats.yaml").write_text(yaml.safe_dump(stats))
    return folder


def write_pdebench_1d(path: pathlib.Path, *, trajectories: int = 3, frames: int = 7,
                      points: int = 16, seed: int = 0, attrs: dict | None = None) -> np.ndarray:
    """A 1D file (`tensor` (B, T, X)) such as `1D_Burgers_Sols_Nu0.01.hdf5`."""
    values = np.random.default_rng(seed).normal(size=(trajectories, frames, points))
    values = values.astype(np.float32)
    with h5py.File(path, "w") as f:
        f["tensor"] = values
        f["x-coordinate"] = np.linspace(0, 1, points, dtype=np.float32)
        f["t-coordinate"] = np.linspace(0, 2, frames + 1, dtype=np.float32)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return values


def write_pdebench_cfd(path: pathlib.Path, *, trajectories: int = 2, frames: int = 5,
                       grid=(8, 8), seed: int = 0) -> dict[str, np.ndarray]:
    """A 2D CFD file (`density`, `pressure`, `Vx`, `Vy` each (B, T, X, Y))."""
    rng = np.random.default_rng(seed)
    out = {}
    with h5py.File(path, "w") as f:
        for name in ("density", "pressure", "Vx", "Vy"):
            out[name] = rng.normal(size=(trajectories, frames, *grid)).astype(np.float32)
            f[name] = out[name]
        f["x-coordinate"] = np.linspace(0, 1, grid[0], dtype=np.float32)
        f["y-coordinate"] = np.linspace(0, 1, grid[1], dtype=np.float32)
        f["t-coordinate"] = np.linspace(0, 1, frames + 1, dtype=np.float32)
    return out


def write_pdebench_groups(path: pathlib.Path, *, trajectories: int = 3, frames: int = 6,
                          points: int = 12, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A file with one group per sample (`0000/data` (T, X, C)), as 2D diffusion-reaction."""
    values = np.random.default_rng(seed).normal(size=(trajectories, frames, points, channels))
    values = values.astype(np.float32)
    with h5py.File(path, "w") as f:
        for i in range(trajectories):
            g = f.create_group(f"{i:04d}")
            g["data"] = values[i]
            g.create_group("grid")["x"] = np.linspace(0, 1, points, dtype=np.float32)
    return values
