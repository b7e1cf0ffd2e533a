"""The command line: thin, over the library.

Every user mistake ends in one line on stderr naming the problem and exit
status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from ._errors import StablesimError, TrainingError
from ._options import INTEGRATOR_NAMES as INTEGRATORS
from ._options import SYSTEM_NAMES as SYSTEM_CHOICES


def _cmd_run(args) -> None:
    from .studies import BUILTIN_STUDIES, DEFAULT_STUDY_NAME, builtin_study

    if args.list:
        width = max(map(len, BUILTIN_STUDIES))
        for name, study in BUILTIN_STUDIES.items():
            mark = " (default)" if name == DEFAULT_STUDY_NAME else ""
            print(f"{name:{width}s}  {study.summary}{mark}; {study.expected_time()}")
        return
    chosen = builtin_study(args.study or DEFAULT_STUDY_NAME)
    out = args.out = args.out or ("stablesim-run" if chosen.name == DEFAULT_STUDY_NAME
                                  else f"stablesim-run-{chosen.name}")
    print(f"built-in study {chosen.name}: {chosen.summary}; expected {chosen.expected_time()}",
          flush=True)
    from .studies import run_study  # the runner imports JAX: not for --list

    report = run_study(chosen.config(), out, overrides=tuple(args.set),
                       progress=not args.quiet, max_cells=args.max_cells)
    _print_report_paths(report)


def _print_report_paths(report) -> None:
    if report.exists():
        findings = report.parent / "findings.csv"
        if findings.exists():
            from .studies import summarize_findings

            summary = summarize_findings(findings)
            if summary:
                print(summary)
        print(f"report: {report} and {report.with_suffix('.html')}; long-format results: "
              f"{report.parent / 'results.csv'}")


def _cmd_config_show(args) -> None:
    from .config import load_run_config, to_commented_yaml

    if args.study:
        import yaml

        from .studies import builtin_study
        print(yaml.safe_dump(builtin_study(args.study).study, sort_keys=False), end="")
        return
    print(to_commented_yaml(load_run_config(args.config, args.set)), end="")


def _cmd_train(args) -> None:
    from ._distributed import initialize_from_environment, is_writer
    from .config import load_run_config
    from .runs import resume_run, run_progress, train_run

    if initialize_from_environment() and not is_writer():
        args.quiet = True  # one progress bar and one summary: process 0's

    if args.resume:
        if args.config or args.out or args.set:
            raise StablesimError("--resume RUN takes no CONFIG, --out or --set: a run "
                                 "continues with the config it was started with")
        done, total = run_progress(args.resume)
        if done >= total:
            print(f"{args.resume}: already trained ({done} of {total} updates)")
            return
        print(f"resuming {args.resume} at update {done} of {total}", flush=True)
        result = resume_run(args.resume, stop_after=args.stop_after, progress=not args.quiet)
        run = args.resume
    else:
        if not args.out:
            raise StablesimError("train needs --out RUN (a new run directory), or --resume RUN")
        config = load_run_config(args.config, args.set)
        result = train_run(config, args.out, stop_after=args.stop_after, progress=not args.quiet)
        run = args.out
    if args.quiet and not is_writer():
        return
    done, total = run_progress(run)
    if done < total:
        print(f"stopped at update {done} of {total}; continue with `stablesim train --resume {run}`")
    else:
        skipped = ", ".join(str(s) for s in result.skipped)
        print(f"trained {run}: {done} updates, skipped updates per seed: {skipped}; "
              f"next: `stablesim evaluate {run}`")


def _cmd_evaluate(args) -> None:
    from .runs import Run, evaluate_run

    run = Run(args.run)
    metrics = evaluate_run(run, overrides=tuple(args.set), progress=not args.quiet)
    if metrics["evaluation"]["plots"] and not args.no_plots:
        from .reporting import plot_run

        plot_run(metrics, run.history, run.examples, run.files.plots)
    print(format_evaluation(metrics))
    print(f"wrote {args.run}/metrics.json")


def format_evaluation(metrics: dict) -> str:
    """The terminal table of an evaluation: learned model and solver alone per test set."""
    h = metrics["horizon"]
    lines = [f"{'test set':14} {'model':13} {'rel_error@' + str(h):>18} "
             f"{'correlation@' + str(h):>15} {'decorrelation':>13} {'diverged':>9} "
             f"{'VRMSE@' + str(h):>9} {'GMean100':>9}"]
    base = metrics.get("baseline")
    for test_set, s in metrics["summary"].items():
        shown = [("learned", s)]
        if base and test_set in base["summary"]:
            shown.append(("solver alone", base["summary"][test_set]))
        for name, stats in shown:
            lines.append(f"{test_set:14} {name:13} {stats['rel_error']['mean']:10.4g} ± "
                         f"{stats['rel_error']['std']:<7.2g} {stats['correlation']['mean']:13.3f} "
                         f"{stats['decorrelation_time']['mean']:13.1f} "
                         f"{stats['divergences']['total']:>4} / {stats['cases']:<4}"
                         f"{_number(stats.get('vrmse')):>9} "
                         f"{_number(stats.get('gmean100_nrmse')):>9}")
        if base and test_set in base["summary"]:
            lines.append(_against_solver_line(metrics, test_set))
    long_steps = metrics.get("evaluation", {}).get("stability_steps")
    if long_steps:
        lines.append(f"long rollouts ({long_steps} steps from every test start):")
        for test_set, s in metrics["summary"].items():
            shown = [("learned", s)]
            if base and test_set in base["summary"]:
                shown.append(("solver alone", base["summary"][test_set]))
            for name, stats in shown:
                long = stats.get("long_divergences")
                if long is not None:
                    first = long["first_step"]
                    lines.append(f"  {test_set:14} {name:13} diverged {long['total']} / "
                                 f"{stats['cases']}" + (f", first at step {first}" if first
                                                        else ""))
    if base:
        lines.append(f"solver alone: {base['solver']}")
    else:
        lines.append("solver alone: none to compare with (user data without "
                     "simulator.solver_function)")
    lines.append(metrics.get("divergence_rule", ""))
    if metrics.get("gradient_alignment_note"):
        lines.append(f"gradient diagnostic: {metrics['gradient_alignment_note']}")
    return "\n".join(line for line in lines if line)


def _number(stats: dict | None) -> str:
    """A summary's mean for the table (`-` for older metrics files, `inf` when diverged)."""
    if not stats:
        return "-"
    return "inf" if stats["mean"] is None else f"{stats['mean']:.3g}"


