"""Continuous time: finite-difference targets, the generator they imply, eigenvalue maps."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.linalg
from jaxtyping import Float

from .._errors import ConfigError, DataError

Scheme = Literal["forward", "backward", "central"]
SCHEMES: tuple[str, ...] = ("forward", "backward", "central")


def finite_difference(
    trajectories: Float[np.ndarray, "B T *S"], dt: float, *, scheme: Scheme = "central"
) -> tuple[np.ndarray, np.ndarray]:
    """(state, estimated derivative) pairs from trajectories, to regress dx/dt = f(x).

    - forward: (x_{t+1} - x_t) / dt at x_t
    - backward: (x_t - x_{t-1}) / dt at x_t
    - central: (x_{t+1} - x_{t-1}) / (2 dt) at x_t

    **Arguments:**

    - `trajectories`: `(trajectories, time, *state)`.
    - `dt`: time between frames.
    - `scheme`: the difference.

    **Returns:**

    `(states, derivatives)`, each `(samples, *state)`.
    """
    x = np.asarray(trajectories, np.float64)
    if x.ndim < 3 or x.shape[1] < 3:
        raise DataError(f"need trajectories (B, T >= 3, *state), got shape {x.shape}")
    if dt <= 0:
        raise ConfigError(f"dt must be > 0, got {dt}")
    if scheme == "forward":
        states, deriv = x[:, :-1], (x[:, 1:] - x[:, :-1]) / dt
    elif scheme == "backward":
        states, deriv = x[:, 1:], (x[:, 1:] - x[:, :-1]) / dt
    elif scheme == "central":
        states, deriv = x[:, 1:-1], (x[:, 2:] - x[:, :-2]) / (2 * dt)
    else:
        raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    flat = (-1,) + x.shape[2:]
    return states.reshape(flat), deriv.reshape(flat)


def implied_generator(L: Float[np.ndarray, "n n"], dt: float, *, scheme: Scheme) -> np.ndarray:
    """The generator that regressing finite differences of exact data learns.

    For data from dx/dt = L x sampled every dt (and data spanning the space):
    forward differences learn (e^{L dt} - I)/dt (spurious damping), backward
    (I - e^{-L dt})/dt (spurious growth), central sinh(L dt)/dt (neutral).

    **Arguments:**

    - `L`: the true generator.
    - `dt`: the sampling interval.
    - `scheme`: `forward`, `backward` or `central`.

    **Returns:**

    The learned generator, `(n, n)`.
    """
    L = np.asarray(L, np.float64)
    eye = np.eye(L.shape[0])
    if scheme == "forward":
        return (scipy.linalg.expm(L * dt) - eye) / dt
    if scheme == "backward":
        return (eye - scipy.linalg.expm(-L * dt)) / dt
    if scheme == "central":
        return (scipy.linalg.expm(L * dt) - scipy.linalg.expm(-L * dt)) / (2 * dt)
    raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def implied_eigenvalue(lam, dt: float, *, scheme: Scheme):
    """`implied_generator` on one eigenvalue: what lambda becomes under the scheme."""
    lam = np.asarray(lam, complex)
    if scheme == "forward":
        return (np.exp(lam * dt) - 1) / dt
    if scheme == "backward":
        return (1 - np.exp(-lam * dt)) / dt
    if scheme == "central":
        return np.sinh(lam * dt) / dt
    raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def discrete_to_continuous(mu, dt: float):
    """A discrete eigenvalue mu of a one-step map as a rate: log(mu) / dt (principal branch)."""
    return np.log(np.asarray(mu, complex)) / dt


def continuous_to_discrete(lam, dt: float):
    """A continuous eigenvalue lambda as the eigenvalue exp(lambda dt) of the dt-flow map."""
    return np.exp(np.asarray(lam, complex) * dt)
