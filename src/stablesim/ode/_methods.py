"""Integrators as data: Butcher tables and linear multistep stencils.

A neural ODE built on an integrator is a ResNet whose layers are its steps
(or stages). Which per-layer gradient autodiff returns depends only on these
coefficients, so each method carries them explicitly and the gradient
correction is derived from them rather than from a hand-written special case.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from .._errors import ConfigError


@dataclasses.dataclass(frozen=True)
class RungeKutta:
    """An explicit Runge-Kutta method.

    k_i = f(x_n + h sum_j a_ij k_j; theta at t_n + c_i h),
    x_{n+1} = x_n + h sum_i b_i k_i.

    **Arguments:**

    - `name`: the registry name.
    - `order`: the classical order of accuracy.
    - `a`: strictly lower triangular Butcher matrix, one tuple per stage.
    - `b`: the weights.
    - `c`: the stage times as fractions of a step.
    """

    name: str
    order: int
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    kind: Literal["runge_kutta"] = "runge_kutta"

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def equal_weights(self) -> bool:
        """Whether every stage carries the same weight (no stage oscillation)."""
        return bool(np.allclose(self.b, self.b[0]))

    @property
    def start(self) -> tuple[str, ...]:
        return ()


@dataclasses.dataclass(frozen=True)
class Multistep:
    """An explicit linear multistep method with one vector-field evaluation per node.

    x_{n+1} = sum_j alpha_j x_{n-j} + h sum_j beta_j f(x_{n-j}; theta_{n-j}),
    j = 0..k-1. Its first k-1 steps use the methods named in `start` (the
    family's own lower-step members), so every layer evaluates the vector
    field once, at its node t_n = n h, with its own parameters theta_n.

    **Arguments:**

    - `name`: the registry name.
    - `order`: the order of the k-step formula itself.
    - `alpha`, `beta`: the coefficients, j = 0..k-1.
    - `start`: names of the methods used for steps 1..k-1.
    """

    name: str
    order: int
    alpha: tuple[float, ...]
    beta: tuple[float, ...]
    start: tuple[str, ...]
    kind: Literal["multistep"] = "multistep"

    @property
    def stages(self) -> int:
        return 1

    @property
    def k(self) -> int:
        return len(self.alpha)

    @property
    def rho(self) -> np.ndarray:
        """Coefficients (highest power first) of rho(z) = z^k - sum_j alpha_j z^(k-1-j)."""
        return np.concatenate([[1.0], -np.asarray(self.alpha, dtype=float)])

    @property
    def sigma(self) -> np.ndarray:
        """Coefficients (highest power first) of sigma(z) = sum_j beta_j z^(k-1-j)."""
        return np.asarray(self.beta, dtype=float)

    @property
    def parasitic_roots(self) -> np.ndarray:
        """Roots of rho other than the principal root 1."""
        roots = np.roots(self.rho)
        principal = int(np.argmin(np.abs(roots - 1.0)))
        return np.delete(roots, principal)

    @property
    def weakly_stable(self) -> bool:
        """A parasitic root on the unit circle: its adjoint oscillates and never decays."""
        return bool(np.any(np.abs(np.abs(self.parasitic_roots) - 1.0) < 1e-9))

    def coefficient_table(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The rule used for each step, start steps included.

        **Arguments:**

        - `steps`: the number of steps N.

        **Returns:**

        `(alpha, beta)`, each shaped (N, k): row n computes x_{n+1} from
        x_{n-j} and f_{n-j}; entries that would reach before x_0 are zero.
        """
        alpha = np.zeros((steps, self.k))
        beta = np.zeros((steps, self.k))
        for n in range(steps):
            rule = _MULTISTEP_RULES[self.start[n]] if n < len(self.start) else self
            alpha[n, : rule.k] = rule.alpha
            beta[n, : rule.k] = rule.beta
        return alpha, beta

    def parameter_weights(self, steps: int) -> np.ndarray:
        """Total stencil weight of each node's parameters, sum of the betas it appears with.

        Interior nodes carry sigma(1); the first nodes (start steps) and the
        last k-1 nodes (fewer later steps) carry partial sums.
        """
        _, beta = self.coefficient_table(steps)
        weights = np.zeros(steps)
        for n in range(steps):
            for j in range(self.k):
                if n - j >= 0:
                    weights[n - j] += beta[n, j]
        return weights

    def degenerate_weights(self, steps: int) -> np.ndarray:
        """d x_N / d theta_m / h for f(x; theta) = theta: the weight autodiff gives each node.

        This is the gradient pattern of the closed-form case A = df/dx = 0,
        where the discrete adjoint keeps exactly its start values.
        """
        alpha, beta = self.coefficient_table(steps)
        adjoint = np.zeros(steps + 1)
        adjoint[steps] = 1.0
        weights = np.zeros(steps)
        for n in range(steps - 1, -1, -1):
            for j in range(self.k):
                m = n - j
                if m >= 0:
                    adjoint[m] += alpha[n, j] * adjoint[n + 1]
                    weights[m] += beta[n, j] * adjoint[n + 1]
        return weights


Integrator = RungeKutta | Multistep

_EULER_RULE = Multistep("euler", 1, (1.0,), (1.0,), ())
_LEAPFROG = Multistep("leapfrog", 2, (0.0, 1.0), (2.0, 0.0), ("euler",))
_AB2 = Multistep("ab2", 2, (1.0, 0.0), (1.5, -0.5), ("euler",))
_MULTISTEP_RULES = {"euler": _EULER_RULE, "leapfrog": _LEAPFROG, "ab2": _AB2}

INTEGRATORS: dict[str, Integrator] = {
    "euler": RungeKutta("euler", 1, ((),), (1.0,), (0.0,)),
    "heun": RungeKutta("heun", 2, ((), (1.0,)), (0.5, 0.5), (0.0, 1.0)),
    "midpoint": RungeKutta("midpoint", 2, ((), (0.5,)), (0.0, 1.0), (0.0, 0.5)),
    "ralston": RungeKutta("ralston", 2, ((), (2.0 / 3.0,)), (0.25, 0.75), (0.0, 2.0 / 3.0)),
    "rk4": RungeKutta(
        "rk4", 4, ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        (1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0), (0.0, 0.5, 0.5, 1.0),
    ),
    "ab2": _AB2,
    "ab3": Multistep("ab3", 3, (1.0, 0.0, 0.0), (23.0 / 12.0, -16.0 / 12.0, 5.0 / 12.0),
                     ("euler", "ab2")),
    "leapfrog": _LEAPFROG,
    "nystrom3": Multistep("nystrom3", 3, (0.0, 1.0, 0.0), (7.0 / 3.0, -2.0 / 3.0, 1.0 / 3.0),
                          ("euler", "leapfrog")),
}


def get_integrator(method: str | Integrator) -> Integrator:
    """Look an integrator up by name (or pass one through).

    **Arguments:**

    - `method`: one of `INTEGRATORS`, or a `RungeKutta` / `Multistep`.

    **Returns:**

    The integrator. Raises `ConfigError` for an unknown name.
    """
    if isinstance(method, (RungeKutta, Multistep)):
        return method
    try:
        return INTEGRATORS[method]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown integrator {method!r}; choose one of {', '.join(INTEGRATORS)}"
        ) from None