def _against_solver_line(metrics: dict, test_set: str) -> str:
    """The learned error over the solver alone's, with its paired interval and verdict."""
    from .evaluation import paired_ratio
    from .runs import start_errors

    mine, alone = start_errors(metrics, test_set), start_errors(metrics, test_set,
                                                                model="solver_alone")
    if mine is None or alone is None or mine.size < 2:
        return ""
    r = paired_ratio(mine, alone)
    verdict = {"holds": "better than the solver alone",
               "not significant": "not significantly different from the solver alone",
               "fails": "worse than the solver alone"}[r.verdict()]
    what = "the learned correction" if metrics.get("setup") == "correction" else "the model"
    return (f"  {test_set}: learned / solver alone = {r.text()} (paired bootstrap 95%, "
            f"{r.pairs} seed x start pairs): {what} is {verdict}")


def _cmd_rollout(args) -> None:
    from .runs import rollout_run

    written = rollout_run(args.run, args.initial, steps=args.rollout_steps, out=args.out,
                          seed_index=args.seed_index, params=args.params,
                          with_solver=args.with_solver)
    for name, path in written.items():
        print(f"wrote {path} ({name.replace('_', ' ')})")


def _cmd_diagnose(args) -> None:
    from .reporting import write_diagnose_report
    from .runs import diagnose_run

    diagnosis = diagnose_run(args.run, out_dir=args.out, seed_index=args.seed_index,
                             states=args.states, offset=args.offset,
                             tolerated_bias=args.tolerated_bias, horizon=args.horizon,
                             verify=args.verify, verify_updates=args.updates,
                             progress=not args.quiet)
    write_diagnose_report(diagnosis)
    figures = diagnosis.figures
    print(f"data: rank {figures['rank']} of {figures['features']} "
          f"(unlearnable dimension {figures['unlearnable_dimension']})")
    print(f"spectral radius at data states: {figures['spectral_radius']:.4g}"
          + (f"; normal to the data: {figures['normal_spectral_radius']:.4g}"
             if figures["normal_spectral_radius"] is not None else ""))
    from .stability import ADVICE_STATUS

    print(ADVICE_STATUS)
    for line in figures["recommendations"]:
        print("- " + line)
    out = args.out or f"{args.run}/diagnose"
    print(f"Jacobians by {figures['jacobians']}")
    print(f"report: {out}/diagnose.md and {out}/diagnose.html")


