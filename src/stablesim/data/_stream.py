"""Batches of windows read from disk, in the sampler's order, a chunk ahead.

`WindowStream` gives the windows of updates `[first, first + n)` for every
seed: the same windows `WindowSampler` would draw on device (both follow
`WindowIndex`), read from the files with h5py. While the accelerator runs
one piece of updates, a background thread reads the next, so training waits
for the disk only when the disk is slower than the updates. Memory holds at
most two pieces (the one in use and the one being read).
"""

from __future__ import annotations

import concurrent.futures
import threading

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._lazy_files import LazyTrajectories, files_kept_open
from ._windows import WindowIndex

PIECE_BYTES = 64 << 20
"""About how many bytes of windows one piece (`WindowStream.piece_steps` updates) holds."""


@eqx.filter_jit
def _all_indices(index: WindowIndex, keys, steps):
    """Window indices `(seeds, steps, batch)` for every seed's key and every step."""
    per_seed = lambda key: jax.vmap(lambda s: index.batch_indices(key, s))(steps)  # noqa: E731
    return jax.vmap(per_seed)(keys)


class WindowStream:
    """The training windows of several seeds, read from disk a piece at a time.

    **Arguments:**

    - `trajectories`: the training trajectories (`LazyTrajectories`).
    - `params`: `(B, P)` parameters.
    - `index`: the sampling order (the same `WindowIndex` a sampler would use).
    - `keys`: one shuffle key per seed (typed keys, shape `(seeds,)`).
    - `piece_bytes`: about how much one piece of windows may take.
    """

    def __init__(self, trajectories: LazyTrajectories, params: np.ndarray, index: WindowIndex,
                 keys: jax.Array, *, piece_bytes: int = PIECE_BYTES):
        self.trajectories = trajectories
        self.params = np.asarray(params, np.float32)
        self.index = index
        self.keys = keys
        seeds = int(keys.shape[0])
        frame = int(np.prod(trajectories.state_shape)) * 4
        per_step = seeds * index.batch_size * index.length * frame
        self.piece_steps = max(1, piece_bytes // max(per_step, 1))
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="windows")
        self._pending: tuple[int, int, concurrent.futures.Future] | None = None
        self._lock = threading.Lock()
        self.read_seconds = 0.0
        self.waited_seconds = 0.0

    def read(self, first: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Windows `(seeds, n, batch, L, C, *N)` and params `(seeds, n, batch, P)` of
        updates `[first, first + n)`, read now."""
        import time

        t0 = time.perf_counter()
        steps = jnp.arange(first, first + n)
        flat = np.asarray(_all_indices(self.index, self.keys, steps))
        traj, start = np.divmod(flat, self.index.windows_per_trajectory)
        length = self.index.length
        windows = np.empty(flat.shape + (length,) + self.trajectories.state_shape, np.float32)
        with files_kept_open():
            for pos in np.ndindex(*flat.shape):
                t = int(start[pos])
                windows[pos] = self.trajectories.read(int(traj[pos]), t, t + length)
        with self._lock:
            self.read_seconds += time.perf_counter() - t0
        return windows, self.params[traj]

    def prefetch(self, first: int, n: int) -> None:
        """Start reading updates `[first, first + n)` in the background."""
        if self._pending is not None and self._pending[0] == first and self._pending[1] >= n:
            return
        self._pending = (first, n, self._pool.submit(self.read, first, n))

    def take(self, first: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Updates `[first, first + n)`: from the background read if it covers them."""
        import time

        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == first and pending[1] >= n:
            t0 = time.perf_counter()
            windows, params = pending[2].result()
            self.waited_seconds += time.perf_counter() - t0
            return windows[:, :n], params[:, :n]
        if pending is not None:
            pending[2].cancel()
        return self.read(first, n)

    def close(self) -> None:
        """Stop the background reader."""
        self._pending = None
        self._pool.shutdown(wait=True, cancel_futures=True)
