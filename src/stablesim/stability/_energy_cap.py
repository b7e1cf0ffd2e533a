"""A bound on a rollout's energy: no state beyond the most energetic state of the data.

A learned step that gains a little energy per step (a truth that conserves
or slowly loses it gives the network no margin) drifts, over long rollouts,
to several times the data's energy while staying bounded and smooth.
`EnergyCapped` rescales every step's output onto the ball of the largest
energy (mean square) any training state has; states inside it are untouched,
so it changes nothing where the model stays physical.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..simulators import AbstractSimulator
from ._mitigations import AfterStep


def largest_mean_square(trajectories: Float[np.ndarray, "B T *state"]) -> float:
    """The largest mean square of any one state (frame) of the trajectories.

    **Arguments:** trajectories `(B, T, *state)` (every axis after the second is the
    state's).

    **Returns:** the largest `mean(u**2)` over frames, in float64.
    """
    largest = 0.0
    for trajectory in trajectories:  # one at a time: no copy of the whole set in float64
        frames = np.asarray(trajectory, np.float64)
        squares = np.mean(frames.reshape(frames.shape[0], -1) ** 2, axis=1)
        largest = max(largest, float(squares.max()))
    return largest


class EnergyCapped(AfterStep):
    """A simulator whose every output is scaled back onto the data's largest energy.

    `u <- u * sqrt(min(1, cap / mean(u**2)))`, per state: inside the cap the
    step is unchanged, outside it the state keeps its shape and direction.

    **Arguments:**

    - `simulator`: the simulator to wrap.
    - `cap`: the largest mean square a state may have (`largest_mean_square` of
        the training trajectories).
    """

    simulator: AbstractSimulator
    cap: float

    def __init__(self, simulator: AbstractSimulator, cap: float):
        if not np.isfinite(cap) or cap <= 0:
            raise ValueError(f"the energy cap must be a positive number, got {cap}")
        self.simulator = simulator
        self.cap = float(cap)

    def after(self, out: Float[Array, " *state"]) -> Float[Array, " *state"]:
        square = jnp.mean(out**2)
        scale = jnp.sqrt(jnp.minimum(1.0, self.cap / jnp.maximum(square, 1e-30)))
        return (out * scale).astype(out.dtype)
