"""`stablesim stabilize` on the two cases of the verified-fixes issue, as a user runs it.

1. A linear system in R^16 whose data live in a 6-dimensional invariant
   subspace (the user's own `.npz`, no solver), the default residual model
   (`linear` architecture), Adam, ONE, two seeds; `linear20` the same in R^20
   with an 8-dimensional subspace whose spectrum lies closer to the unit
   circle (radii 0.9995 to 0.99).
2. Kuramoto-Sivashinsky prediction with the default config (resnet, ONE,
   1500 updates, two seeds).
3. `kdv`: the user's own Korteweg-de Vries data made with Exponax (not a
   built-in system), the default config otherwise.

`--long 100000` also evaluates the run and the kept run over 100,000 steps.

For each: train, evaluate with 10,000-step long rollouts, then `stablesim
stabilize RUN --out RUN-stable` (default horizon 10,000, tolerance 10%), and
evaluate the new run the same way. Only the command line is used. The
tables go to `benchmarks/results/stabilize-<case>.md`.

Run: .venv/bin/python benchmarks/bench_stabilize.py [--out DIR] [--cases linear linear20 ks kdv]
     [--long 100000]
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import yaml

HERE = pathlib.Path(__file__).resolve().parent
STABLESIM = [sys.executable, "-m", "stablesim.cli"]


LINEAR = {  # name: (state dimension, rotation angles, radii: the data's spectrum, 2 per angle,
    #               training updates)
    "linear": (16, (0.3, 0.7, 1.1), (0.999, 0.99, 0.97), 2000),
    "linear20": (20, (0.3, 0.7, 1.1, 1.5), (1.0, 0.9995, 0.999, 0.995), 600),
}


def linear_case(folder: pathlib.Path, name: str = "linear") -> pathlib.Path:
    """Data x' = A x in a subspace of R^n (spectrum on and inside the unit circle)."""
    n, angles, radii, updates = LINEAR[name]
    rank = 2 * len(angles)
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    basis = q[:, :rank]
    block = np.zeros((rank, rank))
    for i, (a, r) in enumerate(zip(angles, radii)):
        block[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = r * np.array(
            [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    a_full = basis @ block @ basis.T
    traj = []
    for _ in range(16):
        x, rows = basis @ rng.normal(size=rank), []
        for _ in range(60):
            rows.append(x)
            x = a_full @ x
        traj.append(rows)
    np.savez(folder / f"{name}.npz", trajectories=np.asarray(traj, np.float32),
             params=np.repeat([[1.0], [2.0]], 8, axis=0))
    cfg = {"system": {"name": None},
           "data": {"file": f"{name}.npz", "train_values": [1.0], "interpolation_values": [2.0]},
           "model": {"architecture": "linear"},
           "modality": {"name": "ONE", "unroll": 1},
           "training": {"updates": updates, "learning_rate": 0.003, "batch_size": 16},
           "evaluation": {"rollout_steps": 40, "horizon": 12, "plots": False,
                          "stability_steps": 10_000}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


KDV_VALUES = {"train": [0.8, 1.0, 1.2, 1.4], "validation": [0.9, 1.3], "interpolation": [1.1],
              "extrapolation": [1.6]}
"""Dispersivities of the KdV case's splits."""


def kdv_case(folder: pathlib.Path) -> pathlib.Path:
    """The user's own KdV data (not a built-in system): Exponax's Korteweg-de Vries stepper
    (ETDRK2, 64 points on [0, 20), hyper-diffusivity 0.01, so the truth slowly decays),
    4 trajectories of 121 frames (0.05 apart) per dispersivity, the parameter."""
    import exponax as ex
    import jax

    def trajectory(key, dispersivity, frames=120, transient=20, n=64, substeps=5):
        stepper = ex.RepeatedStepper(ex.stepper.KortewegDeVries(
            1, 20.0, n, 0.05 / substeps, dispersivity=dispersivity), substeps)
        u0 = ex.ic.RandomTruncatedFourierSeries(1, cutoff=3, max_one=True)(n, key=key)
        return ex.rollout(stepper, frames + transient, include_init=True)(u0)[transient:]

    values = [v for split in KDV_VALUES.values() for v in split]
    keys = jax.random.split(jax.random.key(7), 4 * len(values))
    traj = np.concatenate([np.asarray(jax.vmap(lambda k, v=v: trajectory(k, v))(
        keys[4 * i: 4 * i + 4])) for i, v in enumerate(values)])
    params = np.repeat(np.asarray(values, np.float32)[:, None], 4, axis=0)
    np.savez(folder / "kdv.npz", trajectories=traj.astype(np.float32), params=params,
             parameter_names=np.asarray(["dispersivity"]))
    cfg = {"system": {"name": None},
           "data": {"file": "kdv.npz", "train_values": KDV_VALUES["train"],
                    "validation_values": KDV_VALUES["validation"],
                    "interpolation_values": KDV_VALUES["interpolation"],
                    "extrapolation_values": KDV_VALUES["extrapolation"]},
           "evaluation": {"stability_steps": 10_000, "plots": False}}
    path = folder / "kdv.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def ks_case(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "ks.yaml"
    path.write_text(yaml.safe_dump({"evaluation": {"stability_steps": 10_000, "plots": False}}))
    return path


def sh(*argv, may_fail: bool = False) -> str:
    t0 = time.perf_counter()
    done = subprocess.run([*STABLESIM, *map(str, argv)], capture_output=True, text=True)
    if done.returncode and may_fail:
        print(f"  stablesim {argv[0]}: {done.stderr.strip()}", flush=True)
        return done.stdout
    if done.returncode:
        sys.exit(f"failed: stablesim {' '.join(map(str, argv))}\n{done.stderr}")
    print(f"  stablesim {argv[0]} {argv[1]}: {time.perf_counter() - t0:.0f} s", flush=True)
    return done.stdout


def statistics_table(run: pathlib.Path) -> str:
    """The long rollouts' statistics against the data's (`metrics.json`): mean and worst."""
    from stablesim.evaluation import Metrics

    metrics = Metrics.read(run / "metrics.json")
    rows = ["| test set | rollouts | energy in empty bands (mean / max) | rms ratio (mean / max) "
            "| W1 in data stds (mean / max) |", "| --- | --- | --- | --- | --- |"]
    for test_set, summary in metrics.summary.items():
        p = summary.physics
        if p is None:
            continue
        cells = [f"{s.mean:.3g} / {s.max:.3g}" if s is not None else "-"
                 for s in (p.empty_band_fraction, p.rms_ratio, p.wasserstein)]
        rows.append(f"| {test_set} | {p.rollouts} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/stablesim-bench-stabilize")
    parser.add_argument("--cases", nargs="+", default=["linear", "linear20", "ks"],
                        choices=["linear", "linear20", "ks", "kdv"])
    parser.add_argument("--long", type=int, default=0,
                        help="also evaluate before and after over this many steps (e.g. 100000)")
    args = parser.parse_args()
    root = pathlib.Path(args.out)
    for case in args.cases:
        folder = root / case
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        config = (linear_case(folder, case) if case in LINEAR
                  else kdv_case(folder) if case == "kdv" else ks_case(folder))
        run, new = folder / "run", folder / "run-stable"
        print(f"{case}:", flush=True)
        t0 = time.perf_counter()
        sh("train", config, "--out", run, "--quiet")
        before = sh("evaluate", run, "--quiet")
        t1 = time.perf_counter()
        stab = sh("stabilize", run, "--out", new, "--quiet", may_fail=True)  # may keep nothing
        t2 = time.perf_counter()
        after = sh("evaluate", new, "--quiet") if new.exists() else "nothing was kept\n"
        long_text = ""
        if args.long:
            for label, which in (("before", run), ("the kept run", new)):
                if not which.exists():
                    continue
                out_long = sh("evaluate", which, "--set",
                              f"evaluation.stability_steps={args.long}", "--quiet")
                lines = out_long.splitlines()
                start = next(i for i, line in enumerate(lines) if line.startswith("long rollouts"))
                end = next((i for i in range(start + 1, len(lines))
                            if not lines[i].startswith("  ")), len(lines))
                block = "\n".join(lines[start:end])
                long_text += (f"\n## {args.long}-step rollouts, {label}\n\n```\n{block}\n```\n"
                              f"\n{statistics_table(which)}\n")
        table = "\n".join(line for line in stab.splitlines() if line.startswith("|"))
        summary = next(line for line in stab.splitlines() if line.startswith("As trained"))
        text = (f"# stabilize: {case}\n\nCommand: `.venv/bin/python benchmarks/bench_stabilize.py "
                f"--cases {case}` (train {t1 - t0:.0f} s, stabilize {t2 - t1:.0f} s on this "
                f"machine).\n\n{summary}\n\n{table}\n\n## evaluate, before\n\n```\n{before}```\n\n"
                f"## evaluate, the kept run\n\n```\n{after}```\n{long_text}")
        out = HERE / "results" / f"stabilize-{case}.md"
        out.write_text(text)
        print(summary)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
