"""A user's JAX solver in the training loop, from the command line's config (issue 28).

Correction on built-in data (KS, or `--problem kolmogorov`: 2D vorticity, 32^2),
conv 16x3, batch 16, 2 seeds, m = 4, in one run:

- NOG and WIG on the built-in coarse solver (Exponax ETD1), and on the same
  solver written by the user (`examples/jax_solver/ks_solvers.py:exponax_coarse`,
  `solver_kind: jax`): target within 1.2x;
- NOG on a user's IMEX solver written in NumPy (batched host callback) and the
  same scheme in jax.numpy (`solver_kind: jax`): target >= 2x
  (`examples/jax_solver/ks_solvers.py`, `kolmogorov_solvers.py`).

Median updates/s over the timed chunks after compilation, per run; the cases
run interleaved in `--rounds` rounds and each reports the median of its rounds.

Run: .venv/bin/python benchmarks/bench_jax_solver.py [--problem ks|kolmogorov] [--updates 300]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile

from stablesim.config import load_run_config
from stablesim.runs import make_dataset, train_run

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "jax_solver"
JAX, NUMPY = [], ["simulator.solver_kind=numpy", "simulator.solver_batched=true"]
PROBLEMS = {  # (solver file, system overrides, cases: label, modality, function, overrides)
    "ks": ("ks_solvers.py", ["system.name=ks", "data.trajectories_per_value=4"], [
        ("built-in coarse, NOG", "NOG", None, []),
        ("built-in coarse, WIG", "WIG", None, []),
        ("user Exponax (jax), NOG", "NOG", "exponax_coarse", JAX),
        ("user Exponax (jax), WIG", "WIG", "exponax_coarse", JAX),
        ("user IMEX numpy batched, NOG", "NOG", "imex_numpy", NUMPY),
        ("user IMEX jax, NOG", "NOG", "imex_jax", JAX),
        ("no solver (prediction), NOG", "NOG", None, ["simulator.setup=prediction"])]),
    "kolmogorov": ("kolmogorov_solvers.py",
                   ["system.name=kolmogorov", "data.trajectories_per_value=2"], [
        ("built-in coarse, NOG", "NOG", None, []),
        ("user IMEX numpy batched, NOG", "NOG", "imex_numpy", NUMPY),
        ("user IMEX jax, NOG", "NOG", "imex_jax", JAX),
        ("user IMEX jax, WIG", "WIG", "imex_jax", JAX)]),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="ks")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of all cases")
    parser.add_argument("--num-points", type=int, default=None,
                        help="grid points per side (default: the system's)")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--only", nargs="+", default=None,
                        help="run only the cases whose label starts with one of these")
    parser.add_argument("--no-solver-alone", action="store_true")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp())
    file, system, cases = PROBLEMS[args.problem]
    if args.only:
        cases = [case for case in cases if case[0].startswith(tuple(args.only))]
    points = [] if args.num_points is None else [f"system.num_points={args.num_points}"]
    common = [*system, *points, "simulator.setup=correction", "model.architecture=conv",
              f"model.width={args.width}", f"model.depth={args.depth}", "modality.unroll=4",
              "training.seeds=[0,1]", f"training.batch_size={args.batch}", f"training.updates={args.updates}",
              f"training.log_every={args.chunk}", f"training.checkpoint_every={args.updates}",
              "data.frames=40", "evaluation.rollout_steps=20", "evaluation.horizon=10"]
    dataset = make_dataset(load_run_config(None, common))
    rates: dict[str, list[float]] = {label: [] for label, *_ in cases}
    for round_ in range(args.rounds):  # interleaved: a slow spell of the machine hits every case
        for label, modality, fn, extra in cases:
            overrides = [*common, f"modality.name={modality}", *extra]
            if fn is not None:
                overrides.append(f"simulator.solver_function={EXAMPLES / file}:{fn}")
            config = load_run_config(None, overrides)
            name = f"{label}_{round_}".replace(" ", "_").replace(",", "").replace("(", "")
            result = train_run(config, work / name.replace(")", ""), dataset=dataset,
                               progress=False)
            rows = result.history[len(config.training.seeds):]  # the first chunk compiles
            rates[label].append(statistics.median(r["updates_per_s"] for r in rows))
    results = {label: statistics.median(values) for label, values in rates.items()}
    for label, value in results.items():
        spread = ", ".join(f"{v:.0f}" for v in rates[label])
        print(f"{label:30s} {value:8.1f} updates/s (median of {args.rounds} rounds: {spread})",
              flush=True)
    for modality in ("NOG", "WIG"):
        if f"user Exponax (jax), {modality}" in results:
            ratio = (results[f"built-in coarse, {modality}"]
                     / results[f"user Exponax (jax), {modality}"])
            print(f"{modality}: built-in / user's same solver: {ratio:.2f}x (target <= 1.2x)")
    if {"user IMEX jax, NOG", "user IMEX numpy batched, NOG"} <= results.keys():
        ratio = results["user IMEX jax, NOG"] / results["user IMEX numpy batched, NOG"]
        print(f"NOG: jax / batched numpy callback: {ratio:.2f}x (target >= 2x)", flush=True)
    # a free solver: the most any solver can reach
    if {"no solver (prediction), NOG", "user IMEX numpy batched, NOG"} <= results.keys():
        bound = results["no solver (prediction), NOG"] / results["user IMEX numpy batched, NOG"]
        print(f"NOG: no solver at all / batched numpy callback: {bound:.2f}x (the ceiling)",
              flush=True)
    if not args.no_solver_alone:
        solver_alone(EXAMPLES / file, dataset)


def solver_alone(file: pathlib.Path, dataset, batch: int = 32, steps: int = 8) -> None:
    """The solvers without the network: `steps` steps of `batch` states in one compiled
    rollout, JAX in the graph against the batched host callback (median of 5)."""
    import time

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from stablesim.evaluation import rollout_batch
    from stablesim.simulators import SolverAlone, external_solver, jax_solver, load_solver_function

    states = jnp.asarray(dataset.trajectories[:batch, 0])
    params = jnp.asarray(dataset.params[:batch])
    simulators = {
        "jax": SolverAlone(jax_solver(load_solver_function(f"{file}:imex_jax"))),
        "numpy batched": SolverAlone(external_solver(
            load_solver_function(f"{file}:imex_numpy"), vectorized=True)),
    }
    seconds = {}
    run = eqx.filter_jit(lambda sim, u, p: rollout_batch(sim, u, p, steps))
    for name, sim in simulators.items():
        jax.block_until_ready(run(sim, states, params))  # compile
        times = []
        for _ in range(5):
            start = time.perf_counter()
            jax.block_until_ready(run(sim, states, params))
            times.append(time.perf_counter() - start)
        seconds[name] = statistics.median(times)
        print(f"solver alone, {name:14s} {seconds[name] * 1e3 / steps:8.3f} ms per step of "
              f"{states.shape[0]} states", flush=True)
    print(f"solver alone: jax / batched numpy callback: "
          f"{seconds['numpy batched'] / seconds['jax']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
