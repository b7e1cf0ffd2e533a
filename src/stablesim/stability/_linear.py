"""Gradient descent on a linear model in closed form (the theory's main tool)."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from .._errors import ConfigError, DataError
from ._energy import EnergySpectrum, energy_spectrum


@dataclasses.dataclass(frozen=True)
class LinearTraining:
    """What gradient descent does to y = W x, predicted without running it.

    **Fields:**

    - `weights`: W after `steps` updates (or gradient flow up to `lr * steps`).
    - `limit`: the converged weights: S C^+ + W0 P_perp without noise,
        S (C + sigma^2 I)^-1 with it.
    - `direction_factors`: per data direction u_i (POD order), the factor by
        which the error (W - limit) u_i has shrunk: (1 - lr (lambda_i +
        sigma^2))^steps, or exp(-(lambda_i + sigma^2) lr steps) for flow.
        Directions without energy keep factor 1 when sigma = 0.
    - `energy`: the `EnergySpectrum` of X (lambda_i, u_i, rank).
    - `noise`: sigma.
    - `step_limit`: gradient descent is stable for lr < 2 / (lambda_1 + sigma^2).
    - `shrinkage`: lambda_i / (lambda_i + sigma^2), the noise bias per direction.
    """

    weights: np.ndarray
    limit: np.ndarray
    direction_factors: np.ndarray
    energy: EnergySpectrum
    noise: float
    step_limit: float
    shrinkage: np.ndarray

    def blocks(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(U_r^T W U_r, U_perp^T W U_perp): the learnable and unlearnable blocks."""
        w = self.weights if weights is None else weights
        ur, up = self.energy.learnable_basis, self.energy.unlearnable_basis
        return ur.T @ w @ ur, up.T @ w @ up

    def block_spectra(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues of the learnable block and of the unlearnable block.

        When the data subspace is invariant under the learned map (exact
        linear data without noise), their union is the spectrum of the map.
        """
        learn, unlearn = self.blocks(weights)
        return (np.linalg.eigvals(learn) if learn.size else np.zeros(0, complex),
                np.linalg.eigvals(unlearn) if unlearn.size else np.zeros(0, complex))


def linear_training(
    X: Float[np.ndarray, "samples n"],
    Y: Float[np.ndarray, "samples m"],
    W0: Float[np.ndarray, "m n"],
    *,
    lr: float,
    updates: int,
    noise: float = 0.0,
    flow: bool = False,
) -> LinearTraining:
    """Weights of y = W x after gradient descent on the mean squared error, in closed form.

    The loss is the mean over samples of (1/2)||y - W x||^2 (with `noise` =
    sigma > 0, its expectation under input noise N(0, sigma^2 I), which is the
    ridge loss plus (sigma^2/2)||W||^2). With C = X^T X / N and S = Y^T X / N,
    each update is W <- W - lr (W (C + sigma^2 I) - S), so
    W_k = W_inf + (W0 - W_inf)(I - lr (C + sigma^2 I))^k.

    **Arguments:**

    - `X`, `Y`: inputs and targets, `(samples, features)`.
    - `W0`: initial weights `(outputs, inputs)`.
    - `lr`: step size (for `flow=True`, with `updates` it sets the time lr * updates).
    - `updates`: number of updates.
    - `noise`: input-noise standard deviation sigma.
    - `flow`: gradient flow instead of gradient descent.

    **Returns:**

    A `LinearTraining`.
    """
    x, y, w0 = (np.asarray(a, np.float64) for a in (X, Y, W0))
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise DataError(f"X and Y must be (samples, features) with the same samples, got "
                        f"{x.shape} and {y.shape}")
    if w0.shape != (y.shape[1], x.shape[1]):
        raise DataError(f"W0 must be shaped ({y.shape[1]}, {x.shape[1]}), got {w0.shape}")
    if lr <= 0 or updates < 0 or noise < 0:
        raise ConfigError(f"need lr > 0, updates >= 0, noise >= 0; got {lr}, {updates}, {noise}")
    energy = energy_spectrum(x, fourier=False)
    lam, u = energy.energies, energy.directions
    n = x.shape[0]
    s = y.T @ x / n
    sig2 = float(noise) ** 2
    rate = lam + sig2
    inv = np.zeros_like(lam)
    keep = np.arange(lam.size) < energy.rank if sig2 == 0 else np.ones(lam.size, bool)
    inv[keep] = 1.0 / rate[keep]
    limit = s @ (u * inv) @ u.T
    if sig2 == 0:
        limit = limit + w0 @ energy.unlearnable_basis @ energy.unlearnable_basis.T
    if flow:
        factors = np.exp(-rate * lr * updates)
    else:
        factors = (1.0 - lr * rate) ** updates
    if sig2 == 0:
        factors = np.where(keep, factors, 1.0)
    weights = limit + (w0 - limit) @ (u * factors) @ u.T
    shrink = np.where(keep, lam / np.where(rate > 0, rate, 1.0), 0.0)
    return LinearTraining(weights, limit, factors, energy, float(noise),
                          2.0 / (lam[0] + sig2) if lam[0] + sig2 > 0 else float("inf"), shrink)
