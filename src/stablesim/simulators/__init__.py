"""How a network advances a state: prediction and correction simulators."""

from ._simulators import AbstractSimulator, Correction, Prediction, rollout, with_network
from ._solvers import Solver, as_solver, external_solver

__all__ = [
    "AbstractSimulator",
    "Prediction",
    "Correction",
    "Solver",
    "as_solver",
    "external_solver",
    "rollout",
    "with_network",
]
