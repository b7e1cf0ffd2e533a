"""What each subcommand does: thin calls into the library, results printed as tables."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

from .._errors import StablesimError, TrainingError

if TYPE_CHECKING:
    from ..evaluation import Metrics, SetSummary, Stat


def cmd_run(args) -> None:
    from ..studies import BUILTIN_STUDIES, DEFAULT_STUDY_NAME, builtin_study

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
    from ..studies import run_study  # the runner imports JAX: not for --list

    report = run_study(chosen.config(), out, overrides=tuple(args.set),
                       progress=not args.quiet, max_cells=args.max_cells)
    _print_report_paths(report)


def _print_report_paths(report) -> None:
    if report.exists():
        findings = report.parent / "findings.csv"
        if findings.exists():
            from ..studies import summarize_findings

            summary = summarize_findings(findings)
            if summary:
                print(summary)
        print(f"report: {report} and {report.with_suffix('.html')}; long-format results: "
              f"{report.parent / 'results.csv'}")


def cmd_config_show(args) -> None:
    from ..config import load_run_config, to_commented_yaml

    if args.study:
        import yaml

        from ..studies import builtin_study
        print(yaml.safe_dump(builtin_study(args.study).study, sort_keys=False), end="")
        return
    print(to_commented_yaml(load_run_config(args.config, args.set)), end="")


def cmd_train(args) -> None:
    from .._distributed import initialize_from_environment, is_writer
    from ..config import load_run_config
    from ..runs import resume_run, run_progress, train_run

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


def cmd_evaluate(args) -> None:
    from ..runs import Run, evaluate_run

    run = Run(args.run)
    metrics = evaluate_run(run, overrides=tuple(args.set), progress=not args.quiet)
    if metrics.plots and not args.no_plots:
        from ..reporting import plot_run

        plot_run(metrics, run.history, run.examples, run.files.plots)
    print(format_evaluation(metrics))
    print(f"wrote {args.run}/metrics.json")


def format_evaluation(metrics: Metrics) -> str:
    """The terminal table of an evaluation: the learned model and its baseline (the solver
    alone, or persistence where there is no solver) per test set, each comparison with its
    paired interval."""
    h = metrics.horizon
    lines = [f"{'test set':14} {'model':13} {'rel_error@' + str(h):>18} "
             f"{'correlation@' + str(h):>15} {'decorrelation':>13} {'diverged':>9} "
             f"{'VRMSE@' + str(h):>9} {'GMean100':>9}"]
    for test_set, s in metrics.summary.items():
        for name, stats in _models(metrics, test_set, s):
            lines.append(f"{test_set:14} {name:13} {_number(stats.rel_error, '10.4g')} ± "
                         f"{_number(stats.rel_error, '<7.2g', 'std')} "
                         f"{_number(stats.correlation, '13.3f')} "
                         f"{_number(stats.decorrelation_time, '13.1f')} "
                         f"{stats.divergences.total:>4} / {stats.cases:<4}"
                         f"{_number(stats.vrmse, '>9.3g')} "
                         f"{_number(stats.gmean100_nrmse, '>9.3g')}")
        for model, name in (("solver_alone", "the solver alone"),
                            ("persistence", "persistence (the initial state held)")):
            lines.append(_against_baseline_line(metrics, test_set, model, name))
    if metrics.stability_steps:
        lines.append(f"long rollouts ({metrics.stability_steps} steps from every validation and test start):")
        for test_set, s in metrics.summary.items():
            for name, stats in _models(metrics, test_set, s):
                if stats.physics is not None:
                    lines.append(f"  {test_set:14} {name:13} {stats.physics.words()}")
                elif stats.long_divergences is not None:  # before the physical verdict existed
                    long = stats.long_divergences
                    lines.append(f"  {test_set:14} {name:13} diverged {long.total} / "
                                 f"{stats.cases}" + (f", first at step {long.first_step}"
                                                     if long.first_step else ""))
    if metrics.baseline is not None:
        lines.append(f"solver alone: {metrics.baseline.solver}")
    else:
        lines.append("solver alone: none to compare with (user data without "
                     "simulator.solver_function)" + ("; the baseline is persistence, the "
                                                     "initial state held" if metrics.persistence
                                                     else ""))
    lines.append(metrics.divergence_rule)
    if metrics.gradient_alignment_note:
        lines.append(f"gradient diagnostic: {metrics.gradient_alignment_note}")
    return "\n".join(line for line in lines if line)


def _models(metrics: Metrics, test_set: str, learned: SetSummary
            ) -> list[tuple[str, SetSummary]]:
    """The table's rows of one test set: the learned model, then its baseline if any."""
    rows = [("learned", learned), ("solver alone", metrics.baseline_of(test_set)),
            ("persistence", metrics.persistence.get(test_set))]
    return [(name, stats) for name, stats in rows if stats is not None]