def _cmd_stabilize(args) -> None:
    from .runs import stabilize_run

    done = stabilize_run(args.run, args.out, horizon=args.horizon, updates=args.updates,
                         learning_rate=args.learning_rate, tolerance=args.tolerance,
                         tolerated_bias=args.tolerated_bias,
                         keep_candidates=args.keep_candidates, progress=not args.quiet)
    print(done.table())
    print(done.summary())
    print(f"report: {done.report}")
    if done.out_dir is None:
        raise TrainingError(f"no candidate fix kept every rollout of {args.run} stable for "
                            f"{args.horizon} steps; nothing written to {args.out}")
    print(f"new run: {done.out_dir} (next: `stablesim evaluate {done.out_dir}`)")


def _cmd_study(args) -> None:
    import pathlib

    from .studies import read_study, run_study

    study = read_study(args.study)  # run_study resolves and validates every cell
    report = run_study(study, args.out, base_dir=pathlib.Path(args.study).parent,
                       overrides=tuple(args.set), progress=not args.quiet,
                       max_cells=args.max_cells)
    _print_report_paths(report)


def _cmd_report(args) -> None:
    from .studies import build_report

    _print_report_paths(build_report(args.dir))


def _cmd_data_generate(args) -> None:
    from .data import generate_dataset, save_hdf5
    from .systems import SYSTEMS

    system = SYSTEMS[args.system]()
    values = args.values or list(system.train_values)
    data = generate_dataset(system, values, trajectories_per_value=args.per_value,
                            frames=args.frames, transient=args.transient, seed=args.seed)
    path = save_hdf5(data, args.out)
    print(f"wrote {path}\n{data.summary()}")


def _cmd_data_info(args) -> None:
    from .data import load_dataset

    fields = args.fields.split(",") if args.fields else None
    print(load_dataset(args.file, format=args.format, fields=fields).summary())


def _cmd_ode_check(args) -> None:
    from .ode import format_check_table, run_ode_check
    from .reporting import write_check

    rows, curves = run_ode_check(tuple(args.method), steps=args.steps, t1=args.t1,
                                 order=args.order)
    print(format_check_table(rows, args.steps))
    if args.out:
        paths = write_check(args.out, rows, curves)
        print("wrote " + ", ".join(str(p) for p in paths))


