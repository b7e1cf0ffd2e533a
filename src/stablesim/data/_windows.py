"""Windows of consecutive frames, indexed lazily.

A window is `(trajectory, start)`; its frames are sliced out of the
trajectory array only when a batch is drawn, inside `jit`. The set of all
overlapping windows is never materialised.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._errors import DataError


class WindowSampler(eqx.Module):
    """Draws batches of windows of `length` frames from trajectories on device.

    Batches follow epochs: every window is seen once per epoch, in an order
    fixed by the key and the epoch number, so a batch depends only on
    `(key, step)` and a resumed run draws exactly the batches it would have.

    **Arguments:**

    - `trajectories`: `(B, T, C, *N)` array.
    - `params`: `(B, P)` array.
    - `length`: frames per window (unroll steps + 1 + warm-up steps).
    - `batch_size`: windows per batch (at most the number of windows).
    """

    trajectories: Float[Array, "B T C *N"]
    params: Float[Array, "B P"]
    length: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)

    def __init__(self, trajectories, params, *, length: int, batch_size: int):
        trajectories = jnp.asarray(trajectories)
        if trajectories.shape[1] < length:
            raise DataError(
                f"windows of {length} frames do not fit in trajectories of "
                f"{trajectories.shape[1]} frames"
            )
        self.trajectories = trajectories
        self.params = jnp.asarray(params)
        self.length = int(length)
        num = self.num_windows
        if batch_size < 1:
            raise DataError(f"batch size must be positive, got {batch_size}")
        self.batch_size = int(min(batch_size, num))

    @property
    def windows_per_trajectory(self) -> int:
        return self.trajectories.shape[1] - self.length + 1

    @property
    def num_windows(self) -> int:
        return self.trajectories.shape[0] * self.windows_per_trajectory

    @property
    def batches_per_epoch(self) -> int:
        return self.num_windows // self.batch_size

    def window(self, index: Int[Array, ""]) -> tuple[Float[Array, "L C *N"], Float[Array, " P"]]:
        """The window with flat index `index` and its parameters."""
        traj, start = jnp.divmod(index, self.windows_per_trajectory)
        frames = jax.lax.dynamic_slice_in_dim(self.trajectories[traj], start, self.length, axis=0)
        return frames, self.params[traj]

    def batch_indices(self, key: PRNGKeyArray, step: Int[Array, ""]) -> Int[Array, " batch"]:
        """Flat window indices of batch number `step` (epoch-wise shuffling)."""
        epoch, position = jnp.divmod(step, self.batches_per_epoch)
        order = jax.random.permutation(jax.random.fold_in(key, epoch), self.num_windows)
        return jax.lax.dynamic_slice_in_dim(order, position * self.batch_size, self.batch_size)

    def batch(
        self, key: PRNGKeyArray, step: Int[Array, ""]
    ) -> tuple[Float[Array, "batch L C *N"], Float[Array, "batch P"]]:
        """Batch number `step`: windows `(batch, length, C, *N)` and params."""
        return jax.vmap(self.window)(self.batch_indices(key, step))
