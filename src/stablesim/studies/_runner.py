"""Running a study: train and evaluate every cell, resumably, then write the report."""

from __future__ import annotations

import os
import pathlib
import time

import yaml

from .._atomic import atomic_write_text
from .._errors import ConfigError
from ..config import read_yaml
from ..data import TrajectoryDataset
from ..reporting import plot_run
from ..runs import (
    Run,
    check_solver,
    dataset_key,
    evaluate_run,
    make_dataset,
    read_run_config,
    resume_run,
    run_paths,
    train_run,
)
from ..training import TrainingInterrupted
from ._config import StudyConfig
from ._report import build_report
from ._study import (
    STUDY_RECORD,
    apply_study_overrides,
    resolve_study,
    study_record,
    with_start_paths,
)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def run_study(
    study: StudyConfig,
    out_dir: str | os.PathLike,
    *,
    base_dir: pathlib.Path | None = None,
    overrides: tuple = (),
    progress: bool = True,
    max_cells: int | None = None,
) -> pathlib.Path:
    """Train and evaluate every cell of a study, then write results and report.

    Cells already evaluated are skipped, an interrupted cell resumes from its
    checkpoint, so running the same command again continues the study. The
    output directory refuses a different study (its `study.resolved.yaml` differs).

    **Arguments:**

    - `study`: the study config.
    - `out_dir`: the study directory (`study.resolved.yaml`, `runs/CELL/`, results, report).
    - `base_dir`: where `study.base` is relative to.
    - `overrides`: `--set` overrides of the base config.
    - `progress`: per-run progress bars.
    - `max_cells`: stop after training this many cells in this call (for
        splitting a long study into sessions).

    **Returns:**

    The path of `report.md` (None-equivalent empty path if stopped early).
    """
    out = pathlib.Path(out_dir)
    study, overrides = apply_study_overrides(study, overrides)
    base, cells = resolve_study(study, base_dir=base_dir, overrides=overrides)
    cells = with_start_paths(cells, out)
    record = study_record(study, base)
    record_path = out / STUDY_RECORD
    if record_path.exists():
        previous = read_yaml(record_path)
        if previous != yaml.safe_load(yaml.safe_dump(record)):
            raise ConfigError(f"{out} holds a different study (its study.resolved.yaml differs); "
                              "choose another --out to keep both")
    elif out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not a study directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not record_path.exists():
        atomic_write_text(record_path, yaml.safe_dump(record, sort_keys=False))
    datasets: dict[str, TrajectoryDataset] = {}
    probed = set()
    for cell in cells:  # every user solver answers once before the first cell trains
        spec = (cell.config.simulator.solver_function, cell.config.simulator.solver_batched)
        if spec[0] is None or spec in probed or run_paths(out / "runs" / cell.name)["metrics"].exists():
            continue
        key = dataset_key(cell.config)
        if key not in datasets:
            datasets[key] = make_dataset(cell.config)
        check_solver(cell.config, datasets[key])
        probed.add(spec)
    total, started, times = len(cells), time.perf_counter(), []
    trained = 0
    opened: dict[str, Run] = {}
    for index, cell in enumerate(cells, 1):
        run_dir = out / "runs" / cell.name
        paths = run_paths(run_dir)
        if paths["metrics"].exists():
            print(f"[{index}/{total}] {cell.name}: done earlier", flush=True)
            continue
        if max_cells is not None and trained >= max_cells:
            print(f"stopped after {trained} cells (--max-cells); run the same command again "
                  "to continue", flush=True)
            return out / "report.md"
        t0 = time.perf_counter()
        varied = ", ".join(f"{k}={v}" for k, v in cell.varied.items())
        if paths["checkpoint"].exists():
            if read_run_config(run_dir) != cell.config:
                raise ConfigError(f"{run_dir}: holds a run of another config")
            print(f"[{index}/{total}] {cell.name} ({varied}): resuming", flush=True)
            try:
                resume_run(run_dir, progress=progress)
            except TrainingInterrupted as err:
                err.run = out
                raise
        else:
            start = f", fine-tuning {cell.start}" if cell.start else ""
            print(f"[{index}/{total}] {cell.name} ({varied}): training{start}", flush=True)
            key = dataset_key(cell.config)
            if key not in datasets:
                datasets[key] = make_dataset(cell.config)
            try:
                train_run(cell.config, run_dir, dataset=datasets[key], progress=progress)
            except TrainingInterrupted as err:
                err.run = out
                raise
        run = opened[cell.name] = Run(run_dir)
        metrics = evaluate_run(run, progress=progress)
        if metrics.plots:
            plot_run(metrics, run.history, run.examples, run.files.plots)
        trained += 1
        times.append(time.perf_counter() - t0)
        remaining = sum(1 for c in cells[index:] if not run_paths(out / "runs" / c.name)["metrics"].exists())
        eta = remaining * sum(times) / len(times)
        print(f"[{index}/{total}] {cell.name} done in {_format_seconds(times[-1])}; elapsed "
              f"{_format_seconds(time.perf_counter() - started)}, about {_format_seconds(eta)} "
              f"left for {remaining} cells", flush=True)
    return build_report(out, opened)


