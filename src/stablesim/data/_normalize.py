"""Per-channel and per-parameter statistics that put data of any units near O(1).

Computed on the training split only (one pass, a piece at a time, float64
sums), or taken from The Well's `stats.yaml`. The network sees
`(state - mean) / std` and parameters `(p - mean) / std`; its output is
scaled back, and the training loss (and input noise) is measured in units of
`std` per channel. Rollouts, errors and plots stay in the data's units.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np

from .._errors import DataError
from .._lazy_files import LazyTrajectories
from ._dataset import TrajectoryDataset


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Shift and scale of every channel and every physical parameter.

    **Fields:**

    - `state_mean`, `state_std`: one value per channel (per component for
        vector states).
    - `parameter_mean`, `parameter_std`: one value per physical parameter.
    - `source`: where they come from (`"training split"` or a file).
    """

    state_mean: tuple[float, ...]
    state_std: tuple[float, ...]
    parameter_mean: tuple[float, ...] = ()
    parameter_std: tuple[float, ...] = ()
    source: str = "training split"

    def trajectories(self, values: np.ndarray) -> np.ndarray:
        """`(values - mean) / std` per channel of trajectories `(B, T, C, *N)` (or `(B, T, n)`):
        the units the network, the loss and the input noise work in."""
        values = np.asarray(values)
        shape = (1, 1, -1) + (1,) * (values.ndim - 3)
        mean = np.asarray(self.state_mean, values.dtype).reshape(shape)
        return (values - mean) / np.asarray(self.state_std, values.dtype).reshape(shape)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> Normalization:
        return cls(tuple(raw["state_mean"]), tuple(raw["state_std"]),
                   tuple(raw.get("parameter_mean", ())), tuple(raw.get("parameter_std", ())),
                   str(raw.get("source", "training split")))


def _safe_std(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """A constant channel or parameter is scaled by its magnitude (or 1), never by 0."""
    fallback = np.where(np.abs(mean) > 0, np.abs(mean), 1.0)
    return np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, fallback)


def parameter_statistics(params: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and standard deviation of every parameter column (over trajectories)."""
    p = np.asarray(params, np.float64)
    if p.shape[1] == 0:
        return (), ()
    mean, std = p.mean(axis=0), p.std(axis=0)
    return tuple(mean.tolist()), tuple(_safe_std(std, mean).tolist())


STATISTICS_BYTES = 1 << 30
"""Training splits larger than this are summarised from evenly spaced trajectories."""


def normalization_statistics(train: TrajectoryDataset,
                             max_bytes: int = STATISTICS_BYTES) -> Normalization:
    """Per-channel mean and standard deviation of the training trajectories.

    One pass in pieces of at most 64 MiB, summed in float64: memory does not
    grow with the data. Non-finite values end in a `DataError` naming the
    trajectory (data read lazily are checked here, on the way). A split
    larger than `max_bytes` is summarised from evenly spaced trajectories
    totalling about `max_bytes` (the `source` says how many): a 30 GB split
    is not read whole before the first update.

    **Arguments:**

    - `train`: the training split.
    - `max_bytes`: the most to read.

    **Returns:**

    The `Normalization`.
    """
    source, params = "training split", train.params
    rows = train.sampled_rows(max_bytes)
    if len(rows) < train.num_trajectories:
        source = f"training split ({len(rows)} of {train.num_trajectories} evenly spaced " \
                 "trajectories)"
        train = train.take(rows)
    traj = train.trajectories
    vector = len(train.state_shape) == 1
    channels = train.state_shape[0]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    count = 0
    pieces = traj.chunks() if isinstance(traj, LazyTrajectories) else (
        (i, 0, traj.shape[1], traj[i]) for i in range(traj.shape[0]))
    for position, _, _, piece in pieces:
        values = np.asarray(piece, np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"trajectory {position} of the training data holds non-finite values")
        axes = (0,) if vector else (0,) + tuple(range(2, values.ndim))
        total += values.sum(axis=axes)
        squares += (values**2).sum(axis=axes)
        count += values.size // channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    p_mean, p_std = parameter_statistics(params)
    return Normalization(tuple(mean.tolist()), tuple(_safe_std(std, mean).tolist()),
                         p_mean, p_std, source)


def well_statistics(stats_file: str | pathlib.Path, channel_fields: list[str],
                    params: np.ndarray) -> Normalization:
    """The Well's `stats.yaml` (`mean` and `std` per field, a list per component) by channel.

    **Arguments:**

    - `stats_file`: the dataset's `stats.yaml`.
    - `channel_fields`: the field each channel belongs to, in channel order.
    - `params`: the training split's parameters (scaled by their own statistics).

    **Returns:**

    The `Normalization` (source: the file).
    """
    import yaml

    raw = yaml.safe_load(pathlib.Path(stats_file).read_text()) or {}
    means, stds = raw.get("mean", {}), raw.get("std", {})
    mean: list[float] = []
    std: list[float] = []
    seen: dict[str, int] = {}
    for field in channel_fields:
        if field not in means or field not in stds:
            raise DataError(f"{stats_file}: no mean/std for field {field!r}")
        k = seen[field] = seen.get(field, -1) + 1
        m, s = np.ravel(means[field]), np.ravel(stds[field])
        mean.append(float(m[min(k, m.size - 1)]))
        std.append(float(s[min(k, s.size - 1)]))
    if not all(math.isfinite(v) for v in mean + std):
        raise DataError(f"{stats_file}: non-finite statistics")
    safe = _safe_std(np.array(std), np.array(mean))
    p_mean, p_std = parameter_statistics(params)
    return Normalization(tuple(mean), tuple(safe.tolist()), p_mean, p_std, str(stats_file))


def scale_warnings(norm: Normalization, channel_names, parameter_names) -> list[str]:
    """Words for channels or parameters far from O(1), for runs with normalization off."""
    lines = []
    for name, m, s in zip(parameter_names, norm.parameter_mean, norm.parameter_std):
        size = max(abs(m), s)
        if size > 100 or 0 < size < 0.01:
            lines.append(f"parameter {name} is of order {size:.3g}: with data.normalize off the "
                         "network sees it unscaled (data.normalize: on scales it)")
    sizes = [max(abs(m), s) for m, s in zip(norm.state_mean, norm.state_std)]
    if sizes and (max(sizes) > 100 or min(sizes) < 0.01 or max(sizes) / min(sizes) > 100):
        big = int(np.argmax(sizes))
        lines.append(f"channels range in size from {min(sizes):.3g} to {max(sizes):.3g} "
                     f"({channel_names[big]} largest): with data.normalize off the loss is "
                     "dominated by the largest (data.normalize: on z-scores each)")
    return lines
