"""stablesim against APEBench 0.1.1, interleaved in one run (`make bench-peers`).

APEBench pins an older Exponax, so it lives in its own environment
(`.venv-apebench`, made by `make bench-peers` from `requirements-apebench.txt`).
For each case (dimensions, points, batch) the APEBench worker first generates
APEBench's KS training data and saves it; then, for each modality (ONE, NOG-m,
WIG-m) and round, it times APEBench's scenario call and stablesim's trainer on
those same trajectories, each in a fresh process, alternating, so that load
on this shared machine hits both alike. Same network (PDEquinox's ConvNet:
width 34, 10 hidden layers, kernel 3, relu, float32), Adam at 1e-4, one seed.

Reported per tool: steady updates/s (median over chunks after compilation,
then median over rounds), compile time, data time, the whole call's wall
time, achieved GFLOP/s (analytic convolution FLOPs x3 for the backward pass)
and its fraction of a float32 matrix product measured in the same run. The
"GEMMs alone" ceiling times only the matrix products one update of the im2col
network needs (forward, input and weight gradients, at their own shapes), with
nothing else: no implementation of the same network that multiplies through
XLA can train faster than that on this machine.
Results: a JSON file and a markdown table (`--out`, default
benchmarks/results/peers-<backend>.{json,md}).

Run: .venv/bin/python benchmarks/peers/bench_peers.py --apebench-python .venv-apebench/bin/python
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
MODALITIES = ("ONE", "NOG", "WIG")


@dataclasses.dataclass(frozen=True)
class Case:
    dims: int
    points: int
    batch: int
    updates: int

    @property
    def label(self) -> str:
        grid = "x".join([str(self.points)] * self.dims)
        return f"{self.dims}D {grid}, batch {self.batch}"


def default_cases(backend: str) -> list[Case]:
    """1D batch 20 and 200 everywhere; 2D 160x160 only where an accelerator makes it short."""
    cases = [Case(1, 160, 20, 300), Case(1, 160, 200, 60)]
    if backend != "cpu":
        cases += [Case(2, 160, 20, 200), Case(2, 160, 200, 60)]
    return cases


def conv_flops_per_update(case: Case, modality: str, unroll: int, width: int, depth: int) -> float:
    """Analytic FLOPs of one update: forward convolutions x3 (forward, two backward products)."""
    taps = 3 ** case.dims
    channels = [1] + [width] * depth + [1]
    per_point = sum(2 * cin * cout * taps for cin, cout in zip(channels[:-1], channels[1:]))
    steps = 1 if modality == "ONE" else unroll
    return 3.0 * per_point * case.points ** case.dims * case.batch * steps


def layer_gemm_shapes(case: Case, width: int, depth: int) -> list[tuple[int, int, int]]:
    """The (M, K, N) products of one ONE update of the im2col network, forward and backward.

    Per layer with `taps` kernel offsets: the forward product (points, taps*C_in) x
    (taps*C_in, C_out), the input gradient (points, C_out) x (C_out, taps*C_in) (not for
    the first layer, whose input needs none) and the weight gradient
    (taps*C_in, points) x (points, C_out); points = batch x grid.
    """
    taps = 3 ** case.dims
    points = case.batch * case.points ** case.dims
    channels = [1] + [width] * depth + [1]
    shapes = []
    for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        shapes.append((points, taps * cin, cout))
        if i:
            shapes.append((points, cout, taps * cin))
        shapes.append((taps * cin, points, cout))
    return shapes


def gemm_ceiling_updates_per_s(case: Case, modality: str, unroll: int, width: int, depth: int,
                               calls: int = 20) -> float:
    """Updates/s if an update did nothing but its matrix products, at XLA's own speed for them.

    Times every product of `layer_gemm_shapes` once per call, in one jitted function (no
    im2col gathers, activations, bias, optimizer or loop), median over `calls`; an update of
    NOG-m or WIG-m does m times ONE's products. An upper bound for any implementation of
    the same network that multiplies as XLA does.
    """
    import jax
    import jax.numpy as jnp

    shapes = layer_gemm_shapes(case, width, depth)
    keys = jax.random.split(jax.random.key(1), 2 * len(shapes))
    operands = [(jax.random.normal(keys[2 * i], (m, k), jnp.float32),
                 jax.random.normal(keys[2 * i + 1], (k, n), jnp.float32))
                for i, (m, k, n) in enumerate(shapes)]
    seconds = _median_call_seconds(jax.jit(lambda ops: sum(jnp.sum(a @ b) for a, b in ops)),
                                   operands, calls)
    steps = 1 if modality == "ONE" else unroll
    return 1.0 / (steps * seconds)


def _median_call_seconds(f, argument, calls: int) -> float:
    """Median wall time of `f(argument)` over `calls` calls, after one call that compiles."""
    f(argument).block_until_ready()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f(argument).block_until_ready()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_gflops(size: int = 2048, calls: int = 10) -> float:
    """Median float32 matrix-product rate of this machine's JAX backend."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    return 2 * size**3 / _median_call_seconds(jax.jit(lambda x: x @ x), a, calls) / 1e9


