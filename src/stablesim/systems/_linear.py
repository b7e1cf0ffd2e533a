"""Linear systems with chosen eigenvalues and data confined to a subspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import ConfigError
from ._base import System


def _real_blocks(eigenvalues: Sequence[complex | float]) -> np.ndarray:
    """Block-diagonal real matrix with the given eigenvalues.

    A real value gives a 1x1 block; a complex value a + ib gives the 2x2 block
    [[a, -b], [b, a]] with eigenvalues a +- ib (list each pair once).
    """
    blocks = []
    for z in eigenvalues:
        z = complex(z)
        if z.imag == 0.0:
            blocks.append(np.array([[z.real]]))
        else:
            re_part, im_part = z.real, abs(z.imag)
            blocks.append(np.array([[re_part, -im_part], [im_part, re_part]]))
    size = sum(b.shape[0] for b in blocks)
    out = np.zeros((size, size))
    i = 0
    for b in blocks:
        k = b.shape[0]
        out[i : i + k, i : i + k] = b
        i += k
    return out


class LinearSystem(System):
    """x_{t+1} = A x_t (discrete) or dx/dt = L x (continuous), states `(n,)`.

    Build with `LinearSystem.build`. The data subspace, spanned by the columns
    of `basis`, is invariant; initial conditions lie in it, so trajectories
    never leave it and its orthogonal complement carries no data energy.
    The reference step is exact (A, or expm(L dt)); the coarse step is forward
    Euler x + dt L x for continuous time and the identity for discrete time.
    """

    # Keyword-only: the base class's fields (with defaults) come first in order.
    operator: Float[Array, "n n"] = eqx.field(kw_only=True)
    propagator: Float[Array, "n n"] = eqx.field(kw_only=True)
    basis: Float[Array, "n r"] = eqx.field(kw_only=True)
    time: Literal["discrete", "continuous"] = eqx.field(static=True, default="discrete")
    dt: float = eqx.field(static=True, default=0.1)
    num_channels: int = eqx.field(static=True, default=1)
    num_points: int = eqx.field(static=True, default=1)
    num_spatial_dims: int = eqx.field(static=True, default=0)

    @classmethod
    def build(
        cls,
        eigenvalues: Sequence[complex | float],
        *,
        dimension: int,
        time: Literal["discrete", "continuous"] = "discrete",
        dt: float = 0.1,
        complement_eigenvalues: Sequence[complex | float] | None = None,
        key: PRNGKeyArray,
    ) -> LinearSystem:
        """Build a linear system in a random orthonormal basis.

        **Arguments:**

        - `eigenvalues`: eigenvalues on the data subspace; a complex value
            stands for itself and its conjugate (two dimensions).
        - `dimension`: the state dimension n.
        - `time`: `"discrete"` (eigenvalues of A) or `"continuous"` (of L).
        - `dt`: time between frames.
        - `complement_eigenvalues`: eigenvalues on the complement (default 0).
        - `key`: random key for the basis.

        **Returns:**

        The system; `basis` holds the orthonormal data directions (n, r).
        """
        if time not in ("discrete", "continuous"):
            raise ConfigError(f"time must be 'discrete' or 'continuous', got {time!r}")
        data_block = _real_blocks(eigenvalues)
        r = data_block.shape[0]
        if r > dimension:
            raise ConfigError(f"{r} data dimensions do not fit in dimension {dimension}")
        m = dimension - r
        comp = list(complement_eigenvalues) if complement_eigenvalues is not None else [0.0] * m
        comp_block = _real_blocks(comp) if comp else np.zeros((0, 0))
        if comp_block.shape[0] != m:
            raise ConfigError(
                f"complement_eigenvalues span {comp_block.shape[0]} dimensions, need {m}"
            )
        full = np.zeros((dimension, dimension))
        full[:r, :r] = data_block
        full[r:, r:] = comp_block
        q, _ = np.linalg.qr(np.asarray(jax.random.normal(key, (dimension, dimension)), np.float64))
        operator = q @ full @ q.T
        if time == "discrete":
            propagator = operator
        else:
            propagator = np.asarray(jsl.expm(jnp.asarray(operator * dt)))
        return cls(
            operator=jnp.asarray(operator, jnp.float32),
            propagator=jnp.asarray(propagator, jnp.float32),
            basis=jnp.asarray(q[:, :r], jnp.float32),
            time=time,
            dt=float(dt),
            num_channels=dimension,
        )

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return ()

    @property
    def parameter_range(self) -> tuple[float, float]:
        return (-np.inf, np.inf)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (self.num_channels,)

    def sample_initial_condition(self, key, params) -> Float[Array, " n"]:
        z = jax.random.normal(key, (self.basis.shape[1],))
        return self.basis @ z

    def reference_step(self, state, params):
        return self.propagator @ state

    def coarse_step(self, state, params):
        if self.time == "discrete":
            return state
        return state + self.dt * (self.operator @ state)
