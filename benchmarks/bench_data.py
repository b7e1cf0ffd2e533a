"""Training on files larger than memory: peak memory, updates/s, time to the first update.

Writes a dataset in The Well's layout (64x64 grid, 4 channels: `tracer`,
`pressure`, `velocity` x/y; uncompressed, as The Well ships) of the asked
size, then trains on it in a fresh process per mode:

- `stream`: `data.stream: on`, windows read from the file a piece ahead;
- `memory`: `data.stream: off`, everything read into memory first.

Same network (conv, width 16, depth 2), batch 16, NOG with 2 unrolled steps,
one seed, normalization on. Reported per mode: the time to open the data and
prepare (fingerprint, normalization statistics) before the first update, the
first chunk (compilation included), the median updates/s of the later chunks,
and the process's peak resident memory (`getrusage`).

Run: .venv/bin/python benchmarks/bench_data.py --gib 1 [--modes stream memory]
     [--updates 200] [--folder /tmp/bench-data] [--out benchmarks/results/data-1gib.md]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

GRID = 64
FRAMES = 64
FRAME_BYTES = 4 * GRID * GRID * 4


def write_file(path: pathlib.Path, gib: float) -> None:
    """A file of The Well's layout holding about `gib` GiB, written a trajectory at a time."""
    trajectories = max(4, int(gib * 2**30 / (FRAMES * FRAME_BYTES)))
    if path.exists() and path.stat().st_size >= 0.95 * trajectories * FRAMES * FRAME_BYTES:
        return
    rng = np.random.default_rng(0)
    x = np.linspace(0, 2 * np.pi, GRID, endpoint=False)
    with h5py.File(path, "w") as f:
        f.attrs["simulation_parameters"] = ["Reynolds"]
        f.attrs["Reynolds"] = 1e4
        f.attrs["n_trajectories"] = trajectories
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"] = np.arange(FRAMES, dtype=np.float32)
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["tracer", "pressure"]
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        tracer = t0.create_dataset("tracer", (trajectories, FRAMES, GRID, GRID), "f4")
        pressure = t0.create_dataset("pressure", (trajectories, FRAMES, GRID, GRID), "f4")
        velocity = t1.create_dataset("velocity", (trajectories, FRAMES, GRID, GRID, 2), "f4")
        for b in range(trajectories):
            phase = rng.uniform(0, 2 * np.pi, 2)
            t = np.arange(FRAMES)[:, None, None] * 0.05
            wave = np.sin(x[None, :, None] + phase[0] + t) * np.cos(x[None, None, :] + phase[1])
            tracer[b] = (3 + wave).astype(np.float32)
            pressure[b] = (1e5 + 1e3 * wave).astype(np.float32)
            velocity[b] = np.stack([wave, -wave], axis=-1).astype(np.float32) * 50
            if b % 64 == 0:
                print(f"  writing {path.name}: {b}/{trajectories} trajectories", flush=True)


def child(mode: str, path: str, updates: int) -> dict:
    """One training run in this process; the figures as a dict."""
    start = time.perf_counter()
    from stablesim.config import RunConfig
    from stablesim.runs import make_dataset, run_normalization, simulator_factory, split_dataset
    from stablesim.training import train

    config = RunConfig.model_validate({
        "system": {"name": None},
        "data": {"file": path, "stream": "on" if mode == "stream" else "off",
                 "test_trajectories": 2, "normalize": "on"},
        "model": {"architecture": "conv", "width": 16, "depth": 2},
        "modality": {"name": "NOG", "unroll": 2},
        "training": {"updates": updates, "seeds": [0], "batch_size": 16, "log_every": 20,
                     "checkpoint_every": 20},
    })
    imported = time.perf_counter()
    data = make_dataset(config)
    parts = split_dataset(config, data)
    opened = time.perf_counter()
    fingerprint = data.fingerprint()
    norm = run_normalization(config, parts["train"])
    prepared = time.perf_counter()
    make = simulator_factory(config, None, data, norm)
    result = train(make, parts["train"], config.training, config.modality, progress=False)
    rates = [float(r["updates_per_s"]) for r in result.history]
    first_chunk = 20 / rates[0]
    return {
        "mode": mode, "lazy": data.lazy, "gib": data.trajectories.nbytes / 2**30,
        "import_s": imported - start, "open_s": opened - imported,
        "prepare_s": prepared - opened, "fingerprint": fingerprint,
        "first_chunk_s": first_chunk,
        "to_first_update_s": prepared - start + first_chunk,
        "updates_per_s": statistics.median(rates[1:]) if len(rates) > 1 else rates[0],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "normalization": norm.source if norm else None,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--modes", nargs="+", default=["stream", "memory"])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--folder", default="/tmp/stablesim-bench-data")
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child[0], args.child[1], args.updates)))
        return
    folder = pathlib.Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"well-{args.gib:g}gib.hdf5"
    t0 = time.perf_counter()
    write_file(path, args.gib)
    print(f"data: {path} ({path.stat().st_size / 2**30:.2f} GiB on disk, "
          f"written in {time.perf_counter() - t0:.0f} s)")
    rows = []
    for mode in args.modes:
        proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path),
                               "--updates", str(args.updates)], capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{mode}: failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
            continue
        rows.append(json.loads(line[len("RESULT "):]))
        print(rows[-1], flush=True)
    lines = [f"# Training on a {args.gib:g} GiB file (The Well's layout, 64x64, 4 channels)", "",
             f"`python benchmarks/bench_data.py --gib {args.gib:g} --updates {args.updates}`; "
             f"conv width 16 depth 2, batch 16, NOG m=2, one seed; 2 CPU cores.", "",
             "| mode | read lazily | open (s) | prepare (s) | first chunk of 20 (s) | "
             "to first update (s) | updates/s (median) | peak RSS (GiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['lazy']} | {r['open_s']:.1f} | {r['prepare_s']:.1f} | "
                     f"{r['first_chunk_s']:.1f} | {r['to_first_update_s']:.1f} | "
                     f"{r['updates_per_s']:.2f} | {r['peak_rss_gib']:.2f} |")
    by_mode = {r["mode"]: r for r in rows}
    if {"stream", "memory"} <= set(by_mode):
        ratio = by_mode["stream"]["updates_per_s"] / by_mode["memory"]["updates_per_s"]
        lines += ["", f"streaming / in memory, updates/s: {ratio:.2f}x (same run, same machine)"]
    if rows:
        lines += ["", f"normalization: {rows[0]['normalization']}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
