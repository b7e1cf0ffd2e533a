"""Times stablesim's trainer on trajectories saved by the APEBench worker.

Called by `bench_peers.py` in stablesim's environment. Prints one JSON line:
data time (loading the same arrays and checking them), compile estimate,
steady updates/s (median over logged chunks after the first) and the
training call's wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np

from stablesim.data import TrajectoryDataset
from stablesim.models import make_network
from stablesim.simulators import Prediction
from stablesim.training import ModalityConfig, TrainConfig, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npy (trajectories, time, 1, *space)")
    parser.add_argument("--arch", default="conv")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--modality", choices=["ONE", "NOG", "WIG"], default="ONE")
    parser.add_argument("--unroll", type=int, default=5)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--width", type=int, default=34)
    parser.add_argument("--depth", type=int, default=10)
    args = parser.parse_args()

    t0 = time.perf_counter()
    trajectories = np.load(args.data)
    data = TrajectoryDataset(trajectories, np.zeros((len(trajectories), 0), np.float32))
    data_s = time.perf_counter() - t0
    state_shape = data.state_shape

    def make(key):
        return Prediction(make_network(args.arch, state_shape=state_shape, width=args.width,
                                       depth=args.depth, key=key))

    chunk = max(args.updates // 10, 5)
    cfg = TrainConfig(updates=args.updates, learning_rate=1e-4, schedule="constant",
                      batch_size=args.batch, log_every=chunk, checkpoint_every=args.updates,
                      seeds=[0])
    modality = ModalityConfig(name=args.modality, unroll=1 if args.modality == "ONE"
                              else args.unroll)
    t0 = time.perf_counter()
    result = train(make, data, cfg, modality, progress=False)
    wall = time.perf_counter() - t0
    rates = [float(r["updates_per_s"]) for r in result.history]
    steady = statistics.median(rates[1:])
    compile_s = max(chunk / rates[0] - chunk / steady, 0.0)
    print(json.dumps({
        "tool": f"stablesim {args.arch}", "modality": args.modality, "updates": args.updates,
        "data_s": round(data_s, 3), "compile_s": round(compile_s, 3),
        "updates_per_s": round(steady, 3), "wall_s": round(wall, 2),
        "full_updates_per_s": round(args.updates / wall, 3),
        "final_loss": float(result.history[-1]["loss"]),
        "train_shape": list(trajectories.shape), "jax": jax.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
