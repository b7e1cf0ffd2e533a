"""Run directories: build from a config, train, resume, evaluate."""

from ._build import (
    build_system,
    dataset_key,
    make_dataset,
    normalization_mode,
    run_normalization,
    run_paths,
    simulator_factory,
    split_dataset,
    split_values,
)
from ._data_source import open_run_data, read_normalization, record_data
from ._diagnose import Diagnosis, diagnose_run
from ._evaluate import TEST_SETS, VALIDATION, evaluate_run
from ._fixes import Fix, Outcome, candidate_fixes
from ._lifecycle import read_run_config, resume_run, run_progress, train_run
from ._opened import Run
from ._rollout import rollout_run
from ._solver_build import baseline_simulator, build_solver, check_solver, solver_kind_of
from ._stabilize import Stabilization, stabilize_run

__all__ = [
    "Run",
    "train_run",
    "resume_run",
    "evaluate_run",
    "rollout_run",
    "diagnose_run",
    "Diagnosis",
    "stabilize_run",
    "Stabilization",
    "read_run_config",
    "TEST_SETS",
    "VALIDATION",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    run_progress,
    run_paths,
    build_system,
    make_dataset,
    split_dataset,
    simulator_factory,
    baseline_simulator,
    build_solver,
    check_solver,
    solver_kind_of,
    dataset_key,
    Outcome,
    Fix,
    candidate_fixes,
    split_values,
    open_run_data,
    record_data,
    run_normalization,
    normalization_mode,
    read_normalization,
)
