"""Studies: a grid over config keys, one run directory per cell, resumable."""

from __future__ import annotations

import csv
import itertools
import json
import os
import pathlib
import re
import time
from typing import Any

import yaml

from .._atomic import atomic_path, atomic_write_text
from .._errors import ConfigError
from ..config import (
    RunConfig,
    apply_overrides,
    check_against_data,
    read_yaml,
    resolve_paths,
    set_dotted,
    validate,
)
from ..data import TrajectoryDataset
from ..runs import evaluate_run, read_metrics, read_run_config, resume_run, run_paths, train_run
from ..runs._build import check_solver, data_key, make_dataset
from ..training import TrainingInterrupted
from ._config import StudyConfig

STUDY_RECORD = "study.resolved.yaml"
RESULT_COLUMNS = ("run", "model", "test_set", "case", "metric", "horizon", "value", "seed")


def _flatten(raw: dict, prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            items += _flatten(value, dotted)
        else:
            items.append((dotted, value))
    return items


class Cell:
    """One grid point: its name, varied values and validated run config."""

    def __init__(self, name: str, varied: dict[str, Any], config: RunConfig):
        self.name, self.varied, self.config = name, varied, config


def _cell_name(values: tuple) -> str:
    text = "-".join(str(v) for v in values) or "run"
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "run"


def resolve_study(study: StudyConfig, *, base_dir: pathlib.Path | None = None,
                  overrides: tuple = (), source: str = "study",
                  check_data: bool = True) -> tuple[dict, list[Cell]]:
    """The resolved base config (raw mapping) and the validated cells of a study.

    **Arguments:**

    - `study`: the study config.
    - `base_dir`: where `study.base` is relative to.
    - `overrides`: `--set` overrides applied to the base.
    - `source`: what to name in error messages.
    - `check_data`: check every cell against its data file (see
        `check_against_data`).

    **Returns:**

    `(base mapping, cells)`; every cell's config is validated up front, so a
    bad grid key fails before anything is trained.
    """
    raw: dict = {}
    if study.base is not None:
        path = pathlib.Path(study.base)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections")
        raw = resolve_paths(raw, path.parent)  # paths in the base file: against its folder
    nested: dict = {}
    for key, value in _flatten(study.config):
        nested = set_dotted(nested, key, value)
    raw = apply_overrides(raw, _flatten(resolve_paths(nested, base_dir)))
    raw = apply_overrides(raw, overrides)
    raw = resolve_paths(raw, None)  # --set paths: against the working directory
    base = validate(RunConfig, raw, source=f"{source}: config").model_dump(mode="json")
    for key, values in study.grid.items():
        if not values:
            raise ConfigError(f"{source}: grid.{key}: needs at least one value")
    keys = list(study.grid)
    cells, names = [], set()
    for combo in itertools.product(*(study.grid[k] for k in keys)):
        varied = dict(zip(keys, combo))
        name = _cell_name(combo)
        if name in names:
            name = f"{len(cells):03d}-{name}"
        names.add(name)
        cell_raw = resolve_paths(apply_overrides(base, list(varied.items())), base_dir)
        config = validate(RunConfig, cell_raw, source=f"{source}: cell {name}")
        if check_data:
            check_against_data(config, f"{source}: cell {name}")
        cells.append(Cell(name, varied, config))
    return base, cells


def read_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study file (its cells are resolved by `resolve_study`)."""
    return validate(StudyConfig, read_yaml(path), source=str(path))


def load_study(path: str | os.PathLike, overrides: tuple = ()) -> tuple[StudyConfig, dict, list[Cell]]:
    """Read and resolve a study file (see `resolve_study`)."""
    path = pathlib.Path(path)
    study = read_study(path)
    base, cells = resolve_study(study, base_dir=path.parent, overrides=tuple(overrides),
                                source=str(path))
    return study, base, cells


def _study_record(study: StudyConfig, base: dict) -> dict:
    return {"name": study.name, "config": base, "grid": study.grid}


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
    base, cells = resolve_study(study, base_dir=base_dir, overrides=overrides)
    record = _study_record(study, base)
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
        key = data_key(cell.config)
        if key not in datasets:
            datasets[key] = make_dataset(cell.config)
        check_solver(cell.config, datasets[key])
        probed.add(spec)
    total, started, times = len(cells), time.perf_counter(), []
    trained = 0
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
            print(f"[{index}/{total}] {cell.name} ({varied}): training", flush=True)
            key = data_key(cell.config)
            if key not in datasets:
                datasets[key] = make_dataset(cell.config)
            try:
                train_run(cell.config, run_dir, dataset=datasets[key], progress=progress)
            except TrainingInterrupted as err:
                err.run = out
                raise
        evaluate_run(run_dir, progress=progress)
        trained += 1
        times.append(time.perf_counter() - t0)
        remaining = sum(1 for c in cells[index:] if not run_paths(out / "runs" / c.name)["metrics"].exists())
        eta = remaining * sum(times) / len(times)
        print(f"[{index}/{total}] {cell.name} done in {_format_seconds(times[-1])}; elapsed "
              f"{_format_seconds(time.perf_counter() - started)}, about {_format_seconds(eta)} "
              f"left for {remaining} cells", flush=True)
    from ._report import build_report

    return build_report(out)


def study_cells(out_dir: str | os.PathLike) -> tuple[dict, list[Cell]]:
    """The recorded study of a study directory and its cells."""
    out = pathlib.Path(out_dir)
    path = out / STUDY_RECORD
    if not path.exists():
        raise ConfigError(f"{out}: not a study directory (no study.resolved.yaml)")
    record = read_yaml(path)
    if not isinstance(record, dict) or "config" not in record:
        raise ConfigError(f"{path}: not a stablesim study record")
    study = StudyConfig(name=record.get("name", "study"), config={},
                        grid=record.get("grid") or {})
    _, cells = resolve_study(study, overrides=tuple(_flatten(record["config"])), source=str(path),
                             check_data=False)
    return record, cells


def write_results(out_dir: str | os.PathLike, cells: list[Cell]) -> pathlib.Path:
    """The long-format `results.csv` of all evaluated cells.

    Columns: `run`, `model` (`learned`, or `solver_alone` for the baseline
    rollouts of the run's solver, whose `seed` is empty), `test_set`, `case`,
    `metric`, `horizon` (empty where it does not apply), `value`, `seed`, then
    one column per varied key.
    """
    out = pathlib.Path(out_dir)
    keys = list(cells[0].varied) if cells else []
    path = out / "results.csv"
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(RESULT_COLUMNS) + keys)
        for cell in cells:
            run_dir = out / "runs" / cell.name
            if not run_paths(run_dir)["metrics"].exists():
                continue
            extra = [_csv_value(cell.varied[k]) for k in keys]
            for r in read_metrics(run_dir)["rows"]:
                writer.writerow([cell.name, r.get("model", "learned"), r["test_set"], r["case"],
                                 r["metric"], "" if r["horizon"] is None else r["horizon"],
                                 "inf" if r["value"] is None else repr(float(r["value"])),
                                 "" if r["seed"] is None else r["seed"], *extra])
    return path


def _csv_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