def _cmd_ode_transfer(args) -> None:
    from .ode import run_ode_transfer, transfer_verdicts
    from .reporting import write_transfer

    rows = run_ode_transfer(steps=args.steps, updates=args.updates, log_every=args.log_every,
                            knots=args.knots, learning_rate=args.learning_rate,
                            optimizer=args.optimizer, tolerance=args.tolerance,
                            plateau=args.plateau, plateau_window=args.plateau_window,
                            progress=not args.quiet)
    notes, recommendation = transfer_verdicts(rows, args.tolerance)
    for note in notes:
        print(f"warning: {note}")
    print(recommendation)
    paths = write_transfer(args.out, rows, notes, recommendation, args.tolerance)
    print("wrote " + ", ".join(str(p) for p in paths))


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
    run.set_defaults(func=_cmd_run)

    config = sub.add_parser("config", help="show the resolved configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_sub.add_parser("show", help="print a run config with defaults filled in "
                                              "(default: the built-in one)")
    show.add_argument("config", nargs="?", help="a run config YAML file")
    show.add_argument("--study", nargs="?", const="ks", default=None, metavar="NAME",
                      help="print a built-in study (default: ks)")
    _add_set(show)
    show.set_defaults(func=_cmd_config_show)

    tr = sub.add_parser("train", help="train a run from a config into a run directory, or "
                                      "resume one")
    tr.add_argument("config", nargs="?", help="run config YAML (default: the built-in one)")
    tr.add_argument("--out", help="new run directory")
    tr.add_argument("--resume", metavar="RUN", help="continue an interrupted run")
    tr.add_argument("--stop-after", type=int, metavar="N",
                    help="stop with a checkpoint after N updates in total (split long runs)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_set(tr)
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="roll out a trained run on its test sets; write "
                                         "metrics.json and plots")
    ev.add_argument("run", help="run directory")
    ev.add_argument("--no-plots", action="store_true")
    ev.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_set(ev)
    ev.set_defaults(func=_cmd_evaluate)

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
    ro.set_defaults(func=_cmd_rollout)

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
    dg.set_defaults(func=_cmd_diagnose)

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
    sb.set_defaults(func=_cmd_stabilize)

    st = sub.add_parser("study", help="a grid of runs over config keys; resumable; ends with "
                                      "results.csv and the report")
    st.add_argument("study", help="study YAML (name, base, config, grid)")
    st.add_argument("--out", required=True, help="study directory")
    _add_study_options(st)
    st.set_defaults(func=_cmd_study)

    rep = sub.add_parser("report", help="rebuild results.csv, plots and report of a study")
    rep.add_argument("dir", help="study directory")
    rep.set_defaults(func=_cmd_report)

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
    gen.set_defaults(func=_cmd_data_generate)
    info = data_sub.add_parser("info", help="summarise a dataset: a file (.h5, .npz), a folder "
                               "of files, or a dataset folder of The Well")
    info.add_argument("file")
    info.add_argument("--format", default="auto", choices=("auto", "stablesim", "well", "pdebench"),
                      help="the layout (default: detected)")
    info.add_argument("--fields", help="The Well / PDEBench: only these fields (comma-separated)")
    info.set_defaults(func=_cmd_data_info)

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
    check.set_defaults(func=_cmd_ode_check)
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
    transfer.set_defaults(func=_cmd_ode_transfer)
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


def _positive(args) -> None:
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `stablesim` command."""
    args = build_parser().parse_args(argv)
    try:
        _positive(args)
        _use_compilation_cache()
        args.func(args)
    except (StablesimError, OSError) as err:
        print(f"stablesim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"stablesim: {_interrupted_message(args, err)}", file=sys.stderr)
        return 130
    return 0


def _use_compilation_cache() -> None:
    """Keep XLA's compiled programs between commands (JAX's persistent cache).

    A second `train`, a resumed run or the next cell of a study with the same
    shapes skips compilation. The cache lives in `$XDG_CACHE_HOME/stablesim/xla`
    (default `~/.cache`); JAX's own `JAX_COMPILATION_CACHE_DIR` wins, and
    `STABLESIM_XLA_CACHE=off` turns it off. An unwritable place is skipped,
    and so is any run with `XLA_FLAGS` set: they are not part of JAX's cache
    key, and programs cached without `--xla_force_host_platform_device_count`
    hung the collectives of a 4-device run that loaded them.
    """
    if (os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.environ.get("XLA_FLAGS")
            or os.environ.get("STABLESIM_XLA_CACHE") == "off"):
        return
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    path = base / "stablesim" / "xla"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    # JAX reads these when it is imported; commands that never compute never import it.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
    if "jax" in sys.modules:  # already imported (e.g. `main()` called from Python)
        jax = sys.modules["jax"]
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _interrupted_message(args, err: KeyboardInterrupt) -> str:
    """Where the interrupted work is and the command that continues it."""
    done = getattr(err, "done", None)
    saved = (f"checkpoint written at update {done} of {getattr(err, 'total', '?')}"
             if done is not None
             else "the last checkpoint is kept")
    if args.command in ("run", "study"):
        again = (f"stablesim run{' ' + args.study if args.study else ''}" if args.command == "run"
                 else f"stablesim study {args.study}")
        return (f"interrupted; {saved} in {getattr(err, 'run', None) or args.out}; "
                f"`{again} --out {args.out}` continues the study")
    if args.command == "train":
        run = args.resume or args.out
        return f"interrupted; {saved} in {run}; `stablesim train --resume {run}` continues"
    return "interrupted"


if __name__ == "__main__":
    sys.exit(main())
