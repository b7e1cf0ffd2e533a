"""Times APEBench 0.1.1's KS scenario call; runs in APEBench's own environment.

Called by `bench_peers.py` (never imported by stablesim). Prints one JSON line:
data time (APEBench's own data generation), compile estimate, steady updates/s
(median over chunks, from timestamps of a callback at every update) and the
whole scenario call's wall time (data, training, tests). With `--save-data` it
also writes the training trajectories for stablesim to train on the same data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import apebench
import jax
import numpy as np

TRAIN_CONFIGS = {"ONE": "one", "NOG": "sup;{m};true", "WIG": "sup;{m};false"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=1)
    parser.add_argument("--points", type=int, default=160)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--modality", choices=sorted(TRAIN_CONFIGS), default="ONE")
    parser.add_argument("--unroll", type=int, default=5)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--width", type=int, default=34)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--save-data", default=None)
    args = parser.parse_args()

    stamps: list[float] = []

    class TimedKS(apebench.scenarios.difficulty.KuramotoSivashinsky):
        def get_callback_fn(self):
            def record(update_i, model, data):
                stamps.append(time.perf_counter())
                return {}
            return record

    scenario = TimedKS(num_spatial_dims=args.dims, num_points=args.points,
                       batch_size=args.batch, optim_config=f"adam;{args.updates};constant;1e-4",
                       num_test_samples=2, test_temporal_horizon=10)
    t0 = time.perf_counter()
    train = np.asarray(jax.block_until_ready(scenario.get_train_data()))
    data_s = time.perf_counter() - t0
    if args.save_data:
        np.save(args.save_data, train)

    train_config = TRAIN_CONFIGS[args.modality].format(m=args.unroll)
    t0 = time.perf_counter()
    result, _ = scenario(task_config="predict", train_config=train_config,
                         network_config=f"Conv;{args.width};{args.depth};relu", num_seeds=1)
    wall = time.perf_counter() - t0
    chunk = max(args.updates // 10, 5)
    rates = [chunk / (stamps[i + chunk] - stamps[i])
             for i in range(chunk, len(stamps) - chunk, chunk)]
    steady = statistics.median(rates)
    compile_s = max(stamps[1] - stamps[0] - 1 / steady, 0.0)
    print(json.dumps({
        "tool": "apebench", "modality": args.modality, "updates": args.updates,
        "data_s": round(data_s, 3), "compile_s": round(compile_s, 3),
        "updates_per_s": round(steady, 3), "wall_s": round(wall, 2),
        "full_updates_per_s": round(args.updates / wall, 3),
        "final_loss": float(np.asarray(result.filter(like="train_loss").iloc[0, -1])),
        "train_shape": list(train.shape), "jax": jax.__version__,
        "apebench": getattr(apebench, "__version__", "0.1.1"),
    }), flush=True)


if __name__ == "__main__":
    main()
