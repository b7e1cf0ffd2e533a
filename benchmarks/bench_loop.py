"""Does any architecture pay for stablesim's training loop?

For every architecture of `make_network` (1D Kuramoto-Sivashinsky, 48 points,
the default network size: width 16, depth 3; batch 16; Adam; one seed; ONE
with m = 1) this
times

- `plain`: the architecture's own step, `jit(value_and_grad + Adam update)`
  on a fixed batch, called in a Python loop (what a user writes by hand);
- `trainer`: `stablesim.training.train` with each loop structure
  (`training.loop`: `step` = one jitted update per call with donated state,
  `scan` = a `lax.scan` over a chunk of updates, `auto` = what the trainer
  picks), same modality, batch, seed.

Figures are medians of timed calls / chunks after compilation, measured in
one run; the ratio trainer / plain should be at most 1.2.

Run: .venv/bin/python benchmarks/bench_loop.py [--archs conv resnet ...] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from stablesim._options import ARCHITECTURES
from stablesim.data import TrajectoryDataset, WindowSampler, generate_dataset
from stablesim.models import make_network
from stablesim.simulators import Prediction
from stablesim.systems import KuramotoSivashinsky
from stablesim.training import ModalityConfig, TrainConfig, build_modality, train

VECTOR_ARCHITECTURES = ("mlp", "linear")


def _plain_ms(make, data, modality_config, batch_size, calls=40) -> float:
    """Median ms of the architecture's own jitted one-step gradient + Adam step."""
    sim = make(jax.random.key(0))
    modality = build_modality(modality_config)
    sampler = WindowSampler(data.trajectories, data.params, length=modality.window_length,
                            batch_size=batch_size)
    windows, params = sampler.batch(jax.random.key(1), jnp.asarray(0))
    weights, static = eqx.partition(sim, eqx.is_inexact_array)
    opt = optax.adam(1e-4)
    opt_state = opt.init(weights)

    @jax.jit
    def step(weights, opt_state):
        def loss(w):  # written by hand: one step from each window's first frame
            sim = eqx.combine(w, static)
            return jnp.mean((jax.vmap(sim)(windows[:, 0], params) - windows[:, 1]) ** 2)

        value, grads = jax.value_and_grad(loss)(weights)
        updates, opt_state = opt.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state, value

    weights, opt_state, value = step(weights, opt_state)
    value.block_until_ready()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        weights, opt_state, value = step(weights, opt_state)
        value.block_until_ready()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _trainer_ms(make, data, modality_config, batch_size, loop, updates, chunk) -> float:
    cfg = TrainConfig(updates=updates, learning_rate=1e-4, schedule="constant",
                      batch_size=batch_size, log_every=chunk, checkpoint_every=chunk,
                      seeds=[0], loop=loop)
    result = train(make, data, cfg, modality_config, progress=False)
    rates = [float(r["updates_per_s"]) for r in result.history[1:]]  # the first compiles
    return 1e3 / statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=list(ARCHITECTURES))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--updates", type=int, default=150)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--loops", nargs="+", default=["auto", "step", "scan"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    system = KuramotoSivashinsky()
    data = generate_dataset(system, system.train_values, trajectories_per_value=4, frames=40,
                            transient=100)
    modality = ModalityConfig(name="ONE", unroll=1)
    print(f"{jax.default_backend()}; ONE m=1, batch {args.batch_size}; "
          "ms per update (median)", flush=True)
    print(f"{'arch':14s} {'plain':>8s} " + " ".join(f"{loop:>8s} {'ratio':>6s}"
                                                  for loop in args.loops), flush=True)
    rows = []
    # Vector architectures (mlp, linear) see the same fields as flat vectors (n,).
    flat = TrajectoryDataset(data.trajectories[:, :, 0], data.params, data.parameter_names)
    for arch in args.archs:
        vector = arch in VECTOR_ARCHITECTURES
        arch_data = flat if vector else data

        def make(key, arch=arch, vector=vector):
            shape = (system.data_shape[-1],) if vector else system.data_shape
            net = make_network(arch, state_shape=shape, num_parameters=1,
                               parameter_scale=system.parameter_scale, width=16, depth=3,
                               key=key)
            return Prediction(net)

        row = {"arch": arch, "plain_ms": _plain_ms(make, arch_data, modality, args.batch_size)}
        for loop in args.loops:
            row[f"{loop}_ms"] = _trainer_ms(make, arch_data, modality, args.batch_size, loop,
                                            args.updates, args.chunk)
            row[f"{loop}_ratio"] = row[f"{loop}_ms"] / row["plain_ms"]
        rows.append(row)
        print(f"{arch:14s} {row['plain_ms']:8.2f} " + " ".join(
            f"{row[f'{loop}_ms']:8.2f} {row[f'{loop}_ratio']:6.2f}" for loop in args.loops),
            flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"backend": jax.default_backend(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
