"""A user's JAX solver in the training loop, from the command line's config (issue 28).

KS correction (built-in data), conv 16x3, batch 16, 2 seeds, m = 4, in one run:

- NOG and WIG on the built-in coarse solver (Exponax ETD1), and on the same
  solver written by the user (`examples/jax_solver/ks_solvers.py:exponax_coarse`,
  `solver_kind: jax`): target within 1.2x;
- NOG on a user's IMEX solver written in NumPy (batched host callback) and the
  same scheme in jax.numpy (`solver_kind: jax`): target >= 2x.

Median updates/s over the timed chunks after compilation.

Run: .venv/bin/python benchmarks/bench_jax_solver.py [--updates 300]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile

from stablesim.config import load_run_config
from stablesim.runs import make_dataset, train_run

SOLVERS = pathlib.Path(__file__).resolve().parents[1] / "examples" / "jax_solver" / "ks_solvers.py"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--num-points", type=int, default=48, help="KS grid points")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp())
    user = {"jax": [], "numpy": ["simulator.solver_kind=numpy", "simulator.solver_batched=true"]}
    cases = [("built-in coarse, NOG", "NOG", None, []),
             ("built-in coarse, WIG", "WIG", None, []),
             ("user Exponax (jax), NOG", "NOG", "exponax_coarse", user["jax"]),
             ("user Exponax (jax), WIG", "WIG", "exponax_coarse", user["jax"]),
             ("user IMEX numpy batched, NOG", "NOG", "imex_numpy", user["numpy"]),
             ("user IMEX jax, NOG", "NOG", "imex_jax", user["jax"])]
    common = ["system.name=ks", f"system.num_points={args.num_points}",
              "simulator.setup=correction", "model.architecture=conv", "model.width=16",
              "model.depth=3", "modality.unroll=4", "training.seeds=[0,1]",
              "training.batch_size=16", f"training.updates={args.updates}",
              f"training.log_every={args.chunk}", f"training.checkpoint_every={args.updates}",
              "data.trajectories_per_value=4", "data.frames=40", "evaluation.rollout_steps=20",
              "evaluation.horizon=10"]
    dataset = make_dataset(load_run_config(None, common))
    results = {}
    for label, modality, fn, extra in cases:
        overrides = [*common, f"modality.name={modality}", *extra]
        if fn is not None:
            overrides.append(f"simulator.solver_function={SOLVERS}:{fn}")
        config = load_run_config(None, overrides)
        name = label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        result = train_run(config, work / name, dataset=dataset, progress=False)
        rates = [r["updates_per_s"] for r in result.history[len(config.training.seeds):]]
        results[label] = statistics.median(rates)
        print(f"{label:30s} {results[label]:8.1f} updates/s (median of {len(rates)} chunk-seed "
              "rows)", flush=True)
    for modality in ("NOG", "WIG"):
        ratio = results[f"built-in coarse, {modality}"] / results[f"user Exponax (jax), {modality}"]
        print(f"{modality}: built-in / user's same solver: {ratio:.2f}x (target <= 1.2x)")
    ratio = results["user IMEX jax, NOG"] / results["user IMEX numpy batched, NOG"]
    print(f"NOG: jax / batched numpy callback: {ratio:.1f}x (target >= 2x)", flush=True)


if __name__ == "__main__":
    main()
