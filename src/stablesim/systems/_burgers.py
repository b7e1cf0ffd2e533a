"""Viscous Burgers in 1D on a periodic domain."""

from __future__ import annotations

import math

import equinox as eqx
import exponax as ex
from jaxtyping import Array, Float, PRNGKeyArray

from .._options import SYSTEMS as _SYSTEM_FACTS
from ._base import System

_FACTS = _SYSTEM_FACTS["burgers"]


class Burgers(System):
    """u_t + u u_x = nu u_xx on [0, 2 pi), parameter `nu` (network sees 20 nu).

    Reference: ETDRK2 on a grid `refinement` times finer with
    `reference_substeps` sub-steps per frame, Fourier-downsampled to the data
    grid. Coarse solver: ETD1 on the data grid with `coarse_substeps` steps.

    **Arguments:**

    - `num_points`: data-grid points.
    - `refinement`: reference grid factor.
    - `dt`: time between frames.
    """

    num_points: int = eqx.field(static=True, default=64)
    refinement: int = eqx.field(static=True, default=4)
    dt: float = eqx.field(static=True, default=0.1)
    reference_substeps: int = eqx.field(static=True, default=8)
    coarse_substeps: int = eqx.field(static=True, default=2)
    num_channels: int = eqx.field(static=True, default=1)
    num_spatial_dims: int = eqx.field(static=True, default=1)

    # the split values: one owner, the facts the config checks read without JAX
    train_values = _FACTS.train_values
    interpolation_values = _FACTS.interpolation_values
    extrapolation_values = _FACTS.extrapolation_values
    validation_values = _FACTS.validation_values

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return ("nu",)

    @property
    def parameter_range(self) -> tuple[float, float]:
        return (0.005, 0.5)

    @property
    def parameter_scale(self) -> tuple[float, ...]:
        return (20.0,)

    def _stepper(self, params, num_points: int, substeps: int, order: int):
        return ex.stepper.Burgers(
            1, 2.0 * math.pi, num_points, self.dt / substeps,
            diffusivity=params[0], order=order,
        )

    def sample_initial_condition(
        self, key: PRNGKeyArray, params: Float[Array, " P"]
    ) -> Float[Array, "1 Nf"]:
        generator = ex.ic.RandomTruncatedFourierSeries(1, cutoff=4, max_one=True)
        return generator(self.num_points * self.refinement, key=key)

    def reference_step(self, state, params):
        stepper = self._stepper(
            params, self.num_points * self.refinement, self.reference_substeps, 2
        )
        return ex.RepeatedStepper(stepper, self.reference_substeps)(state)

    def coarse_step(self, state, params):
        stepper = self._stepper(params, self.num_points, self.coarse_substeps, 1)
        return ex.RepeatedStepper(stepper, self.coarse_substeps)(state)

    def to_data_grid(self, state):
        return ex.map_between_resolutions(state, self.num_points)
