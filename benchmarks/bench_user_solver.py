"""Correction training on a user's NumPy solver: one host call per state or per batch.

The example's Burgers data and upwind solver (examples/own_solver), a NOG
(m = 4) correction with a conv network (16 channels, 3 layers), batch 16,
2 seeds; the same run with `simulator.solver_batched` false (`step`, one call
per state) and true (`step_batch`, one call per batch), and the prediction
setup (no solver) for reference. Median updates/s over timed chunks after
compilation, measured in one run.

Run: .venv/bin/python benchmarks/bench_user_solver.py [--updates 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import tempfile

from stablesim.config import load_run_config
from stablesim.runs import train_run

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "own_solver"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp())
    spec = importlib.util.spec_from_file_location("make_data", EXAMPLE / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    make_data.main(["--out", str(work), "--per-value", "2", "--frames", "60"])
    cases = [("prediction (no solver)", "prediction", "step_batch", True),
             ("correction, per state", "correction", "step", False),
             ("correction, batched", "correction", "step_batch", True)]
    results = {}
    for label, setup, fn, batched in cases:
        overrides = [f"data.file={work / 'burgers.h5'}", f"simulator.setup={setup}",
                     f"simulator.solver_function={EXAMPLE / 'mysolver.py'}:{fn}",
                     f"simulator.solver_batched={str(batched).lower()}",
                     f"training.updates={args.updates}", f"training.log_every={args.chunk}",
                     f"training.checkpoint_every={args.updates}", "training.batch_size=16"]
        config = load_run_config(EXAMPLE / "correction.yaml", overrides)
        result = train_run(config, work / label.replace(" ", "_").replace(",", ""),
                           progress=False)
        rates = [r["updates_per_s"] for r in result.history[len(config.training.seeds):]]
        results[label] = statistics.median(rates)
        print(f"{label:24s} {results[label]:7.1f} updates/s (median of {len(rates)} chunk-seed "
              "rows)", flush=True)
    ratio = results["correction, batched"] / results["correction, per state"]
    print(f"batched / per state: {ratio:.1f}x", flush=True)


if __name__ == "__main__":
    main()
