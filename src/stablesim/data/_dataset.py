"""Trajectory datasets: arrays plus physical parameters plus metadata."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import DataError
from .._lazy_files import LazyTrajectories
from .._values import matches

FULL_HASH_BYTES = 2 << 30
"""Datasets up to this size are fingerprinted whole; larger ones by a fixed sample."""


def validate_trajectories(
    trajectories: Any, params: Any | None = None, *, min_frames: int = 2, source: str = "data"
) -> tuple[np.ndarray, np.ndarray]:
    """Check trajectories and parameters, and return them as float32 arrays.

    **Arguments:**

    - `trajectories`: array shaped `(trajectories, time, channels, *space)`.
    - `params`: array shaped `(trajectories, P)` or `(trajectories,)`, or None.
    - `min_frames`: the fewest frames a trajectory may have (window length).
    - `source`: what to name in error messages (a file name, say).

    **Returns:**

    `(trajectories, params)` as float32 arrays; params shaped `(B, P)`.

    **Raises:**

    `DataError` naming the problem: wrong rank, non-numeric dtype, non-finite
    values, too few frames, parameter rows not matching trajectories.
    """
    traj = np.asarray(trajectories)
    if traj.dtype.kind not in "fiu":
        raise DataError(f"{source}: trajectories must be numeric, got dtype {traj.dtype}")
    if traj.ndim < 3:
        raise DataError(
            f"{source}: trajectories must be shaped (trajectories, time, channels, *space), "
            f"got shape {traj.shape}"
        )
    if traj.shape[0] < 1:
        raise DataError(f"{source}: no trajectories")
    if traj.shape[1] < min_frames:
        raise DataError(
            f"{source}: trajectories have {traj.shape[1]} frames, need at least {min_frames}"
        )
    traj = traj.astype(np.float32, copy=False)
    finite = np.isfinite(traj)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise DataError(
            f"{source}: trajectories contain {int((~finite).sum())} non-finite values "
            f"(first at index {tuple(int(i) for i in bad)})"
        )
    if params is None:
        p = np.zeros((traj.shape[0], 0), np.float32)
    else:
        p = np.asarray(params)
        if p.dtype.kind not in "fiu":
            raise DataError(f"{source}: params must be numeric, got dtype {p.dtype}")
        if p.ndim == 1:
            p = p[:, None]
        if p.ndim != 2 or p.shape[0] != traj.shape[0]:
            raise DataError(
                f"{source}: params must be shaped ({traj.shape[0]}, P) to match the "
                f"trajectories, got {p.shape}"
            )
        p = p.astype(np.float32, copy=False)
        if not np.isfinite(p).all():
            raise DataError(f"{source}: params contain non-finite values")
    return traj, p


def _distinct(values: np.ndarray) -> list[float]:
    """Sorted distinct values, shown with 6 significant digits (no float32 noise)."""
    return sorted({float(f"{v:.6g}") for v in np.asarray(values).tolist()})


@dataclasses.dataclass(frozen=True)
class TrajectoryDataset:
    """Trajectories with their physical parameters and metadata.

    **Fields:**

    - `trajectories`: float32 array `(trajectories, time, channels, *space)`,
        in memory or a `LazyTrajectories` read from its files on demand.
    - `params`: float32 array `(trajectories, P)` of physical parameters.
    - `parameter_names`: the names of the P parameters.
    - `metadata`: JSON-serialisable facts (system, dt, grid, seed, version;
        `channels`, `boundary`, `splits` where the file says).
    """

    trajectories: np.ndarray | LazyTrajectories
    params: np.ndarray
    parameter_names: tuple[str, ...] = ()
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.trajectories, LazyTrajectories):  # values are checked as read
            traj, p = self.trajectories, _checked_params(self.params, self.trajectories.shape)
        else:
            traj, p = validate_trajectories(self.trajectories, self.params)
        object.__setattr__(self, "trajectories", traj)
        object.__setattr__(self, "params", p)
        names = tuple(self.parameter_names)
        if not names and p.shape[1]:
            names = tuple(f"p{i}" for i in range(p.shape[1]))
        if len(names) != p.shape[1]:
            raise DataError(f"{len(names)} parameter names for {p.shape[1]} parameters")
        object.__setattr__(self, "parameter_names", names)

    @property
    def num_trajectories(self) -> int:
        return self.trajectories.shape[0]

    @property
    def num_frames(self) -> int:
        return self.trajectories.shape[1]

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape `(channels, *space)` of one state."""
        return self.trajectories.shape[2:]

    @property
    def dt(self) -> float | None:
        return self.metadata.get("dt")

    @property
    def lazy(self) -> bool:
        """Whether the trajectories stay in their files (read on demand)."""
        return isinstance(self.trajectories, LazyTrajectories)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """One name per channel (the file's field names, else `c0`, `c1`, ...)."""
        names = self.metadata.get("channels")
        c = self.state_shape[0]
        if names and len(names) == c and len(self.state_shape) > 1:
            return tuple(str(n) for n in names)
        return tuple(f"c{i}" for i in range(c)) if len(self.state_shape) > 1 else ("state",)

    @property
    def boundary(self) -> tuple[str, ...]:
        """Per spatial axis: `periodic`, `wall` or `open` (periodic where the file is silent)."""
        given = self.metadata.get("boundary") or []
        dims = len(self.state_shape) - 1
        return tuple(given) if len(given) == dims else ("periodic",) * dims

    def in_memory(self) -> TrajectoryDataset:
        """The same dataset with its trajectories read into memory (checked as they are)."""
        if not self.lazy:
            return self
        return dataclasses.replace(self, trajectories=np.asarray(self.trajectories))

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the trajectories and parameters as stored.

        Two datasets with the same fingerprint hold the same float32 values in
        the same order; metadata does not enter. Beyond `FULL_HASH_BYTES` the
        hash covers the shape, the parameters and a fixed sample of frames
        (first, middle and last frame of up to 256 evenly spaced
        trajectories), and says so with a `~` prefix: reading 30 GB to name a
        dataset is not worth it, and a changed size, shape, parameter or
        sampled frame still shows. Computed once per dataset object.
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        traj = self.trajectories
        digest.update(str(tuple(traj.shape)).encode())
        if traj.nbytes <= FULL_HASH_BYTES:
            if isinstance(traj, LazyTrajectories):
                for _, _, _, piece in traj.chunks():
                    digest.update(np.ascontiguousarray(piece, dtype="<f4").tobytes())
            else:
                digest.update(np.ascontiguousarray(traj, dtype="<f4").tobytes())
            prefix = ""
        else:
            b, t = traj.shape[:2]
            for i in np.unique(np.linspace(0, b - 1, min(b, 256)).astype(int)):
                for f in sorted({0, t // 2, t - 1}):
                    digest.update(np.ascontiguousarray(traj[int(i), f], dtype="<f4").tobytes())
            prefix = "~"
        digest.update(str(self.params.shape).encode())
        digest.update(np.ascontiguousarray(self.params, dtype="<f4").tobytes())
        self.__dict__["_fingerprint"] = prefix + digest.hexdigest()[:16]
        return self.__dict__["_fingerprint"]

    def known_fingerprint(self, value: str) -> TrajectoryDataset:
        """This dataset, its fingerprint taken as `value` instead of computed (a run's record
        of a file whose size and modification time are unchanged)."""
        self.__dict__["_fingerprint"] = value
        return self

    def take(self, indices: Sequence[int] | np.ndarray) -> TrajectoryDataset:
        """The sub-dataset of the given trajectory indices (or boolean mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size == 0:
            raise DataError("selection holds no trajectories")
        traj = self.trajectories
        picked = traj.select(idx) if isinstance(traj, LazyTrajectories) else traj[idx]
        return dataclasses.replace(self, trajectories=picked, params=self.params[idx])

    def has_parameter(self, values: Sequence[float], *, column: int = 0) -> bool:
        """Whether every one of `values` is some trajectory's parameter `column`."""
        if self.params.shape[1] <= column:
            return False
        return all(matches(self.params[:, column], v).any() for v in values)

    def with_parameter(self, values: Sequence[float], *, column: int = 0):
        """The trajectories whose parameter `column` equals one of `values` (`_values.matches`)."""
        if self.params.shape[1] <= column:
            raise DataError("the dataset has no physical parameters to select by")
        col = self.params[:, column]
        mask = np.zeros(col.shape, bool)
        for v in values:
            hit = matches(col, v)
            if not hit.any():
                raise DataError(
                    f"no trajectory has {self.parameter_names[column]}={v} "
                    f"(present: {_distinct(col)})"
                )
            mask |= hit
        return self.take(mask)

    def summary(self) -> str:
        """A few human-readable lines about the dataset."""
        gib = self.trajectories.nbytes / 2**30
        fingerprint = self.fingerprint()
        lines = [
            f"trajectories: {self.num_trajectories}, frames: {self.num_frames}, "
            f"state shape: {self.state_shape} (channels, *space), {gib:.3g} GiB as float32"
            + (" (read from the file on demand)" if self.lazy else ""),
            f"fingerprint: {fingerprint} (SHA-256 of trajectories and parameters"
            + ("; ~ = of a fixed sample of frames)" if fingerprint.startswith("~")
               else ")"),
        ]
        if len(self.state_shape) > 1:
            lines.append(f"channels: {', '.join(self.channel_names)}")
            lines.append(f"boundary: {', '.join(self.boundary)} (per spatial axis)")
        if len(self.state_shape) == 1:
            n = self.state_shape[0]
            lines.append(f"note: states are vectors of {n} channels with no spatial axis; if they "
                         f"are {n} grid points of one field, add a channel axis "
                         "(trajectories[:, :, None]) so convolutional networks apply")
        for j, name in enumerate(self.parameter_names):
            vals = _distinct(self.params[:, j])
            if len(vals) > 12:  # a range and a count, not a line of a thousand numbers
                lines.append(f"parameter {name}: {len(vals)} distinct values in "
                             f"[{vals[0]:g}, {vals[-1]:g}]")
            else:
                lines.append(f"parameter {name}: {vals}")
        sample, note = self.value_sample()
        lines.append(f"value range{note}: [{sample.min():.4g}, {sample.max():.4g}], "
                     f"std {sample.std():.4g}")
        shown = {"channels", "boundary"}
        for k, v in sorted(self.metadata.items()):
            if k not in shown:
                lines.append(f"{k}: {v}")
        return "\n".join(lines)


    def sampled_rows(self, max_bytes: int = 1 << 30) -> np.ndarray:
        """Indices of all trajectories, or of evenly spaced ones totalling about `max_bytes`."""
        b = self.num_trajectories
        if self.trajectories.nbytes <= max_bytes:
            return np.arange(b)
        count = max(1, int(b * max_bytes / self.trajectories.nbytes))
        return np.unique(np.linspace(0, b - 1, count).astype(int))

    def sampled(self, max_bytes: int = 1 << 30) -> np.ndarray:
        """The trajectories in memory: all, or evenly spaced ones (`sampled_rows`) for data
        larger than `max_bytes` (spectra and bases need a sample, not 30 GB)."""
        rows = self.sampled_rows(max_bytes)
        if len(rows) == self.num_trajectories:  # all of them: no copy of in-memory data
            return np.asarray(self.trajectories)
        return np.asarray(self.take(rows).trajectories)

    def value_sample(self, max_bytes: int = 256 << 20) -> tuple[np.ndarray, str]:
        """All values, or for a large dataset evenly spaced trajectories' frames.

        **Returns:** `(values, note)`; the note says what was sampled (empty: all).
        """
        traj = self.trajectories
        b = traj.shape[0]
        if traj.nbytes // b > max_bytes:  # one trajectory alone is too large
            return np.asarray(traj[0, :1]), " (the first frame)"
        rows = self.sampled_rows(max_bytes)
        note = "" if len(rows) == b else f" ({len(rows)} of {b} trajectories)"
        return self.sampled(max_bytes), note


def _checked_params(params: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Parameters `(B, P)` checked against trajectories of `shape` (no values read)."""
    if len(shape) < 3 or shape[0] < 1 or shape[1] < 2:
        raise DataError(f"trajectories shaped {shape}: need (trajectories, time >= 2, "
                        "channels, *space)")
    _, p = validate_trajectories(np.zeros((shape[0], 2, 1), np.float32), params)
    return p


def split_by_parameter(
    dataset: TrajectoryDataset,
    *,
    train: Sequence[float],
    interpolation: Sequence[float] = (),
    extrapolation: Sequence[float] = (),
    column: int = 0,
) -> dict[str, TrajectoryDataset]:
    """Split a dataset into train and test sets by the value of its parameter.

    **Arguments:**

    - `dataset`: the full dataset.
    - `train`, `interpolation`, `extrapolation`: parameter values of each set.
    - `column`: which parameter the values refer to.

    **Returns:**

    A dict with keys `"train"` and, where values were given, `"interpolation"`
    and `"extrapolation"`.
    """
    out = {"train": dataset.with_parameter(train, column=column)}
    if interpolation:
        out["interpolation"] = dataset.with_parameter(interpolation, column=column)
    if extrapolation:
        out["extrapolation"] = dataset.with_parameter(extrapolation, column=column)
    return out
