"""How a network advances a state: alone (prediction) or on a solver (correction)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
from jaxtyping import Array, Float

from .._errors import ConfigError
from ._solvers import Solver, as_solver


class AbstractSimulator(eqx.Module):
    """One step of a learned simulator: `simulator(state, params) -> next state`.

    Every simulator has a trainable `network`; `differentiable` says whether
    gradients may flow through the whole step (False with an external solver).
    """

    network: eqx.AbstractVar[eqx.Module | None]

    @property
    def differentiable(self) -> bool:
        return True

    def __call__(self, state: Float[Array, " C *N"], params: Float[Array, " P"]) -> Float[Array, " C *N"]:
        raise NotImplementedError


class Prediction(AbstractSimulator):
    """The network alone: u' = net(u), or u' = c u + net(u) with `residual=True`.

    **Arguments:**

    - `network`: a module called as `network(state, params)`.
    - `residual`: predict the increment instead of the next state.
    - `contraction`: the factor c < 1 on the state of a residual step (1: the
        plain residual). Every eigenvalue of the step's Jacobian moves by
        c - 1, also in directions the data never shaped; inside the data the
        network learns to compensate.
    """

    network: eqx.Module
    residual: bool = eqx.field(static=True, default=False)
    contraction: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if not 0.0 < self.contraction <= 1.0 or (self.contraction != 1.0 and not self.residual):
            raise ConfigError(f"contraction {self.contraction}: needs 0 < c <= 1 and a "
                              "residual step")

    def __call__(self, state, params):
        out = self.network(state, params)
        if not self.residual:
            return out
        return (state if self.contraction == 1.0 else self.contraction * state) + out


class Correction(AbstractSimulator):
    """A numerical solver S corrected by the network.

    - `mode="parallel"`: u' = S(u) + net(u)
    - `mode="sequential"`: u' = S(u) + net(S(u))

    **Arguments:**

    - `network`: a module called as `network(state, params)`.
    - `solver`: a `Solver`, or a JAX function `solver(state)` /
        `solver(state, params)` (wrapped by `as_solver`).
    - `mode`: `"parallel"` or `"sequential"`.
    """

    network: eqx.Module
    solver: Solver
    mode: Literal["parallel", "sequential"] = eqx.field(static=True)

    def __init__(self, network, solver: Solver | Callable, mode: str = "sequential"):
        if mode not in ("parallel", "sequential"):
            raise ConfigError(f"correction mode must be 'parallel' or 'sequential', got {mode!r}")
        self.network = network
        self.solver = as_solver(solver)
        self.mode = typing.cast(Literal["parallel", "sequential"], mode)

    @property
    def differentiable(self) -> bool:
        return self.solver.differentiable

    def __call__(self, state, params):
        coarse = self.solver(state, params)
        net_input = coarse if self.mode == "sequential" else state
        return coarse + self.network(net_input, params)


class SolverAlone(AbstractSimulator):
    """The numerical solver on its own: the baseline every correction is compared with.

    **Arguments:**

    - `solver`: a `Solver`, or a JAX function (wrapped by `as_solver`).
    """

    network: None
    solver: Solver

    def __init__(self, solver: Solver | Callable):
        self.solver = as_solver(solver)
        self.network = None

    @property
    def differentiable(self) -> bool:
        return self.solver.differentiable

    def __call__(self, state, params):
        return self.solver(state, params)


def with_network(simulator: AbstractSimulator, network) -> AbstractSimulator:
    """The same simulator with its network replaced."""
    return eqx.tree_at(lambda s: s.network, simulator, network)


def rollout(
    simulator: AbstractSimulator,
    initial: Float[Array, " C *N"],
    params: Float[Array, " P"],
    *,
    steps: int,
) -> Float[Array, "steps C *N"]:
    """Apply the simulator `steps` times (a `lax.scan`).

    **Arguments:**

    - `simulator`: the simulator.
    - `initial`: the start state.
    - `params`: its physical parameters.
    - `steps`: number of steps.

    **Returns:**

    The states after 1..steps steps, shaped `(steps, C, *N)`.
    """

    def advance(u, _):
        nxt = simulator(u, params)
        return nxt, nxt

    _, states = jax.lax.scan(advance, initial, None, length=steps)
    return states
