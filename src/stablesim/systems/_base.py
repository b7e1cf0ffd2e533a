"""The interface every built-in dynamical system implements."""

from __future__ import annotations

import abc
import typing
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._errors import ConfigError


class System(eqx.Module):
    """A dynamical system with a reference stepper, a coarse stepper and ICs.

    States on the *data grid* are shaped `(channels, *space)`; the reference
    stepper may run on a finer *reference grid* and `to_data_grid` maps its
    states down. Physical parameters are a vector of length
    `len(parameter_names)` per trajectory.

    Subclasses set the fields below (static) and implement the abstract
    methods; the split lists are class attributes (empty by default).
    """

    num_channels: eqx.AbstractVar[int]
    num_spatial_dims: eqx.AbstractVar[int]
    num_points: eqx.AbstractVar[int]  # per spatial axis, on the data grid
    dt: eqx.AbstractVar[float]  # time between frames

    train_values: typing.ClassVar[tuple[float, ...]] = ()
    interpolation_values: typing.ClassVar[tuple[float, ...]] = ()
    extrapolation_values: typing.ClassVar[tuple[float, ...]] = ()
    # inside the training range, neither training nor test values: for choices (tuning)
    validation_values: typing.ClassVar[tuple[float, ...]] = ()

    @property
    @abc.abstractmethod
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the physical parameters."""

    @property
    @abc.abstractmethod
    def parameter_range(self) -> tuple[float, float]:
        """Closed interval of supported values of the (first) parameter."""

    @property
    def parameter_scale(self) -> tuple[float, ...]:
        """Factors that bring parameters to O(1) before a network sees them."""
        return tuple(1.0 for _ in self.parameter_names)

    @abc.abstractmethod
    def sample_initial_condition(
        self, key: PRNGKeyArray, params: Float[Array, " P"]
    ) -> Array:
        """Draw a random state on the reference grid."""

    @abc.abstractmethod
    def reference_step(self, state: Array, params: Float[Array, " P"]) -> Array:
        """Advance a reference-grid state by one frame (`dt`)."""

    @abc.abstractmethod
    def coarse_step(
        self, state: Float[Array, " C *N"], params: Float[Array, " P"]
    ) -> Float[Array, " C *N"]:
        """Advance a data-grid state by one frame with the cheap solver."""

    def to_data_grid(self, state: Array) -> Float[Array, " C *N"]:
        """Map a reference-grid state to the data grid (identity by default)."""
        return state

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape `(channels, *space)` of one state on the data grid."""
        return (self.num_channels,) + (self.num_points,) * self.num_spatial_dims

    def check_parameters(self, values: Sequence[float]) -> None:
        """Raise `ConfigError` if a parameter value is outside what is supported.

        **Arguments:**

        - `values`: values of the first physical parameter.
        """
        lo, hi = self.parameter_range
        for v in values:
            if not (lo <= float(v) <= hi):
                raise ConfigError(
                    f"{type(self).__name__}: parameter {self.parameter_names[0]}={v} "
                    f"is outside the supported range [{lo}, {hi}]"
                )

    def trajectories(
        self,
        key: PRNGKeyArray,
        params: Float[ArrayLike, "B P"],
        *,
        frames: int,
        transient: int = 0,
    ) -> Float[Array, "B T C *N"]:
        """Generate reference trajectories on the data grid.

        **Arguments:**

        - `key`: random key for the initial conditions.
        - `params`: physical parameters, one row per trajectory.
        - `frames`: number of frames kept per trajectory (the first is the
            state after the warm-up).
        - `transient`: number of transient frames simulated and discarded.

        **Returns:**

        Trajectories shaped `(trajectories, frames, channels, *space)`, float32.
        The solves run in float64 (initial conditions included) and are
        rounded once at the end: on a chaotic system, float32 steps make the
        same seed give O(1)-different trajectories on CPUs with and without
        FMA or AVX-512 (README, "The same data on any machine").
        """
        params = jnp.asarray(params, dtype=jnp.float32)  # the values the network will see
        keys = jax.random.split(key, params.shape[0])
        with jax.enable_x64(True):
            traj = _generate(self, keys, params.astype(jnp.float64), frames, transient)
            return traj.astype(jnp.float32)


@eqx.filter_jit
def _generate(system: System, keys, params, frames: int, transient: int):
    def one(key, p):
        u0 = system.sample_initial_condition(key, p)

        def advance(u, _):
            return system.reference_step(u, p), None

        u0, _ = jax.lax.scan(advance, u0, None, length=transient)

        def record(u, _):
            return system.reference_step(u, p), system.to_data_grid(u)

        _, traj = jax.lax.scan(record, u0, None, length=frames)
        return traj

    return jax.vmap(one)(keys, params)


def as_parameter_rows(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Turn a list of scalar parameter values into rows `(n, 1)` of float32."""
    arr = np.asarray(values, dtype=np.float32)
    return arr.reshape(-1, 1) if arr.ndim <= 1 else arr