def run_worker(command: list[str], log, source: str | None = None) -> dict:
    """Run one timing process (stablesim from `source`/src if given); its last line is JSON."""
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # compile times are cold ones
    if source:
        env["PYTHONPATH"] = str(pathlib.Path(source).resolve() / "src")
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise SystemExit(f"bench-peers: worker failed: {' '.join(command[1:3])}: {tail}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if source:
        result["tool"] = "before " + result["tool"]
    log(f"  {result['tool']:22s} {result['modality']}: {result['updates_per_s']:8.2f} upd/s, "
        f"compile {result['compile_s']:.1f} s, wall {result['wall_s']:.1f} s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apebench-python", required=True,
                        help="python of the environment with apebench==0.1.1")
    parser.add_argument("--archs", nargs="+", default=["conv", "pdeqx_conv"])
    parser.add_argument("--modalities", nargs="+", choices=MODALITIES, default=list(MODALITIES))
    parser.add_argument("--unroll", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dims", type=int, nargs="+", default=None,
                        help="only these dimensions of the default cases")
    parser.add_argument("--batches", type=int, nargs="+", default=None,
                        help="only these batch sizes of the default cases")
    parser.add_argument("--updates-scale", type=float, default=1.0,
                        help="multiply every case's number of updates")
    parser.add_argument("--before", default=None, metavar="TREE",
                        help="also time another stablesim source tree (e.g. a git worktree "
                             "of an older commit), as 'before ARCH'")
    parser.add_argument("--out", default=None, help="path stem for .json and .md")
    args = parser.parse_args(argv)

    import jax

    backend = jax.default_backend()
    cases = [c for c in default_cases(backend)
             if (args.dims is None or c.dims in args.dims)
             and (args.batches is None or c.batch in args.batches)]
    cases = [dataclasses.replace(c, updates=max(20, int(c.updates * args.updates_scale)))
             for c in cases]
    if not cases:
        raise SystemExit("bench-peers: no case left after --dims/--batches")
    out = pathlib.Path(args.out) if args.out else HERE.parent / "results" / f"peers-{backend}"
    out.parent.mkdir(parents=True, exist_ok=True)

    def log(line):
        print(line, flush=True)

    matmul = matmul_gflops()
    log(f"float32 matrix product on {backend}: {matmul:.1f} GFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            data = pathlib.Path(tmp) / f"ks_{case.dims}d.npy"
            log(f"{case.label}, {case.updates} updates")
            for modality in args.modalities:
                runs: dict[str, list[dict]] = {}
                ceilings: list[float] = []
                for _ in range(args.rounds):
                    common = ["--batch", str(case.batch), "--modality", modality,
                              "--unroll", str(args.unroll), "--updates", str(case.updates)]
                    ape = [args.apebench_python, str(HERE / "apebench_worker.py"),
                           "--dims", str(case.dims), "--points", str(case.points), *common]
                    if not data.exists():
                        ape += ["--save-data", str(data)]
                    runs.setdefault("apebench", []).append(run_worker(ape, log))
                    ceilings.append(gemm_ceiling_updates_per_s(case, modality, args.unroll,
                                                               width=34, depth=10))
                    for arch in args.archs:
                        ours = [sys.executable, str(HERE / "stablesim_worker.py"),
                                "--data", str(data), "--arch", arch, *common]
                        if args.before:
                            runs.setdefault(f"before {arch}", []).append(
                                run_worker(ours, log, source=args.before))
                        runs.setdefault(arch, []).append(run_worker(ours, log))
                log(f"  GEMMs alone (ceiling): {statistics.median(ceilings):8.2f} upd/s")
                rows.append(_summarise(case, modality, args.unroll, runs, matmul,
                                       statistics.median(ceilings)))
    report = {"backend": backend, "machine": platform.platform(), "before": args.before,
              "matmul_gflops": round(matmul, 1), "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    tools = [f"{prefix}{a}" for a in args.archs for prefix in
             (("before ", "") if args.before else ("",))]
    out.with_suffix(".md").write_text(markdown(report, tools))
    log(markdown(report, tools))
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


def _summarise(case: Case, modality: str, unroll: int, runs: dict, matmul: float,
               ceiling: float | None = None) -> dict:
    flops = conv_flops_per_update(case, modality, unroll, width=34, depth=10)
    tools = {}
    for tool, results in runs.items():
        rate = statistics.median(r["updates_per_s"] for r in results)
        tools[tool] = {
            "updates_per_s": round(rate, 2),
            "compile_s": round(statistics.median(r["compile_s"] for r in results), 2),
            "data_s": round(statistics.median(r["data_s"] for r in results), 2),
            "wall_s": round(statistics.median(r["wall_s"] for r in results), 1),
            "gflops": round(flops * rate / 1e9, 2),
            "fraction_of_matmul": round(flops * rate / 1e9 / matmul, 3),
            "rounds": results,
        }
    ape = tools["apebench"]["updates_per_s"]
    for t in tools.values():
        t["vs_apebench"] = round(t["updates_per_s"] / ape, 2)
    name = modality if modality == "ONE" else f"{modality}-{unroll}"
    row = {"case": case.label, "modality": name, "updates": case.updates, "tools": tools}
    if ceiling is not None:
        row["gemm_ceiling"] = {"updates_per_s": round(ceiling, 2),
                               "vs_apebench": round(ceiling / ape, 2)}
    return row


def markdown(report: dict, archs: list[str]) -> str:
    """The report as a markdown table: one row per case and modality."""
    head = ["case", "modality", "APEBench upd/s"]
    for arch in archs:
        head += [f"`{arch}` upd/s", f"`{arch}` / AB"]
    head += ["data s (AB / " + " / ".join(archs) + ")",
             "compile s (AB / " + " / ".join(archs) + ")", "GFLOP/s (AB / "
             + " / ".join(archs) + ")", "% of matmul (best)", "GEMMs alone upd/s (/ AB)"]
    lines = [f"Backend {report['backend']}; float32 matrix product "
             f"{report['matmul_gflops']} GFLOP/s.", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in report["rows"]:
        t = row["tools"]
        cells = [row["case"], row["modality"], f"{t['apebench']['updates_per_s']:.1f}"]
        for arch in archs:
            cells += [f"{t[arch]['updates_per_s']:.1f}", f"{t[arch]['vs_apebench']:.2f}"]
        order = ["apebench", *archs]
        cells.append(" / ".join(f"{t[k]['data_s']:.1f}" for k in order))
        cells.append(" / ".join(f"{t[k]['compile_s']:.1f}" for k in order))
        cells.append(" / ".join(f"{t[k]['gflops']:.1f}" for k in order))
        cells.append(f"{100 * max(t[k]['fraction_of_matmul'] for k in order):.0f}%")
        ceiling = row.get("gemm_ceiling")
        cells.append(f"{ceiling['updates_per_s']:.1f} ({ceiling['vs_apebench']:.2f})"
                     if ceiling else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
