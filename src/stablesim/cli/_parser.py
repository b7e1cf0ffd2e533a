"""The command line's parser: subcommands, their options and help."""

from __future__ import annotations

import argparse

from .._errors import StablesimError
from .._options import INTEGRATOR_NAMES as INTEGRATORS
from .._options import SYSTEM_NAMES as SYSTEM_CHOICES
from . import _commands as commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stablesim",
        description="Train neural simulators whose long rollouts stay accurate and stable.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="the main job: a built-in study (default: KS, ONE/NOG/WIG x "
                                     "prediction/correction), ending with the report")
    run.add_argument("study", nargs="?", help="a built-in study (default: ks; see --list)")
    run.add_argument("--list", action="store_true",
                     help="list the built-in studies with their expected run time")
    run.add_argument("--out", default=None, help="study directory (default: stablesim-run, "
                                                 "or stablesim-run-STUDY)")
    _add_study_options(run)
    run.set_defaults(func=commands.cmd_run)

    config = sub.add_parser("config", help="show the resolved configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_sub.add_parser("show", help="print a run config with defaults filled in "
                                              "(default: the built-in one)")
    show.add_argument("config", nargs="?", help="a run config YAML file")
    show.add_argument("--study", nargs="?", const="ks", default=None, metavar="NAME",
                      help="print a built-in study (default: ks)")
    _add_set(show)
    show.set_defaults(func=commands.cmd_config_show)

    tr = sub.add_parser("train", help="train a run from a config into a run directory, or "
                                      "resume one")
    tr.add_argument("config", nargs="?", help="run config YAML (default: the built-in one)")
    tr.add_argument("--out", help="new run directory")
    tr.add_argument("--resume", metavar="RUN", help="continue an interrupted run")
    tr.add_argument("--stop-after", type=int, metavar="N",
                    help="stop with a checkpoint after N updates in total (split long runs)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_set(tr)
    tr.set_defaults(func=commands.cmd_train)

    ev = sub.add_parser("evaluate", help="roll out a trained run on its test sets; write "
                                         "metrics.json and plots")
    ev.add_argument("run", help="run directory")
    ev.add_argument("--no-plots", action="store_true")
    ev.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_set(ev)
    ev.set_defaults(func=commands.cmd_evaluate)

    ro = sub.add_parser("rollout", help="roll a trained run out from your own initial states "
                                         "into an HDF5 file")
    ro.add_argument("run", help="trained run directory")
    ro.add_argument("--initial", required=True, metavar="FILE",
                    help="dataset file (.h5/.npz, trajectories (B, T, C, *N)); frame 0 of each "
                         "trajectory is an initial state")
    ro.add_argument("--rollout-steps", type=int, required=True, help="rollout length (steps)")
    ro.add_argument("--out", required=True, help="output .h5 (data format, initial state first)")
    ro.add_argument("--params", type=float, nargs="+", metavar="P",
                    help="physical parameters for every trajectory (default: the file's)")
    ro.add_argument("--seed-index", type=int, default=0, help="which seed's model (position)")
    ro.add_argument("--with-solver", action="store_true",
                    help="also roll out the solver alone, into OUT_solver_alone.h5")
    ro.set_defaults(func=commands.cmd_rollout)

    dg = sub.add_parser("diagnose", help="why a trained run is (un)stable: data energy, "
                                         "spectra, off-data growth, recommendations")
    dg.add_argument("run", help="trained run directory")
    dg.add_argument("--out", help="report directory (default: RUN/diagnose)")
    dg.add_argument("--seed-index", type=int, default=None,
                    help="which seed's model to analyse in detail (position; default: the one "
                         "with the largest spectral radius; every seed's radius is reported)")
    dg.add_argument("--states", type=int, default=4, help="data states to linearize at")
    dg.add_argument("--offset", type=float, default=1e-3,
                    help="relative size of the off-data perturbations")
    dg.add_argument("--tolerated-bias", type=float, default=0.05,
                    help="noise bias allowed by the recommended sigma")
    dg.add_argument("--horizon", type=int, default=2000,
                    help="steps of the long rollouts measured from every test start")
    dg.add_argument("--verify", action="store_true",
                    help="fine-tune the run with every candidate fix and rank them by the "
                         "measured outcome (as stabilize does, keeping nothing)")
    dg.add_argument("--updates", type=int, default=None,
                    help="with --verify: fine-tuning updates per candidate")
    dg.add_argument("--quiet", action="store_true", help="no progress lines")
    dg.set_defaults(func=commands.cmd_diagnose)

    sb = sub.add_parser("stabilize", help="fine-tune a trained run with each candidate fix, "
                                          "measure long rollouts, keep the best as a new run")
    sb.add_argument("run", help="trained run directory (unchanged)")
    sb.add_argument("--out", required=True, help="new run directory for the kept fix")
    sb.add_argument("--horizon", type=int, default=10_000,
                    help="steps every test rollout must stay stable (default 10000)")
    sb.add_argument("--updates", type=int, default=None,
                    help="fine-tuning updates per candidate (default: a fifth of the run's, "
                         ">= 100)")
    sb.add_argument("--learning-rate", type=float, default=None,
                    help="constant fine-tuning learning rate (default: a tenth of the run's)")
    sb.add_argument("--tolerance", type=float, default=0.10,
                    help="allowed increase of the short-horizon error (default 0.10)")
    sb.add_argument("--tolerated-bias", type=float, default=0.05,
                    help="noise bias at evaluation.horizon of the base noise candidate")
    sb.add_argument("--keep-candidates", action="store_true",
                    help="keep every candidate's run directory in OUT.candidates")
    sb.add_argument("--quiet", action="store_true", help="no progress lines")
    sb.set_defaults(func=commands.cmd_stabilize)

    st = sub.add_parser("study", help="a grid of runs over config keys; resumable; ends with "
                                      "results.csv and the report")
    st.add_argument("study", help="study YAML (name, base, config, grid)")
    st.add_argument("--out", required=True, help="study directory")
    _add_study_options(st)
    st.set_defaults(func=commands.cmd_study)

    rep = sub.add_parser("report", help="rebuild results.csv, plots and report of a study")
    rep.add_argument("dir", help="study directory")
    rep.set_defaults(func=commands.cmd_report)

    data = sub.add_parser("data", help="generate or inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    gen = data_sub.add_parser("generate", help="simulate a built-in system into an HDF5 file")
    gen.add_argument("system", choices=SYSTEM_CHOICES)
    gen.add_argument("--out", required=True, help="target .h5 file")
    gen.add_argument("--values", type=float, nargs="+", help="parameter values (default: the "
                                                             "system's training values)")
    gen.add_argument("--per-value", type=int, default=2, help="trajectories per value")
    gen.add_argument("--frames", type=int, default=100)
    gen.add_argument("--transient", type=int, default=100, help="transient frames simulated and "
                     "discarded")
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(func=commands.cmd_data_generate)
    info = data_sub.add_parser("info", help="summarise a dataset: a file (.h5, .npz), a folder "
                               "of files, or a dataset folder of The Well")
    info.add_argument("file")
    info.add_argument("--format", default="auto", choices=("auto", "stablesim", "well", "pdebench"),
                      help="the layout (default: detected)")
    info.add_argument("--fields", help="The Well / PDEBench: only these fields (comma-separated)")
    info.set_defaults(func=commands.cmd_data_info)

    ode = sub.add_parser("ode", help="neural ODE integrators and their per-layer gradients")
    ode_sub = ode.add_subparsers(dest="ode_command", required=True, metavar="ACTION")
    check = ode_sub.add_parser(
        "check", help="plain vs corrected per-layer gradients against the continuous adjoint")
    check.add_argument("--method", nargs="+", default=list(INTEGRATORS), choices=INTEGRATORS,
                       help="integrators to check (default: all)")
    check.add_argument("--steps", type=int, default=32, help="layers N (the refinement check "
                                                             "also runs 2N)")
    check.add_argument("--t1", type=float, default=2.0, help="time horizon")
    check.add_argument("--order", type=int, default=None, choices=(1, 2),
                       help="highest correction order to use (default: each method's "
                            "highest: 2 for leapfrog, 1 for the others)")
    check.add_argument("--out", help="directory for ode_check.csv and ode_check.png")
    check.set_defaults(func=commands.cmd_ode_check)
    transfer = ode_sub.add_parser(
        "transfer", help="train a learned flow map several ways (per-layer plain/corrected, "
                         "smooth in time) and track its loss under a finer and another "
                         "discretisation")
    transfer.add_argument("--out", required=True,
                          help="directory for ode_transfer.csv, .md and .png")
    transfer.add_argument("--steps", type=int, default=16, help="leapfrog steps N")
    transfer.add_argument("--updates", type=int, default=2000)
    transfer.add_argument("--log-every", type=int, default=250)
    transfer.add_argument("--knots", type=int, default=4, help="K of the smooth variants")
    transfer.add_argument("--learning-rate", type=float, default=1e-2)
    transfer.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    transfer.add_argument("--tolerance", type=float, default=0.10,
                          help="how far a transfer ratio may leave 1 (default 0.10)")
    transfer.add_argument("--plateau", type=float, default=0.01,
                          help="relative loss decrease per --plateau-window below which the "
                               "loss counts as plateaued (default 0.01)")
    transfer.add_argument("--plateau-window", type=int, default=1000,
                          help="updates over which the plateau is judged (default 1000)")
    transfer.add_argument("--quiet", action="store_true", help="no progress lines")
    transfer.set_defaults(func=commands.cmd_ode_transfer)
    return parser


def _add_set(parser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted, e.g. training.updates=200); "
                             "repeatable")


def _add_study_options(parser) -> None:
    _add_set(parser)
    parser.add_argument("--max-cells", type=int, metavar="N",
                        help="train at most N cells now; the same command continues")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress bars")


def check_positive(args) -> None:
    for name in ("updates", "unroll", "per_value", "frames", "steps", "stop_after", "max_cells",
                 "states", "horizon", "knots", "log_every"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise StablesimError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if getattr(args, "transient", 0) < 0:
        raise StablesimError(f"--transient must be >= 0, got {args.transient}")
    if getattr(args, "offset", 1.0) <= 0:
        raise StablesimError(f"--offset must be > 0, got {args.offset}")
    if not 0 < getattr(args, "tolerated_bias", 0.5) < 1:
        raise StablesimError(f"--tolerated-bias must be in (0, 1), got {args.tolerated_bias}")
    if getattr(args, "t1", 1.0) <= 0:
        raise StablesimError(f"--t1 must be > 0, got {args.t1}")
