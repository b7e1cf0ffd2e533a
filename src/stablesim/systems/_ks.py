"""Kuramoto-Sivashinsky in 1D, set up as in the unrolling study."""

from __future__ import annotations

import math

import equinox as eqx
import exponax as ex
from jaxtyping import Array, Float, PRNGKeyArray

from .._options import SYSTEMS as _SYSTEM_FACTS
from ._base import System

_FACTS = _SYSTEM_FACTS["ks"]


class KuramotoSivashinsky(System):
    """u_t + u u_x + u_xx + u_xxxx = 0 on a periodic domain of length 2 pi ds.

    The parameter is `ds`; the network sees `ds / 8`. Reference: ETDRK2
    (Exponax) with `substeps` sub-steps per frame; coarse solver: first-order
    exponential Euler (ETD1) with the same sub-steps, on the same grid.
    No dealiasing, as in the study's solver: at 48 points the 2/3 rule removes
    resolved modes and the reference blows up for ds >= 10.4.

    **Arguments:**

    - `num_points`: grid points (48 in the study).
    - `dt`: time between frames (1.0 = two sub-steps of 0.5 in the study).
    - `substeps`: sub-steps per frame for both solvers.
    """

    num_points: int = eqx.field(static=True, default=48)
    dt: float = eqx.field(static=True, default=1.0)
    substeps: int = eqx.field(static=True, default=2)
    num_channels: int = eqx.field(static=True, default=1)
    num_spatial_dims: int = eqx.field(static=True, default=1)

    # the split values: one owner, the facts the config checks read without JAX
    train_values = _FACTS.train_values
    interpolation_values = _FACTS.interpolation_values
    extrapolation_values = _FACTS.extrapolation_values
    validation_values = _FACTS.validation_values

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return ("ds",)

    @property
    def parameter_range(self) -> tuple[float, float]:
        return (4.0, 16.0)

    @property
    def parameter_scale(self) -> tuple[float, ...]:
        return (1.0 / 8.0,)

    def _stepper(self, params, order: int):
        return ex.stepper.KuramotoSivashinskyConservative(
            1,
            2.0 * math.pi * params[0],
            self.num_points,
            self.dt / self.substeps,
            order=order,
            dealiasing_fraction=1.0,
        )

    def sample_initial_condition(
        self, key: PRNGKeyArray, params: Float[Array, " P"]
    ) -> Float[Array, "1 N"]:
        generator = ex.ic.RandomTruncatedFourierSeries(1, cutoff=5, std_one=True)
        return generator(self.num_points, key=key)

    def reference_step(self, state, params):
        return ex.RepeatedStepper(self._stepper(params, order=2), self.substeps)(state)

    def coarse_step(self, state, params):
        return ex.RepeatedStepper(self._stepper(params, order=1), self.substeps)(state)
