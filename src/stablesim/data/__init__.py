"""Trajectory datasets: generate, save and load, validate, window lazily, split."""

from ._dataset import TrajectoryDataset, split_by_parameter, validate_trajectories
from ._generate import generate_dataset
from ._io import load_dataset, load_initial_states, save_hdf5
from ._normalize import Normalization, normalization_statistics, scale_warnings, well_statistics
from ._stream import WindowStream
from ._windows import WindowIndex, WindowSampler, shuffled_position

__all__ = [
    "TrajectoryDataset",
    "generate_dataset",
    "load_dataset",
    "load_initial_states",
    "save_hdf5",
    "split_by_parameter",
    "Normalization",
    "WindowSampler",
    "WindowStream",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    validate_trajectories,
    normalization_statistics,
    scale_warnings,
    well_statistics,
    WindowIndex,
    shuffled_position,
)
