"""The command line: thin, over the library.

Every user mistake ends in one line on stderr naming the problem and exit
status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from ._errors import StablesimError

SYSTEM_CHOICES = ("ks", "burgers", "kolmogorov")


def _cmd_run(args) -> None:
    from .studies import run_default_study

    run_default_study(args.out, updates=args.updates, unroll=args.unroll,
                      seeds=tuple(args.seeds), progress=not args.quiet)
    print(f"report: {args.out}/report.md, long-format results: {args.out}/results.csv")


def _cmd_data_generate(args) -> None:
    from .data import generate_dataset, save_hdf5
    from .systems import SYSTEMS

    system = SYSTEMS[args.system]()
    values = args.values or list(system.train_values)
    data = generate_dataset(system, values, trajectories_per_value=args.per_value,
                            frames=args.frames, warmup=args.warmup, seed=args.seed)
    path = save_hdf5(data, args.out)
    print(f"wrote {path}\n{data.summary()}")


def _cmd_data_info(args) -> None:
    from .data import load_dataset

    print(load_dataset(args.file).summary())


def _cmd_ode_check(args) -> None:
    from .ode._check import format_check_table, run_ode_check, write_check

    rows, curves = run_ode_check(tuple(args.method), steps=args.steps, t1=args.t1,
                                 order=args.order)
    print(format_check_table(rows, args.steps))
    if args.out:
        paths = write_check(args.out, rows, curves)
        print("wrote " + ", ".join(str(p) for p in paths))


def _cmd_ode_example(args) -> None:
    from .studies import run_ode_zigzag_study

    rows = run_ode_zigzag_study(args.out, layers=tuple(args.layers), updates=args.updates,
                                method=args.method, optimizer=args.optimizer,
                                learning_rate=args.learning_rate, progress=not args.quiet)
    print(f"{'layers':>6} {'gradients':12} {'loss':>10} {'transferred':>12} {'zigzag':>7}")
    for row in rows:
        print(f"{row['layers']:6d} {row['gradients']:12} {row['loss']:10.3e} "
              f"{row['transferred_loss']:12.3e} {row['param_oscillation']:7.3f}")
    print(f"report: {args.out}/report.md")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stablesim",
        description="Train neural simulators whose long rollouts stay accurate and stable.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="the main job on its built-in default (KS: ONE/NOG/WIG x "
                                     "prediction/correction)")
    run.add_argument("--out", default="stablesim-run", help="output directory")
    run.add_argument("--updates", type=int, default=1500, help="updates per run")
    run.add_argument("--unroll", type=int, default=4, help="unroll length m of NOG and WIG")
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds (vmapped)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=_cmd_run)

    data = sub.add_parser("data", help="generate or inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    gen = data_sub.add_parser("generate", help="simulate a built-in system into an HDF5 file")
    gen.add_argument("system", choices=SYSTEM_CHOICES)
    gen.add_argument("--out", required=True, help="target .h5 file")
    gen.add_argument("--values", type=float, nargs="+", help="parameter values (default: the "
                                                             "system's training values)")
    gen.add_argument("--per-value", type=int, default=2, help="trajectories per value")
    gen.add_argument("--frames", type=int, default=100)
    gen.add_argument("--warmup", type=int, default=100, help="transient frames discarded")
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(func=_cmd_data_generate)
    info = data_sub.add_parser("info", help="summarise a dataset file (.h5 or .npz)")
    info.add_argument("file")
    info.set_defaults(func=_cmd_data_info)

    from .ode import INTEGRATORS

    ode = sub.add_parser("ode", help="neural ODE integrators and their per-layer gradients")
    ode_sub = ode.add_subparsers(dest="ode_command", required=True, metavar="ACTION")
    check = ode_sub.add_parser(
        "check", help="plain vs corrected per-layer gradients against the continuous adjoint")
    check.add_argument("--method", nargs="+", default=list(INTEGRATORS), choices=INTEGRATORS,
                       help="integrators to check (default: all)")
    check.add_argument("--steps", type=int, default=32, help="layers N (the refinement check "
                                                             "also runs 2N)")
    check.add_argument("--t1", type=float, default=2.0, help="time horizon")
    check.add_argument("--order", type=int, default=1, choices=(1, 2),
                       help="leapfrog correction order")
    check.add_argument("--out", help="directory for ode_check.csv and ode_check.png")
    check.set_defaults(func=_cmd_ode_check)
    example = ode_sub.add_parser(
        "example", help="train a neural ODE on leapfrog layers with plain and corrected "
                        "gradients; report the zigzag and the ODE-transfer loss")
    example.add_argument("--out", default="stablesim-ode", help="output directory")
    example.add_argument("--layers", type=int, nargs="+", default=[8, 16, 32, 64])
    example.add_argument("--updates", type=int, default=1500)
    example.add_argument("--method", default="leapfrog", choices=INTEGRATORS)
    example.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    example.add_argument("--learning-rate", type=float, default=0.006,
                         help="for sgd: per unit time (layers move by it / h)")
    example.add_argument("--quiet", action="store_true", help="no progress bar")
    example.set_defaults(func=_cmd_ode_example)
    return parser


def _positive(args) -> None:
    for name in ("updates", "unroll", "per_value", "frames", "steps"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise StablesimError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if getattr(args, "warmup", 0) < 0:
        raise StablesimError(f"--warmup must be >= 0, got {args.warmup}")
    if getattr(args, "t1", 1.0) <= 0:
        raise StablesimError(f"--t1 must be > 0, got {args.t1}")
    if any(n < 2 for n in getattr(args, "layers", None) or []):
        raise StablesimError("--layers must all be >= 2")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `stablesim` command."""
    args = build_parser().parse_args(argv)
    try:
        _positive(args)
        args.func(args)
    except StablesimError as err:
        print(f"stablesim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stablesim: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
