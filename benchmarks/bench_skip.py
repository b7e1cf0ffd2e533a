"""The explosion detector on healthy training: no skipped update at APEBench's learning rate.

The peers' reference configuration (1D Kuramoto-Sivashinsky, 160 points, a
34-channel 10-layer ConvNet, batch 20, Adam) at lr 1e-3, 300 updates, ONE,
NOG-5 and WIG-5, with stablesim's `conv` and PDEquinox's `pdeqx_conv`.
Prints the skipped updates and the first and last logged loss.

Run: .venv/bin/python benchmarks/bench_skip.py
"""

from __future__ import annotations

from stablesim.data import generate_dataset
from stablesim.models import make_network
from stablesim.simulators import Prediction
from stablesim.systems import KuramotoSivashinsky
from stablesim.training import ModalityConfig, TrainConfig, train


def main():
    system = KuramotoSivashinsky(num_points=160, dt=0.5, substeps=2)
    data = generate_dataset(system, [160 / 48 * 8 / 3.3], trajectories_per_value=50, frames=50,
                            transient=100)
    for arch in ("conv", "pdeqx_conv"):
        def make(key, arch=arch):
            return Prediction(make_network(arch, state_shape=(1, 160), width=34, depth=10,
                                           key=key))

        for name, m in (("ONE", 1), ("NOG", 5), ("WIG", 5)):
            cfg = TrainConfig(updates=300, learning_rate=1e-3, schedule="constant",
                              batch_size=20, log_every=50, checkpoint_every=50, seeds=[0])
            result = train(make, data, cfg, ModalityConfig(name=name, unroll=m), progress=False)
            print(f"{arch:10s} {name} m={m}: skipped {result.skipped[0]} of 300; loss "
                  f"{float(result.history[0]['loss']):.4g} -> {float(result.history[-1]['loss']):.4g}",
                  flush=True)


if __name__ == "__main__":
    main()
