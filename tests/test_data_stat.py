"""Reading a user's file: a run does not re-read it to check it when its size and
modification time are unchanged (and were settled when recorded), any change is still
caught; a pass over the file reads each of its chunks once."""

import copy
import os
import time

import h5py
import numpy as np
import pytest
import yaml

from stablesim.cli import main
from stablesim.data import TrajectoryDataset, load_dataset

from _tiny import linear_subspace_data


def test_an_unchanged_file_is_not_hashed_again_and_a_changed_one_is(tmp_path, capsys,
                                                                     monkeypatch):
    linear_subspace_data(tmp_path / "lin.npz")
    old = time.time() - 3600  # settled long before the run records it
    os.utime(tmp_path / "lin.npz", (old, old))
    cfg = {"system": {"name": None},
           "data": {"file": "lin.npz", "train_values": [1.0], "interpolation_values": [2.0]},
           "model": {"architecture": "linear"},
           "training": {"updates": 4, "seeds": [0], "log_every": 2, "checkpoint_every": 2,
                        "batch_size": 4},
           "evaluation": {"rollout_steps": 5, "horizon": 2, "plots": False}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    hashed = []
    original = TrajectoryDataset.fingerprint

    def counting(self):
        if "_fingerprint" not in self.__dict__:
            hashed.append(1)
        return original(self)

    monkeypatch.setattr(TrajectoryDataset, "fingerprint", counting)
    assert main(["evaluate", str(tmp_path / "r"), "--quiet"]) == 0
    assert hashed == []  # the recorded fingerprint was used
    capsys.readouterr()
    # The same bytes, touched: re-read, and accepted.
    os.utime(tmp_path / "lin.npz")
    assert main(["evaluate", str(tmp_path / "r"), "--quiet"]) == 0
    assert len(hashed) == 1
    # Other values of the same size, written as any edit writes them: refused in one line.
    with np.load(tmp_path / "lin.npz") as f:
        arrays = {k: copy.deepcopy(f[k]) for k in f.files}
    arrays["trajectories"][0, 0, 0] += 1.0
    np.savez(tmp_path / "lin.npz", **arrays)
    code = main(["evaluate", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "changed since" in err and err.count("\n") == 1


def _bytes_read() -> int:
    """Bytes this process has passed through read()/pread() so far (page cache included)."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux's /proc/self/io")
def test_a_chunk_holding_several_trajectories_is_read_from_disk_once_per_pass(tmp_path):
    # PDEBench-like: 8 trajectories compressed into one chunk; a pass reads a trajectory
    # at a time, and each chunk must come off the disk once, not once per trajectory.
    rng = np.random.default_rng(0)
    values = rng.normal(size=(16, 20, 256)).astype(np.float32)  # incompressible
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=values, chunks=(8, 20, 256), compression="gzip")
        f["x-coordinate"] = np.linspace(0, 1, 256)
        f["t-coordinate"] = np.linspace(0, 1, 21)
    stored = path.stat().st_size
    dataset = load_dataset(path, in_memory=False)
    before = _bytes_read()
    pieces = [piece for _, _, _, piece in dataset.trajectories.chunks()]
    read = _bytes_read() - before
    np.testing.assert_array_equal(np.stack(pieces)[:, :, 0], values)  # the oracle: the values
    assert read < 1.5 * stored, (read, stored)  # each chunk about once (8x without the cache)
