"""Mitigations: projection onto the data subspace, noise with its bias made explicit."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError
from ..simulators import AbstractSimulator


def noise_bias(energies, noise: float) -> np.ndarray:
    """lambda_i / (lambda_i + sigma^2): how much noise injection shrinks each direction.

    1 means unbiased; the weakest directions are shrunk most. Directions with
    no energy get 0 (noise damps them to zero, which is the point).
    """
    lam = np.asarray(energies, np.float64)
    rate = lam + float(noise) ** 2
    return np.where(rate > 0, lam / np.where(rate > 0, rate, 1.0), 0.0)


def recommend_noise(energies, *, tolerated_bias: float = 0.05, keep: int | None = None,
                    rank: int | None = None, horizon: int = 1) -> float:
    """The largest sigma whose shrinkage of every kept direction stays within tolerance.

    The per-step shrinkage lambda / (lambda + sigma^2) compounds over a
    rollout: after H steps a direction keeps (lambda / (lambda + sigma^2))^H.
    Solving that >= 1 - tolerated_bias for the weakest kept energy lambda_k
    gives sigma = sqrt(lambda_k ((1 - tol)^(-1/H) - 1)); H = 1 is the per-step
    rule sigma = sqrt(lambda_k tol / (1 - tol)).

    **Arguments:**

    - `energies`: POD energies, descending.
    - `tolerated_bias`: allowed relative shrinkage of the kept directions over
        `horizon` steps.
    - `horizon`: rollout steps over which the shrinkage compounds.
    - `keep`: how many leading directions must be learned faithfully
        (default: `rank`, all directions with energy).
    - `rank`: the numerical rank (default: energies above 1e-12 of the first).

    **Returns:**

    sigma.
    """
    lam = np.asarray(energies, np.float64)
    if not 0 < tolerated_bias < 1:
        raise ConfigError(f"tolerated_bias must be in (0, 1), got {tolerated_bias}")
    if rank is None:
        rank = int((lam > 1e-12 * lam[0]).sum())
    k = rank if keep is None else keep
    if not 1 <= k <= rank:
        raise ConfigError(f"keep must be in [1, rank={rank}], got {k}")
    if horizon < 1:
        raise ConfigError(f"horizon must be >= 1, got {horizon}")
    return float(np.sqrt(lam[k - 1] * ((1 - tolerated_bias) ** (-1.0 / horizon) - 1.0)))


class AfterStep(AbstractSimulator):
    """A simulator whose every step is followed by a fixed map `after` (a projection, a
    filter): the wrapped simulator's network is the one trained, and gradients flow
    through `after` exactly when they flow through the simulator."""

    simulator: eqx.AbstractVar[AbstractSimulator]

    @property  # type: ignore[misc]
    def network(self):
        return self.simulator.network

    @property
    def differentiable(self) -> bool:
        return self.simulator.differentiable

    @abc.abstractmethod
    def after(self, state: Array) -> Array:
        """The map applied to every step's output."""

    def __call__(self, state, params):
        return self.after(self.simulator(state, params))


class Projected(AfterStep):
    """A simulator followed by the projection x <- P x onto the data subspace.

    The learned map's action on directions the data never visit (which only
    the initialization decided) is removed from every rollout step.

    **Arguments:**

    - `simulator`: the simulator to wrap.
    - `basis`: orthonormal columns U_r `(n, r)` of the data subspace (flattened
        states), e.g. `energy_spectrum(data).learnable_basis`.
    """

    simulator: AbstractSimulator
    basis: Float[Array, "n r"]

    def __init__(self, simulator: AbstractSimulator, basis):
        basis = jnp.asarray(basis)
        if basis.ndim != 2:
            raise ConfigError(f"basis must be (features, rank), got shape {basis.shape}")
        self.simulator = simulator
        self.basis = basis

    def after(self, out):
        flat = out.reshape(-1)
        if flat.shape[0] != self.basis.shape[0]:
            raise ConfigError(f"basis has {self.basis.shape[0]} features, states have {flat.shape[0]}")
        return (self.basis @ (self.basis.T @ flat)).reshape(out.shape)


def to_pod(states: Float[Array | np.ndarray, " K *S"],
           basis: Float[Array | np.ndarray, "n r"]) -> Float[Array, "K r"]:
    """POD coordinates U_r^T x of flattened states (train a model in these)."""
    return jnp.asarray(states).reshape(states.shape[0], -1) @ jnp.asarray(basis)


def from_pod(coords: Float[Array | np.ndarray, "K r"], basis: Float[Array | np.ndarray, "n r"],
             shape: tuple[int, ...]) -> Array:
    """States U_r a from POD coordinates, reshaped to `(K, *shape)`."""
    return (jnp.asarray(coords) @ jnp.asarray(basis).T).reshape((coords.shape[0],) + tuple(shape))



def residual_noise_limit(
    X: Float[np.ndarray, "samples n"],
    Y: Float[np.ndarray, "samples n"],
    *,
    noise: float,
    clean_target: bool = True,
) -> np.ndarray:
    """Converged W of a residual model y = x + W x trained with input noise sigma.

    With the clean target (predict the clean next state y from the noisy
    input x + eps), W regresses (y - x - eps) on x + eps:
    W = (S - C - sigma^2 I)(C + sigma^2 I)^-1, so on directions without
    energy x + W x = 0 (damped). Without the correction (the increment y - x
    as the target, noise only on the input), W = (S - C)(C + sigma^2 I)^-1 and
    those directions keep x + W x = x (marginal).

    **Arguments:**

    - `X`, `Y`: states and next states, `(samples, n)`.
    - `noise`: sigma > 0.
    - `clean_target`: the corrected target.

    **Returns:**

    W, `(n, n)`.
    """
    x, y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    n = x.shape[0]
    c = x.T @ x / n
    s = y.T @ x / n
    eye = np.eye(c.shape[0])
    rhs = s - c - (noise**2) * eye if clean_target else s - c
    return np.linalg.solve((c + noise**2 * eye).T, rhs.T).T
