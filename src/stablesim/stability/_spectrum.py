"""Eigenvalues of learned simulators: exact for linear maps, Jacobians otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError


def _as_function(simulator, params) -> Callable:
    """One step as a function of the state alone."""
    from ..simulators import AbstractSimulator

    if not callable(simulator):
        raise ConfigError(f"spectrum needs a matrix or a simulator, got {type(simulator).__name__}")
    if isinstance(simulator, AbstractSimulator) or params is not None:
        p = jnp.zeros(0) if params is None else jnp.asarray(params)
        return lambda u: simulator(u, p)
    return simulator


def uses_finite_differences(simulator) -> bool:
    """Whether Jacobians of `simulator` come from finite differences (an external solver)."""
    return not getattr(simulator, "differentiable", True)


def finite_difference_step(x: Float[Array | np.ndarray, " n"]) -> float:
    """Central-difference step h = eps^(1/3) ||x|| along a unit direction (float32: 5e-3 ||x||)."""
    eps = float(jnp.finfo(jnp.asarray(x).dtype).eps)
    return eps ** (1.0 / 3.0) * max(float(jnp.linalg.norm(x)), 1e-6)


def _jvp_function(simulator, state, params) -> Callable:
    """v -> J v at `state`: forward-mode autodiff, or central finite differences when the
    simulator runs an external (non-differentiable) solver."""
    fn = _as_function(simulator, params)
    shape = jnp.shape(state)
    x = jnp.ravel(jnp.asarray(state))
    flat = lambda z: jnp.ravel(fn(z.reshape(shape)))  # noqa: E731
    if not uses_finite_differences(simulator):
        return lambda v: jax.jvp(flat, (x,), (v,))[1]
    h = finite_difference_step(x)

    def fd(v):
        size = jnp.linalg.norm(v)
        unit = v / jnp.where(size > 0, size, 1.0)
        return (flat(x + h * unit) - flat(x - h * unit)) / (2 * h) * size

    return fd


def jacobian(simulator, state: Float[Array | np.ndarray, "*S"], params=None) -> np.ndarray:
    """The dense Jacobian of one step at a state, flattened to `(n, n)`.

    Forward-mode autodiff; for a simulator on an external solver (no
    derivatives), central finite differences with `finite_difference_step`.
    """
    x = jnp.ravel(jnp.asarray(state))
    jvp = _jvp_function(simulator, state, params)
    return np.asarray(jax.vmap(jvp, out_axes=1)(jnp.eye(x.size, dtype=x.dtype)))


def _arnoldi_eigs(simulator, state, params, k: int, basis=None, normal_to=None) -> np.ndarray:
    """k largest-magnitude Jacobian eigenvalues by implicitly restarted Arnoldi (SciPy);
    with `normal_to` (orthonormal columns U), of P J P with P = I - U U^T, formed from
    products only (its other eigenvalues are those of the compression onto U's complement,
    plus zeros)."""
    from scipy.sparse.linalg import LinearOperator, eigs

    x = jnp.ravel(jnp.asarray(state))
    jvp = jax.jit(_jvp_function(simulator, state, params))
    n = x.size
    if normal_to is not None:
        u = np.asarray(normal_to, np.float64)
        out = lambda v: v - u @ (u.T @ v)  # noqa: E731
        op = LinearOperator((n, n), dtype=np.float64, matvec=lambda v: out(np.asarray(
            jvp(jnp.asarray(out(np.ravel(v)), x.dtype)), np.float64)))
    elif basis is None:
        op = LinearOperator((n, n), matvec=lambda v: np.asarray(jvp(jnp.asarray(v, x.dtype))),
                            dtype=np.float64)
    else:
        q = np.asarray(basis)
        op = LinearOperator((q.shape[1],) * 2, dtype=np.float64,
                            matvec=lambda v: q.T @ np.asarray(jvp(jnp.asarray(q @ v, x.dtype))))
    return eigs(op, k=k, which="LM", return_eigenvectors=False)


def spectrum(
    simulator_or_matrix,
    states: Float[Array | np.ndarray, " K *S"] | None = None,
    *,
    params=None,
    basis: Float[np.ndarray, "n k"] | None = None,
    k: int | None = None,
    normal_to: Float[np.ndarray, "n r"] | None = None,
) -> np.ndarray:
    """Eigenvalues of a linear map, or of a simulator's Jacobian at given states.

    **Arguments:**

    - `simulator_or_matrix`: a square matrix (exact eigenvalues), or a
        simulator `f(state, params)` / function `f(state)`.
    - `states`: states to linearise at, `(K, *state)`; None for a linear
        simulator (its Jacobian at zero is the map itself).
    - `params`: physical parameters passed to a simulator.
    - `basis`: orthonormal columns Q `(n, k)`; the eigenvalues of the
        compression Q^T J Q, e.g. the directions normal to the data subspace
        (`EnergySpectrum.unlearnable_basis`).
    - `k`: only the k largest in magnitude, by Arnoldi iteration on
        Jacobian-vector products (for large states); None: dense.
    - `normal_to`: with `k`, instead of `basis`: orthonormal columns U `(n, r)`
        (e.g. `EnergySpectrum.learnable_basis`); the eigenvalues normal to them,
        from products with P J P, P = I - U U^T (no basis of the complement
        is formed: memory O(n r)).

    **Returns:**

    Complex eigenvalues: `(n,)` for a matrix or a single linearisation,
    `(K, n)` (or `(K, k)`) for K states.
    """
    if isinstance(simulator_or_matrix, np.ndarray | jax.Array) and not callable(simulator_or_matrix):
        m = np.asarray(simulator_or_matrix, np.float64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ConfigError(f"spectrum of a matrix needs a square one, got shape {m.shape}")
        if basis is not None:
            m = basis.T @ m @ basis
        return np.linalg.eigvals(m).astype(complex)
    if states is None:
        raise ConfigError("spectrum of a simulator needs states to linearise at (a linear "
                          "simulator: pass one state of zeros)")
    out = []
    for state in states:
        if k is not None:
            out.append(_arnoldi_eigs(simulator_or_matrix, state, params, k, basis, normal_to))
            continue
        if normal_to is not None:
            raise ConfigError("spectrum: normal_to needs k (Arnoldi); dense: pass the "
                              "complement as basis")
        jac = jacobian(simulator_or_matrix, state, params)
        if basis is not None:
            jac = basis.T @ jac @ basis
        out.append(np.linalg.eigvals(jac))
    return np.asarray(out, complex)


def spectral_radius(eigenvalues) -> float:
    """max |mu|: a discrete map is stable when below 1."""
    return float(np.max(np.abs(eigenvalues)))


def max_real_part(eigenvalues) -> float:
    """max Re(lambda): a continuous-time generator is stable when below 0."""
    return float(np.max(np.real(eigenvalues)))


@dataclasses.dataclass(frozen=True)
class StabilitySummary:
    """Stability of a spectrum in discrete or continuous time."""

    eigenvalues: np.ndarray
    time: str
    bound: float
    stable: bool
    unstable_count: int


def classify(eigenvalues, *, time: str = "discrete", tol: float = 1e-9) -> StabilitySummary:
    """Spectral radius (discrete) or max real part (continuous), and the unstable count."""
    ev = np.ravel(np.asarray(eigenvalues))
    if time == "discrete":
        bound, unstable = spectral_radius(ev), int((np.abs(ev) > 1 + tol).sum())
        return StabilitySummary(ev, time, bound, bound <= 1 + tol, unstable)
    if time == "continuous":
        bound, unstable = max_real_part(ev), int((ev.real > tol).sum())
        return StabilitySummary(ev, time, bound, bound <= tol, unstable)
    raise ConfigError(f"time must be 'discrete' or 'continuous', got {time!r}")
