"""A run on a user's file does not re-read it to check it when its size and modification
time are unchanged (and were settled when recorded); any change is still caught."""

import copy
import os
import time

import numpy as np
import yaml

from stablesim.cli import main
from stablesim.data import TrajectoryDataset

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
