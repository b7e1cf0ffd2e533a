"""Datasets: validation, HDF5 / npz round trips, lazy windows, parameter splits."""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim import DataError
from stablesim.data import (
    TrajectoryDataset,
    WindowSampler,
    load_dataset,
    save_hdf5,
    split_by_parameter,
)


def dataset(num=4, frames=9, params=(1.0, 2.0, 3.0, 4.0)):
    rng = np.random.default_rng(0)
    traj = rng.normal(size=(num, frames, 2, 8)).astype(np.float32)
    return TrajectoryDataset(traj, np.asarray(params, np.float32)[:, None], ("nu",),
                             {"system": "toy", "dt": 0.5})


def test_hdf5_round_trip(tmp_path):
    ds = dataset()
    path = save_hdf5(ds, tmp_path / "d.h5")
    back = load_dataset(path)
    np.testing.assert_array_equal(back.trajectories, ds.trajectories)
    np.testing.assert_array_equal(back.params, ds.params)
    assert back.parameter_names == ("nu",)
    assert back.dt == 0.5 and back.metadata["system"] == "toy"


def test_users_own_npz_and_hdf5_files(tmp_path):
    traj = np.random.default_rng(1).normal(size=(3, 6, 1, 4, 4))
    np.savez(tmp_path / "u.npz", trajectories=traj, params=[1.0, 2.0, 3.0],
             parameter_names=np.array(["Re"]), dt=0.1)
    ds = load_dataset(tmp_path / "u.npz")
    assert ds.state_shape == (1, 4, 4) and ds.params.shape == (3, 1) and ds.dt == 0.1
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f["trajectories"] = traj
        f.attrs["dt"] = 0.2
    ds = load_dataset(tmp_path / "u.h5")
    assert ds.params.shape == (3, 0) and ds.dt == 0.2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.h5", "no such file"),
        (lambda p: p, "is a directory"),
        (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "unknown file type"),
        (lambda p: (p / "bad.h5").write_text("not hdf5") and p / "bad.h5", "not a readable HDF5"),
        (lambda p: np.savez(p / "k.npz", data=np.ones((2, 3, 1))) or p / "k.npz", "no 'trajectories'"),
        (lambda p: np.savez(p / "s.npz", trajectories=np.ones((2, 3))) or p / "s.npz", "shaped"),
        (lambda p: np.savez(p / "n.npz", trajectories=np.full((2, 3, 1), np.nan)) or p / "n.npz",
         "non-finite"),
        (lambda p: np.savez(p / "f.npz", trajectories=np.ones((2, 1, 1))) or p / "f.npz", "frames"),
        (lambda p: np.savez(p / "p.npz", trajectories=np.ones((2, 3, 1)), params=np.ones(3))
         or p / "p.npz", "params must be shaped"),
    ],
)
def test_bad_files_raise_one_clear_data_error(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_dataset(make(tmp_path))


def test_windows_are_the_naive_windows_in_some_order():
    ds = dataset()
    sampler = WindowSampler(ds.trajectories, ds.params, length=4, batch_size=3)
    assert sampler.num_windows == 4 * 6
    naive = {(t, s) for t in range(4) for s in range(6)}
    seen = []
    key = jax.random.key(0)
    for step in range(sampler.batches_per_epoch):
        idx = np.asarray(sampler.batch_indices(key, jnp.asarray(step)))
        windows, params = sampler.batch(key, jnp.asarray(step))
        for i, w, p in zip(idx, np.asarray(windows), np.asarray(params)):
            t, s = divmod(int(i), 6)
            np.testing.assert_array_equal(w, ds.trajectories[t, s : s + 4])
            np.testing.assert_array_equal(p, ds.params[t])
            seen.append((t, s))
    assert set(seen) == naive and len(seen) == len(naive)  # each window once per epoch
    first = np.asarray(sampler.batch_indices(key, jnp.asarray(0)))
    again = np.asarray(sampler.batch_indices(key, jnp.asarray(sampler.batches_per_epoch)))
    assert not np.array_equal(first, again)  # a new epoch reshuffles


def test_windows_longer_than_trajectories_are_refused():
    ds = dataset(frames=5)
    with pytest.raises(DataError, match="do not fit"):
        WindowSampler(ds.trajectories, ds.params, length=6, batch_size=2)


def test_split_by_parameter():
    parts = split_by_parameter(dataset(), train=[1.0, 2.0], interpolation=[3.0],
                               extrapolation=[4.0])
    assert parts["train"].params[:, 0].tolist() == [1.0, 2.0]
    assert parts["interpolation"].params[:, 0].tolist() == [3.0]
    with pytest.raises(DataError, match="no trajectory has nu=9"):
        split_by_parameter(dataset(), train=[9.0])


@pytest.mark.parametrize("n", [1, 2, 7, 16, 17, 1000, 4097])
def test_shuffled_position_is_a_permutation_that_depends_on_the_key(n):
    from stablesim.data import shuffled_position

    positions = jnp.arange(n)
    first = np.asarray(shuffled_position(jax.random.key(0), positions, n))
    assert sorted(first.tolist()) == list(range(n))  # a bijection of range(n)
    if n >= 16:
        second = np.asarray(shuffled_position(jax.random.key(1), positions, n))
        assert not np.array_equal(first, second) and not np.array_equal(first, np.arange(n))
        # shuffled, not shifted: consecutive positions land far apart on average
        assert np.mean(np.abs(np.diff(first))) > n / 8


def test_data_info_summarises_many_parameter_values_as_a_range_and_count():
    from stablesim.data import TrajectoryDataset

    traj = np.zeros((1200, 2, 1, 4), np.float32)
    many = TrajectoryDataset(traj, np.linspace(1e4, 1e5, 1200)[:, None], ("Re",)).summary()
    assert "parameter Re: 1200 distinct values in [10000, 100000]" in many
    few = TrajectoryDataset(traj[:3], np.array([[1.0], [2.0], [2.0]]), ("nu",)).summary()
    assert "parameter nu: [1.0, 2.0]" in few
