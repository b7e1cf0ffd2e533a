"""Peak memory and compile time of one WIG update as the unroll grows.

Compares stablesim's unroll (lax.scan + jax.checkpoint) with a Python-loop
unroll of the same loss (what APEBench/Trainax do). Memory is XLA's own
buffer assignment of the compiled update (arguments + outputs + temporaries),
which is deterministic, unlike process RSS on a shared machine.

Run: .venv/bin/python benchmarks/bench_memory.py [--steps 8 64] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time

import equinox as eqx
import jax
import jax.numpy as jnp

from stablesim.models import make_network
from stablesim.simulators import Prediction, with_network
from stablesim.training import WIG


def python_loop_loss(sim, windows, params, steps):
    u = windows[:, 0]
    total = 0.0
    for s in range(steps):
        u = jax.vmap(sim)(u, params)
        total = total + jnp.mean((u - windows[:, s + 1]) ** 2)
    return total / steps


def measure(loss_fn, sim):
    params, static = eqx.partition(sim.network, eqx.is_array)

    def update(p):
        return jax.value_and_grad(lambda q: loss_fn(with_network(sim, eqx.combine(q, static))))(p)

    t0 = time.perf_counter()
    compiled = jax.jit(update).lower(params).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    peak = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
    return {"compile_s": round(compile_s, 2), "peak_MiB": round(peak / 2**20, 2),
            "temp_MiB": round(mem.temp_size_in_bytes / 2**20, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--points", type=int, default=160)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    net = make_network("resnet", state_shape=(1, args.points), width=32, depth=6,
                       key=jax.random.key(0))
    sim = Prediction(net, residual=True)
    params = jnp.zeros((args.batch, 0))
    rows = []
    for m in args.steps:
        windows = jax.random.normal(jax.random.key(1), (args.batch, m + 1, 1, args.points))
        scan = measure(lambda s: WIG(m).loss(s, windows, params), sim)
        loop = measure(lambda s: python_loop_loss(s, windows, params, m), sim)
        rows.append({"steps": m, "scan": scan, "python_loop": loop})
        print(f"WIG m={m:3d}  scan+checkpoint: peak {scan['peak_MiB']:8.2f} MiB, "
              f"compile {scan['compile_s']:6.2f} s   |   python loop: peak "
              f"{loop['peak_MiB']:8.2f} MiB, compile {loop['compile_s']:6.2f} s", flush=True)
    if len(rows) >= 2:
        ratio = rows[-1]["scan"]["peak_MiB"] / rows[0]["scan"]["peak_MiB"]
        print(f"peak ratio m={rows[-1]['steps']} / m={rows[0]['steps']}: scan {ratio:.2f}, "
              f"python loop {rows[-1]['python_loop']['peak_MiB'] / rows[0]['python_loop']['peak_MiB']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
