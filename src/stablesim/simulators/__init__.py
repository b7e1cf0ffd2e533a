"""How a network advances a state: prediction and correction simulators."""

from .._paths import resolve_solver_spec
from ._jax_solver import (
    GRADIENT_TOLERANCE,
    check_simulator_solvers,
    check_solver_gradient,
    check_solver_output,
    gradient_error,
    jax_solver,
    jax_trace_problem,
    solvers_of,
)
from ._simulators import (
    AbstractSimulator,
    Correction,
    Prediction,
    SolverAlone,
    rollout,
    with_network,
)
from ._solvers import Solver, as_solver, external_solver, solver_errors
from ._user_solver import load_solver_function, probe_solver

__all__ = [
    "AbstractSimulator",
    "Prediction",
    "Correction",
    "SolverAlone",
    "Solver",
    "as_solver",
    "external_solver",
    "jax_solver",
    "rollout",
    "with_network",
    "solver_errors",
    "check_solver_gradient",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    jax_trace_problem,
    check_solver_output,
    check_simulator_solvers,
    gradient_error,
    GRADIENT_TOLERANCE,
    solvers_of,
    load_solver_function,
    probe_solver,
    resolve_solver_spec,
)
