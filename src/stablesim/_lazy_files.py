"""Trajectories that stay in their HDF5 files and are read a slice at a time.

A `LazyTrajectories` looks like a `(trajectories, time, channels, *space)`
float32 array (`shape`, `dtype`, `ndim`, indexing, `numpy.asarray`) but
holds only where its values are: one or more `Block`s, each a file whose
datasets (`Field`s) become channels. Indexing reads just the hyperslabs it
needs with h5py; `select` narrows it to some trajectories without reading.
Nothing here scales with the data but the reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import threading
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from ._errors import DataError

# h5py's chunk cache per open dataset (its default is 1 MiB). A foreign file may
# compress several trajectories into one chunk (PDEBench's `tensor` often does);
# read a trajectory at a time, every chunk larger than the cache would be
# decompressed once per trajectory it holds. The cache lives as long as the
# dataset object: inside `files_kept_open` the last `KEPT_DATASETS` stay open.
CHUNK_CACHE_BYTES = 32 << 20
KEPT_DATASETS = 4


@dataclasses.dataclass(frozen=True)
class Field:
    """One dataset of a file that makes `components` channels.

    **Fields:**

    - `path`: the dataset's path in the file (`"{trajectory}"` is replaced by
        the trajectory's group name when the file keeps one group per trajectory).
    - `names`: one channel name per component.
    - `component_axes`: trailing axes after the spatial ones (0 scalar, 1
        vector, 2 tensor); they are flattened into channels.
    - `per_trajectory`: the dataset has a leading trajectory axis.
    - `per_time`: the dataset has a time axis (else it is repeated over time).
    - `channels_first`: the channel axis follows the time axis (stablesim's own
        layout `(B, T, C, *N)`), instead of trailing the spatial axes.
    """

    path: str
    names: tuple[str, ...]
    component_axes: int = 0
    per_trajectory: bool = True
    per_time: bool = True
    channels_first: bool = False


@dataclasses.dataclass(frozen=True)
class Block:
    """A file holding `count` trajectories of `frames` frames as channels of its fields.

    **Fields:**

    - `file`: the HDF5 file.
    - `count`: trajectories in it.
    - `frames`: frames per trajectory.
    - `fields`: the datasets, in channel order.
    - `groups`: one group name per trajectory when the file keeps a group per
        trajectory (PDEBench's `0000/data`), else empty.
    - `time_offset`: leading frames to skip (a dataset with a frame more than
        the others).
    """

    file: pathlib.Path
    count: int
    frames: int
    fields: tuple[Field, ...]
    groups: tuple[str, ...] = ()
    time_offset: int = 0

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(n for f in self.fields for n in f.names)


_open_files = threading.local()


@contextlib.contextmanager
def files_kept_open():
    """Within this block, this thread reuses one read-only handle per file (closed on exit).

    Outside such a block every read opens and closes its file: no handle
    outlives the reads that needed it, so the user may write the file later.
    """
    outer = getattr(_open_files, "files", None)
    if outer is not None:  # nested: the outer block owns the handles
        yield
        return
    _open_files.files = {}
    _open_files.datasets = {}
    try:
        yield
    finally:
        _open_files.datasets = None
        for handle in _open_files.files.values():
            handle.close()
        _open_files.files = None


@contextlib.contextmanager
def open_h5(path: str | os.PathLike):
    """A read-only h5py handle of `path` (the thread's kept one inside `files_kept_open`)."""
    cache = getattr(_open_files, "files", None)
    key = os.fspath(path)
    handle = None if cache is None else cache.get(key)
    if handle is None:
        try:
            handle = h5py.File(key, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
        except OSError as err:
            raise DataError(f"{key}: not a readable HDF5 file ({str(err).splitlines()[0]})") \
                from None
        if cache is not None:
            cache[key] = handle
    try:
        yield handle
    finally:
        if cache is None:
            handle.close()


def _dataset(handle: h5py.File, path: str) -> h5py.Dataset:
    """`handle[path]`; inside `files_kept_open` one of the thread's last few datasets,
    kept open so that their chunk caches serve the next reads."""
    kept = getattr(_open_files, "datasets", None)
    if kept is None:
        return handle[path]
    key = (handle.filename, path)
    ds = kept.pop(key, None)
    if ds is None:
        ds = handle[path]
        while len(kept) >= KEPT_DATASETS:
            kept.pop(next(iter(kept)))
    kept[key] = ds  # most recent last
    return ds


def _read_field(handle: h5py.File, block: Block, field: Field, row: int, t0: int, t1: int
                ) -> np.ndarray:
    """Frames `[t0, t1)` of trajectory `row` of one field, shaped `(t1 - t0, k, *space)`."""
    path = field.path.format(trajectory=block.groups[row]) if block.groups else field.path
    ds = _dataset(handle, path)
    time = slice(t0 + block.time_offset, t1 + block.time_offset)
    if field.per_trajectory and field.per_time:
        values = ds[row, time]
    elif field.per_trajectory:
        values = np.repeat(ds[row][None], t1 - t0, axis=0)
    elif field.per_time:
        values = ds[time]
    else:
        values = np.repeat(ds[()][None], t1 - t0, axis=0)
    values = np.asarray(values, np.float32)
    if field.channels_first:
        return values
    k = field.component_axes
    if k == 0:
        return values[:, None]
    spatial = values.ndim - 1 - k
    values = values.reshape(values.shape[: 1 + spatial] + (-1,))
    return np.moveaxis(values, -1, 1)


class LazyTrajectories:
    """A float32 array `(trajectories, time, channels, *space)` read from HDF5 on demand.

    **Arguments:**

    - `blocks`: the files, in trajectory order.
    - `rows`: which of their trajectories (global indices) this array holds;
        None: all.
    """

    def __init__(self, blocks: Sequence[Block], rows: np.ndarray | None = None,
                 *, state_shape: tuple[int, ...]):
        self.blocks = tuple(blocks)
        counts = np.array([b.count for b in self.blocks], np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        total = int(self._starts[-1])
        self.rows = np.arange(total) if rows is None else np.asarray(rows, np.int64)
        frames = {b.frames for b in self.blocks}
        if len(frames) != 1:
            raise DataError(f"files hold trajectories of different lengths {sorted(frames)}")
        self.frames = frames.pop()
        self.state_shape = tuple(state_shape)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), self.frames) + self.state_shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, indices: np.ndarray) -> LazyTrajectories:
        """The trajectories at `indices` (positions in this array), still unread."""
        return LazyTrajectories(self.blocks, self.rows[np.asarray(indices)],
                                state_shape=self.state_shape)

    def locate(self, position: int) -> tuple[Block, int]:
        """The block and the row within it of trajectory `position`."""
        row = int(self.rows[position])
        b = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self.blocks[b], row - int(self._starts[b])

    def read(self, position: int, t0: int, t1: int) -> np.ndarray:
        """Frames `[t0, t1)` of trajectory `position`: `(t1 - t0, C, *N)` float32."""
        block, row = self.locate(position)
        with open_h5(block.file) as handle:
            parts = [_read_field(handle, block, f, row, t0, t1) for f in block.fields]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        with files_kept_open():
            return self._getitem(key)

    def _getitem(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            i = next(j for j, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (self.ndim - len(key) + 1) + key[i + 1:]
        first = key[0] if key else slice(None)
        time = key[1] if len(key) > 1 else slice(None)
        rest = key[2:]
        positions = np.arange(len(self.rows))[first]
        scalar_traj = np.ndim(positions) == 0
        positions = np.atleast_1d(positions)
        if isinstance(time, slice):
            t0, t1, step = time.indices(self.frames)
            t1 = max(t0, t1)
            out = np.empty((len(positions), len(range(t0, t1, step))) + self.state_shape,
                           np.float32)
            for i, p in enumerate(positions):  # into place: no list of copies to stack
                out[i] = self.read(int(p), t0, t1)[::step]
        else:
            t = int(np.arange(self.frames)[int(time)])
            out = np.empty((len(positions),) + self.state_shape, np.float32)
            for i, p in enumerate(positions):
                out[i] = self.read(int(p), t, t + 1)[0]
        if rest:
            axis_offset = 1 if isinstance(time, slice) else 0
            out = out[(slice(None),) * (1 + axis_offset) + tuple(rest)]
        return out[0] if scalar_traj else out

    def chunks(self, max_bytes: int = 64 << 20):
        """Consecutive pieces `(position, t0, t1, frames)` of every trajectory, each at
        most about `max_bytes`: a pass over the data in bounded memory."""
        frame_bytes = int(np.prod(self.state_shape)) * 4
        span = max(1, max_bytes // max(frame_bytes, 1))
        with files_kept_open():
            for p in range(len(self.rows)):
                for t0 in range(0, self.frames, span):
                    t1 = min(self.frames, t0 + span)
                    yield p, t0, t1, self.read(p, t0, t1)
