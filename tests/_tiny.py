"""A tiny run config for command-line tests (seconds per run)."""

TINY = {
    "system": {"name": "ks"},
    "data": {"train_values": [8.0, 9.6], "interpolation_values": [8.8],
             "extrapolation_values": [11.2], "trajectories_per_value": 2, "frames": 12,
             "warmup": 20},
    "model": {"architecture": "conv", "width": 4, "depth": 1},
    "modality": {"name": "NOG", "unroll": 2},
    "training": {"steps": 20, "seeds": [0, 1], "batch_size": 4, "log_every": 5,
                 "checkpoint_every": 5},
    "evaluation": {"steps": 8, "horizon": 4, "gradient_unrolls": [1, 2], "plots": False},
}
