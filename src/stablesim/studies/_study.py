"""Studies: a grid over config keys, one run directory per cell, resumable."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import pathlib
from typing import Any

from .._atomic import atomic_path
from .._errors import ConfigError
from ..config import (
    Layer,
    RunConfig,
    compose,
    current_key,
    parse_override,
    read_yaml,
    set_dotted,
    validate,
)
from ..runs import Run
from ._cell import Cell, cell_name
from ._config import StudyConfig
from ._tuning import tuning_variants

STUDY_RECORD = "study.resolved.yaml"
RESULT_COLUMNS = ("run", "model", "test_set", "case", "metric", "horizon", "value", "seed")


def resolve_study(study: StudyConfig, *, base_dir: pathlib.Path | None = None,
                  overrides: tuple = (), source: str = "study",
                  check_data: bool = True) -> tuple[RunConfig, list[Cell]]:
    """The resolved base config and the validated cells of a study (composed as
    `stablesim.config.compose` composes every config).

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
    layers = []
    if study.base is not None:  # paths in the base file: against its folder
        path = pathlib.Path(study.base)
        layers.append(Layer.file(base_dir / path if base_dir is not None
                                 and not path.is_absolute() else path))
    layers += [Layer.settings(study.config, base_dir=base_dir),
               Layer.settings(overrides, command_line=True)]  # --set: against the cwd
    base = compose(layers, source=f"{source}: config")
    for key, values in study.grid.items():
        if not values:
            raise ConfigError(f"{source}: grid.{key}: needs at least one value")
    keys = list(study.grid)
    cells: list[Cell] = []
    names: set[str] = set()
    for combo in itertools.product(*(study.grid[k] for k in keys)):
        varied = {current_key(k): v for k, v in zip(keys, combo)}
        name = cell_name(combo)
        if name in names:
            name = f"{len(cells):03d}-{name}"
        names.add(name)
        config = compose([Layer.of(base), Layer.settings(varied, base_dir=base_dir)],
                         source=f"{source}: cell {name}", check_data=check_data)
        cells.append(Cell(name, varied, config))
    if study.fine_tune is not None:
        cells = _fine_tuning_cells(study, cells, source)
    if study.tune:
        cells = tuning_variants(study, cells, source)
    return base, cells


def _fine_tuning_cells(study: StudyConfig, cells: list[Cell], source: str) -> list[Cell]:
    """Mark each cell's start cell and give it the fine-tune updates; start cells first."""
    assert study.fine_tune is not None
    start_from = {current_key(k): v for k, v in study.fine_tune.start_from.items()}
    grid = {current_key(k): v for k, v in study.grid.items()}
    for key, value in start_from.items():
        if key not in grid:
            raise ConfigError(f"{source}: fine_tune.start_from.{key}: not a grid key "
                              f"(grid: {', '.join(grid) or 'empty'})")
        if value not in grid[key]:
            raise ConfigError(f"{source}: fine_tune.start_from.{key}: {value!r} is not among "
                              f"the grid's values {grid[key]}")
    by_values = {tuple(sorted((k, repr(v)) for k, v in c.varied.items())): c for c in cells}
    out = []

    updates = study.fine_tune.updates

    def fine_tuned(cell: Cell) -> RunConfig:
        training = cell.config.training.model_copy(update={"updates": updates})
        if training.curriculum:
            raise ConfigError(f"{source}: fine_tune: cell {cell.name} has a curriculum; "
                              "fine-tuning gives it one stage of fine_tune.updates")
        return cell.config.model_copy(update={"training": training})

    for cell in cells:
        wanted = dict(cell.varied, **start_from)
        if wanted == cell.varied:
            out.append(cell)
            if study.fine_tune.continue_start:  # the matched-budget control
                out.append(Cell(f"{cell.name}-continued", cell.varied, fine_tuned(cell),
                                start=cell.name, continued=True))
            continue
        start = by_values[tuple(sorted((k, repr(v)) for k, v in wanted.items()))]
        out.append(Cell(cell.name, cell.varied, fine_tuned(cell), start=start.name))
    return sorted(out, key=lambda c: c.start is not None)


def with_start_paths(cells: list[Cell], out_dir: str | os.PathLike) -> list[Cell]:
    """The cells with `model.init_from` set to their start cell's run directory in `out_dir`."""
    runs = pathlib.Path(out_dir).resolve() / "runs"
    done = []
    for cell in cells:
        if cell.start is None:
            done.append(cell)
            continue
        model = cell.config.model.model_copy(update={"init_from": str(runs / cell.start)})
        done.append(dataclasses.replace(cell, config=cell.config.model_copy(update={"model": model})))
    return done