def _number(stat: Stat | None, spec: str, field: str = "mean") -> str:
    """A summary's mean (or std) for the table: `-` where an older metrics file lacks the
    metric, `inf` where it is not finite (a rollout diverged)."""
    width = "".join(c for c in spec.split(".")[0] if c.isdigit())
    if stat is None:
        return format("-", f">{width}")
    value = getattr(stat, field)
    return format("inf", f">{width}") if value is None else format(value, spec)


def _against_baseline_line(metrics: Metrics, test_set: str, model: str, name: str) -> str:
    """The learned error over a baseline's (`model`: its rows), with the paired interval and
    verdict; empty where that baseline was not measured."""
    from ..evaluation import paired_ratio

    mine = metrics.start_errors(test_set)
    base = metrics.start_errors(test_set, model=model)
    if mine is None or base is None or mine.size < 2:
        return ""
    r = paired_ratio(mine, base)
    verdict = {"holds": f"better than {name}",
               "not significant": f"not significantly different from {name}",
               "fails": f"worse than {name}"}[r.verdict()]
    what = "the learned correction" if metrics.setup == "correction" else "the model"
    short = model.replace("_", " ")
    return (f"  {test_set}: learned / {short} = {r.text()} (paired bootstrap 95%, "
            f"{r.pairs} seed x start pairs): {what} is {verdict}")


def cmd_rollout(args) -> None:
    from ..runs import rollout_run

    written = rollout_run(args.run, args.initial, steps=args.rollout_steps, out=args.out,
                          seed_index=args.seed_index, params=args.params,
                          with_solver=args.with_solver)
    for name, path in written.items():
        print(f"wrote {path} ({name.replace('_', ' ')})")


def cmd_diagnose(args) -> None:
    from ..reporting import write_diagnose_report
    from ..runs import diagnose_run

    diagnosis = diagnose_run(args.run, out_dir=args.out, seed_index=args.seed_index,
                             states=args.states, offset=args.offset,
                             tolerated_bias=args.tolerated_bias, horizon=args.horizon,
                             verify=args.verify, verify_updates=args.updates,
                             progress=not args.quiet)
    write_diagnose_report(diagnosis)
    figures = diagnosis.figures
    print(f"data: rank {figures['rank']} of {figures['features']} "
          f"(unlearnable dimension {figures['unlearnable_dimension']}: energy below "
          f"{figures['rank_threshold_share']:.2g} of the total; "
          f"{figures['near_empty_dimension']} more near-empty, below 1e-06 of it)")
    print(f"spectral radius at data states: {figures['spectral_radius']:.4g}"
          + (f"; normal to the data: {figures['normal_spectral_radius']:.4g}"
             if figures["normal_spectral_radius"] is not None else ""))
    from ..stability import ADVICE_STATUS

    print(ADVICE_STATUS)
    for line in figures["recommendations"]:
        print("- " + line)
    out = args.out or f"{args.run}/diagnose"
    print(f"Jacobians by {figures['jacobians']}")
    print(f"report: {out}/diagnose.md and {out}/diagnose.html")


def cmd_stabilize(args) -> None:
    from ..runs import stabilize_run

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


def cmd_study(args) -> None:

    from ..studies import read_study, run_study

    study = read_study(args.study)  # run_study resolves and validates every cell
    report = run_study(study, args.out, base_dir=pathlib.Path(args.study).parent,
                       overrides=tuple(args.set), progress=not args.quiet,
                       max_cells=args.max_cells)
    _print_report_paths(report)


def cmd_report(args) -> None:
    from ..studies import build_report

    _print_report_paths(build_report(args.dir))


def cmd_data_generate(args) -> None:
    from ..data import generate_dataset, save_hdf5
    from ..systems import SYSTEMS

    system = SYSTEMS[args.system]()
    values = args.values or list(system.train_values)
    data = generate_dataset(system, values, trajectories_per_value=args.per_value,
                            frames=args.frames, transient=args.transient, seed=args.seed)
    path = save_hdf5(data, args.out)
    print(f"wrote {path}\n{data.summary()}")


def cmd_data_info(args) -> None:
    from ..data import load_dataset

    fields = args.fields.split(",") if args.fields else None
    print(load_dataset(args.file, format=args.format, fields=fields).summary())


def cmd_ode_check(args) -> None:
    from ..ode import format_check_table, run_ode_check
    from ..reporting import write_check

    rows, curves = run_ode_check(tuple(args.method), steps=args.steps, t1=args.t1,
                                 order=args.order)
    print(format_check_table(rows, args.steps))
    if args.out:
        paths = write_check(args.out, rows, curves)
        print("wrote " + ", ".join(str(p) for p in paths))


def cmd_ode_transfer(args) -> None:
    from ..ode import run_ode_transfer, transfer_verdicts
    from ..reporting import write_transfer

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
