"""Where the physical verdict's default tolerances come from: the truth must pass.

For each built-in system, fresh trajectories of the true dynamics (300 frames)
are judged like a long rollout: frames 150-300 against the statistics of the
training data's first 60 frames (what a run sees) and the reference's largest
rms over its first 60 frames. Every one must be "stable"; the defaults
(`stablesim.evaluation.PhysicalTolerances`) sit above the largest value each
statistic reaches here.

Run: .venv/bin/python benchmarks/bench_physics_tolerances.py [--out FILE.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

import numpy as np

from stablesim.config import RunConfig
from stablesim.evaluation import PhysicalTolerances, physical_verdict
from stablesim.runs import make_dataset, split_dataset
from stablesim.runs._long_physics import data_statistics


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    rows = []
    for name in ("ks", "burgers", "kolmogorov"):
        config = RunConfig.model_validate({"system": {"name": name},
                                           "data": {"trajectories_per_value": 2, "frames": 300}})
        parts = split_dataset(config, make_dataset(config))
        train = parts["train"]
        first = dataclasses.replace(train, trajectories=np.asarray(train.trajectories)[:, :60])
        statistics = data_statistics(first)
        for test_set in ("interpolation", "extrapolation"):
            traj = np.asarray(parts[test_set].trajectories, np.float64)
            space = tuple(range(2, traj.ndim))
            for b in range(traj.shape[0]):
                rms = np.sqrt((traj[b, :60] ** 2).mean(axis=tuple(s - 1 for s in space))).max()
                p = physical_verdict(None, traj[b, 150:300:15], float(rms), statistics)
                rows.append((name, test_set, b, p))
                print(name, test_set, b, p.verdict, flush=True)
    t = PhysicalTolerances()
    lines = ["# The truth judged as a long rollout (defaults' calibration)", "",
             "`python benchmarks/bench_physics_tolerances.py`", "",
             "| system | set | trajectory | verdict | empty-band fraction | rms ratio | W1 (stds) |",
             "|---|---|---|---|---|---|---|"]
    for name, test_set, b, p in rows:
        lines.append(f"| {name} | {test_set} | {b} | {p.verdict} | {p.empty_band_fraction:.2e} | "
                     f"{p.rms_ratio:.3f} | {p.wasserstein:.3f} |")
    worst = {k: max(getattr(p, k) for *_, p in rows)
             for k in ("empty_band_fraction", "rms_ratio", "wasserstein")}
    lines += ["", f"largest over all: empty-band fraction {worst['empty_band_fraction']:.2e} "
              f"(tolerance {t.empty_band_fraction}), rms ratio {worst['rms_ratio']:.3f} "
              f"(tolerance {t.rms_ratio}), W1 {worst['wasserstein']:.3f} (tolerance "
              f"{t.wasserstein}); {sum(p.verdict == 'stable' for *_, p in rows)} of {len(rows)} "
              "judged stable"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
