"""Where a run's data are: a copy in the run directory, or a checked reference to the file.

Built-in systems' data are generated, so the run keeps them (`dataset.h5`).
The user's file stays where it is: the run records its absolute path, size
and fingerprint (`data_source.json`) and refuses to go on (resume, evaluate,
rollout, diagnose) if the file's content changed. `data.keep_copy: true` copies it
into the run directory instead, a piece at a time.
"""

from __future__ import annotations

import os
import pathlib
import time

from .._atomic import atomic_write_json
from .._errors import DataError
from .._rundir import RunDir
from ..config import RunConfig
from ..data import Normalization, TrajectoryDataset, load_dataset, save_hdf5
from ._build import IN_MEMORY, open_data_file


def record_data(config: RunConfig, data: TrajectoryDataset, run_dir: str | os.PathLike) -> None:
    """Keep the run's data: a copy (`dataset.h5`) or a reference (`data_source.json`).

    **Arguments:**

    - `config`: the run config (`data.file`, `data.keep_copy`).
    - `data`: the full dataset.
    - `run_dir`: the run directory (exists).
    """
    files = RunDir.of(run_dir)
    if config.data.file is None or config.data.keep_copy:
        save_hdf5(data, files.dataset)
        return
    source = pathlib.Path(config.data.file).resolve()
    atomic_write_json(files.data_source, {
        "path": str(source),
        "format": data.metadata.get("format", "stablesim"),
        "bytes": _size(source),
        "shape": list(data.trajectories.shape),
        "fingerprint": data.fingerprint(),
        "stat": file_stat(source),
        "stat_at_ns": time.time_ns(),
    })


def save_normalization(run_dir: str | os.PathLike, norm: Normalization | None) -> None:
    """Write the run's statistics (`normalization.json`); nothing when it does not normalize."""
    if norm is not None:
        atomic_write_json(RunDir.of(run_dir).normalization, norm.to_json())


def read_normalization(run_dir: str | os.PathLike) -> Normalization | None:
    """The statistics a run was trained with (None: it does not normalize; runs from before
    normalization existed have no file and stay unnormalized)."""
    path = RunDir.of(run_dir).normalization
    if not path.exists():
        return None
    import json

    return Normalization.from_json(json.loads(path.read_text()))


def copy_data_record(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Give `target` the data (copy or reference) and the normalization of run `source`."""
    import shutil

    old, new = RunDir.of(source), RunDir.of(target)
    for name in ("dataset", "data_source", "normalization"):
        if getattr(old, name).exists():
            shutil.copy2(getattr(old, name), getattr(new, name))


RACY_NS = 2_000_000_000
"""A file modified less than this before its stat was recorded is always re-read: a change
within the same clock tick would not show in its modification time (git's "racy" rule)."""


def file_stat(path: pathlib.Path) -> list:
    """Size and modification time (ns) of a file, or of every file in a folder by relative
    path: if these are unchanged the content is taken as unchanged (make's and rsync's
    quick check), and the run's recorded fingerprint is used instead of reading the data."""
    if path.is_dir():
        return [[str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns]
                for p in sorted(path.rglob("*")) if p.is_file()]
    return [[path.name, path.stat().st_size, path.stat().st_mtime_ns]]


def _unchanged(record: dict, path: pathlib.Path) -> bool:
    """Whether the file's stat equals the recorded one, none of its files modified within
    `RACY_NS` before the record (older records have no stat: always re-read)."""
    stat, at = record.get("stat"), record.get("stat_at_ns")
    if stat is None or at is None:
        return False
    settled = all(mtime < at - RACY_NS for _, _, mtime in stat)
    return settled and stat == file_stat(path)


def _size(path: pathlib.Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def open_run_data(run_dir: str | os.PathLike, config: RunConfig) -> TrajectoryDataset:
    """The full dataset of a run, checked against what it was trained on.

    **Arguments:**

    - `run_dir`: the run directory.
    - `config`: its config (how to open the file: format, fields, stream).

    **Returns:**

    The dataset (lazy where `data.stream` says so).

    **Raises:**

    `DataError` when the referenced file is gone or holds other data.
    """
    files = RunDir.of(run_dir)
    if files.dataset.exists() or not files.data_source.exists():
        return load_dataset(files.dataset, in_memory=IN_MEMORY[config.data.stream])
    import json

    record = json.loads(files.data_source.read_text())
    path = pathlib.Path(record["path"])
    if not path.exists():
        raise DataError(f"{run_dir} was trained on {path}, which is gone; put it back, or "
                        "train with data.keep_copy: true to keep a copy in the run directory")
    data = open_data_file(config, path)
    if _unchanged(record, path):
        return data.known_fingerprint(record["fingerprint"])  # not read again
    now = data.fingerprint()
    if now != record["fingerprint"]:
        raise DataError(f"{path} changed since {run_dir} was trained on it (fingerprint "
                        f"{record['fingerprint']}, now {now}); restore it, or train a new run")
    return data
