"""Training speed on the peers' reference configuration (see shared/peers.md).

1D Kuramoto-Sivashinsky at 160 points, 50 trajectories of 50 frames, a plain
convolutional network of 34 channels and 10 hidden layers (PDEquinox ConvNet),
batch 20, Adam; ONE, NOG (m=5) and WIG (m=5) in the prediction setup, through
stablesim's own trainer. Reports the median updates/s over timed chunks after
compilation.

Run: .venv/bin/python benchmarks/bench_speed.py [--updates 400] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from stablesim.data import generate_dataset
from stablesim.models import make_network
from stablesim.simulators import Prediction
from stablesim.systems import KuramotoSivashinsky
from stablesim.training import ModalityConfig, TrainConfig, train

PEERS = {"ONE": 42.0, "NOG": 8.0, "WIG": 8.0}  # plain lax.scan step (peers.md)
APEBENCH = {"ONE": 2000 / 62, "NOG": 2000 / 317, "WIG": 2000 / 445}  # whole-run rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--archs", nargs="+", default=["conv", "pdeqx_conv"],
                        help="stablesim's channels-last conv and PDEquinox's, same layers")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    system = KuramotoSivashinsky(num_points=160, dt=0.5, substeps=2)
    t0 = time.perf_counter()
    data = generate_dataset(system, [160 / 48 * 8 / 3.3], trajectories_per_value=50,
                            frames=50, transient=100)
    print(f"data: {data.trajectories.shape} in {time.perf_counter() - t0:.1f} s", flush=True)

    rows = []
    for arch in args.archs:
        for name, steps in (("ONE", 1), ("NOG", 5), ("WIG", 5)):
            rows.append(_measure(data, arch, name, steps, args))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


def _measure(data, arch, name, steps, args):
    def make(key):
        return Prediction(make_network(arch, state_shape=(1, 160), width=34, depth=10, key=key))

    cfg = TrainConfig(updates=args.updates, learning_rate=1e-4, schedule="constant",
                      batch_size=20, log_every=args.chunk, checkpoint_every=args.chunk, seeds=[0])
    t0 = time.perf_counter()
    result = train(make, data, cfg, ModalityConfig(name=name, unroll=steps), progress=False)
    wall = time.perf_counter() - t0
    rates = [r["updates_per_s"] for r in result.history[1:]]  # first chunk compiles
    median = statistics.median(rates)
    print(f"{arch:10s} {name} m={steps}: {median:7.1f} updates/s (median of {len(rates)} "
          f"chunks); x{median / PEERS[name]:.2f} the plain scan step, "
          f"x{median / APEBENCH[name]:.2f} APEBench's whole-run rate", flush=True)
    return {"arch": arch, "modality": name, "steps": steps, "median_updates_per_s": median,
            "wall_s": round(wall, 1), "vs_plain_scan": round(median / PEERS[name], 2),
            "vs_apebench_run": round(median / APEBENCH[name], 2)}


if __name__ == "__main__":
    main()