def apply_study_overrides(study: StudyConfig, overrides: tuple = ()) -> tuple[StudyConfig, tuple]:
    """Apply the `--set fine_tune.KEY=VALUE` overrides to the study; the rest are the base's.

    **Returns:**

    `(study, remaining overrides)`.
    """
    pairs = [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]
    mine = [(k, v) for k, v in pairs if k.startswith("fine_tune.")]
    if not mine:
        return study, tuple(pairs)
    if study.fine_tune is None:
        raise ConfigError(f"--set {mine[0][0]}: this study has no fine_tune section")
    raw = study.fine_tune.model_dump(mode="json")
    for key, value in mine:
        raw = set_dotted(raw, key.removeprefix("fine_tune."), value)
    try:
        tuned = validate(type(study.fine_tune), raw, source="--set fine_tune")
    except ConfigError as err:  # "--set fine_tune: updates: ..." names the key as given
        raise ConfigError(str(err).replace("--set fine_tune: ", "--set fine_tune.", 1)) from None
    return (study.model_copy(update={"fine_tune": tuned}),
            tuple((k, v) for k, v in pairs if not k.startswith("fine_tune.")))


def read_study(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study file (its cells are resolved by `resolve_study`)."""
    return validate(StudyConfig, read_yaml(path), source=str(path))


def load_study(path: str | os.PathLike, overrides: tuple = ()
               ) -> tuple[StudyConfig, RunConfig, list[Cell]]:
    """Read and resolve a study file (see `resolve_study`)."""
    path = pathlib.Path(path)
    study, overrides = apply_study_overrides(read_study(path), tuple(overrides))
    base, cells = resolve_study(study, base_dir=path.parent, overrides=tuple(overrides),
                                source=str(path))
    return study, base, cells


def study_record(study: StudyConfig, base: RunConfig) -> dict:
    record = {"name": study.name, "config": base.model_dump(mode="json"), "grid": study.grid}
    if study.fine_tune is not None:
        record["fine_tune"] = study.fine_tune.model_dump(mode="json")
    if study.tune:
        record["tune"] = study.tune
    return record


def study_cells(out_dir: str | os.PathLike) -> tuple[dict, list[Cell]]:
    """The recorded study of a study directory and its cells."""
    out = pathlib.Path(out_dir)
    path = out / STUDY_RECORD
    if not path.exists():
        raise ConfigError(f"{out}: not a study directory (no study.resolved.yaml)")
    record = read_yaml(path)
    if not isinstance(record, dict) or "config" not in record:
        raise ConfigError(f"{path}: not a stablesim study record")
    study = StudyConfig(name=record.get("name", "study"), config=record["config"] or {},
                        grid=record.get("grid") or {}, fine_tune=record.get("fine_tune"),
                        tune=record.get("tune") or {})
    _, cells = resolve_study(study, source=str(path), check_data=False)
    return record, with_start_paths(cells, out)


def write_results(out_dir: str | os.PathLike, cells: list[Cell],
                  opened: dict[str, Run] | None = None) -> pathlib.Path:
    """The long-format `results.csv` of all evaluated cells.

    Columns: `run`, `model` (`learned`; `solver_alone` for the baseline
    rollouts of the run's solver, or `persistence`, the initial state held, for
    a run without a solver: a baseline's `seed` is empty), `test_set`, `case`,
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
            run = cell_run(out, cell.name, opened)
            if run is None or not run.evaluated:
                continue
            extra = [_csv_value(cell.varied[k]) for k in keys]
            for r in run.metrics.rows:
                writer.writerow([cell.name, r.model, r.test_set, r.case, r.metric,
                                 "" if r.horizon is None else r.horizon,
                                 "inf" if r.value is None else repr(float(r.value)),
                                 "" if r.seed is None else r.seed, *extra])
    return path


def cell_run(out: pathlib.Path, name: str, opened: dict[str, Run] | None = None
             ) -> Run | None:
    """The `Run` of a study cell: the one this command opened (its files read already),
    else its directory's, opened now; None where the cell has no run yet."""
    if opened is not None and name in opened:
        return opened[name]
    path = out / "runs" / name
    return Run(path) if (path / "config.yaml").exists() else None


def _csv_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)
