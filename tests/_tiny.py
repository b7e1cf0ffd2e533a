"""A tiny run config for command-line tests (seconds per run)."""

TINY = {
    "system": {"name": "ks"},
    "data": {"train_values": [8.0, 9.6], "interpolation_values": [8.8],
             "extrapolation_values": [11.2], "trajectories_per_value": 2, "frames": 12,
             "transient": 20},
    "model": {"architecture": "conv", "width": 4, "depth": 1},
    "modality": {"name": "NOG", "unroll": 2},
    "training": {"updates": 20, "seeds": [0, 1], "batch_size": 4, "log_every": 5,
                 "checkpoint_every": 5},
    "evaluation": {"rollout_steps": 8, "horizon": 4, "gradient_unrolls": [1, 2], "plots": False},
}


def linear_subspace_data(path):
    """Linear dynamics x' = A x confined to a 3-dim invariant subspace of R^10, as `.npz`.

    12 trajectories of 30 frames (parameter 1.0 for the first six, 2.0 for the
    rest). Returns `(q, trajectories)`: q's first 3 columns span the subspace.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    ur = q[:, :3]
    a = ur @ np.diag([0.97, 0.9, 0.8]) @ ur.T
    traj = []
    for _ in range(12):
        x, rows = ur @ rng.normal(size=3), []
        for _ in range(30):
            rows.append(x)
            x = a @ x
        traj.append(rows)
    traj = np.asarray(traj, np.float32)
    np.savez(path, trajectories=traj, params=np.repeat([[1.0], [2.0]], 6, axis=0))
    return q, traj
