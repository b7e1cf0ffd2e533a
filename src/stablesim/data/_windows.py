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


class WindowIndex(eqx.Module):
    """Which windows batch number `step` holds: the sampling order, without the data.

    Batches follow epochs: every window is seen once per epoch, in an order
    fixed by the key and the epoch number, so a batch depends only on
    `(key, step)` and a resumed run draws exactly the batches it would have.
    The in-memory `WindowSampler` and the disk-streaming `WindowStream` share it,
    so both draw the same windows.

    **Arguments:**

    - `num_trajectories`, `num_frames`: the shape of the trajectories.
    - `length`: frames per window (unroll steps + 1 + warm-up steps).
    - `batch_size`: windows per batch (at most the number of windows).
    """

    num_trajectories: int = eqx.field(static=True)
    num_frames: int = eqx.field(static=True)
    length: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)

    def __init__(self, num_trajectories: int, num_frames: int, *, length: int, batch_size: int):
        if num_frames < length:
            raise DataError(
                f"windows of {length} frames do not fit in trajectories of {num_frames} frames"
            )
        if batch_size < 1:
            raise DataError(f"batch size must be positive, got {batch_size}")
        self.num_trajectories = int(num_trajectories)
        self.num_frames = int(num_frames)
        self.length = int(length)
        self.batch_size = int(min(batch_size, self.num_windows))

    @property
    def windows_per_trajectory(self) -> int:
        return self.num_frames - self.length + 1

    @property
    def num_windows(self) -> int:
        return self.num_trajectories * self.windows_per_trajectory

    @property
    def batches_per_epoch(self) -> int:
        return self.num_windows // self.batch_size

    def locate(self, index):
        """`(trajectory, first frame)` of the window with flat index `index`."""
        return divmod(index, self.windows_per_trajectory)

    def batch_indices(self, key: PRNGKeyArray, step: Int[Array, ""]) -> Int[Array, " batch"]:
        """Flat window indices of batch number `step` (epoch-wise shuffling).

        The epoch's order is a pseudo-random permutation of all windows
        evaluated only at the batch's positions (`shuffled_position`): the
        cost is independent of the number of windows.
        """
        epoch, position = jnp.divmod(step, self.batches_per_epoch)
        positions = position * self.batch_size + jnp.arange(self.batch_size)
        return shuffled_position(jax.random.fold_in(key, epoch), positions, self.num_windows)


class WindowSampler(eqx.Module):
    """Draws batches of windows of `length` frames from trajectories on device.

    The order is `WindowIndex`'s: a batch depends only on `(key, step)`.

    **Arguments:**

    - `trajectories`: `(B, T, C, *N)` array.
    - `params`: `(B, P)` array.
    - `length`: frames per window (unroll steps + 1 + warm-up steps).
    - `batch_size`: windows per batch (at most the number of windows).
    """

    trajectories: Float[Array, "B T C *N"]
    params: Float[Array, "B P"]
    index: WindowIndex

    def __init__(self, trajectories, params, *, length: int, batch_size: int):
        trajectories = jnp.asarray(trajectories)
        self.index = WindowIndex(trajectories.shape[0], trajectories.shape[1], length=length,
                                 batch_size=batch_size)
        self.trajectories = trajectories
        self.params = jnp.asarray(params)

    @property
    def length(self) -> int:
        return self.index.length

    @property
    def batch_size(self) -> int:
        return self.index.batch_size

    @property
    def windows_per_trajectory(self) -> int:
        return self.index.windows_per_trajectory

    @property
    def num_windows(self) -> int:
        return self.index.num_windows

    @property
    def batches_per_epoch(self) -> int:
        return self.index.batches_per_epoch

    def window(self, index: Int[Array, ""]) -> tuple[Float[Array, "L C *N"], Float[Array, " P"]]:
        """The window with flat index `index` and its parameters."""
        traj, start = self.index.locate(index)
        frames = jax.lax.dynamic_slice_in_dim(self.trajectories[traj], start, self.length, axis=0)
        return frames, self.params[traj]

    def batch_indices(self, key: PRNGKeyArray, step: Int[Array, ""]) -> Int[Array, " batch"]:
        """Flat window indices of batch number `step` (`WindowIndex.batch_indices`)."""
        return self.index.batch_indices(key, step)

    def batch(
        self, key: PRNGKeyArray, step: Int[Array, ""]
    ) -> tuple[Float[Array, "batch L C *N"], Float[Array, "batch P"]]:
        """Batch number `step`: windows `(batch, length, C, *N)` and params."""
        return jax.vmap(self.window)(self.batch_indices(key, step))


_ROUNDS = 4


def _mix(x: Array) -> Array:
    """A 32-bit integer hash (the MurmurHash3 finaliser)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def shuffled_position(key: PRNGKeyArray, positions: Int[Array, " K"], n: int) -> Int[Array, " K"]:
    """Where `positions` go under a pseudo-random permutation of `range(n)` chosen by `key`.

    A balanced Feistel network permutes the integers below the smallest
    power of 4 that is at least `n`; walking its cycle until the value falls
    below `n` restricts it to a permutation of `range(n)` (at most 4 steps
    expected). Only the asked positions are computed.

    **Arguments:**

    - `key`: chooses the permutation.
    - `positions`: integers in `[0, n)`.
    - `n`: the size of the permuted range (below 2^31).

    **Returns:**

    The permuted positions, a bijection of `range(n)` for a fixed key.
    """
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (_ROUNDS,), jnp.uint32)

    def feistel(x):
        left, right = x >> half, x & mask
        for r in range(_ROUNDS):
            left, right = right, left ^ (_mix(right ^ round_keys[r]) & mask)
        return (left << half) | right

    def walk(x):
        return jax.lax.while_loop(lambda y: y >= n, feistel, feistel(x))

    out = jax.vmap(walk)(jnp.asarray(positions).astype(jnp.uint32))
    return out.astype(jnp.int32)
