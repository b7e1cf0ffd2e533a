"""Long-horizon stability: divergence over many steps without storing the rollout.

A test reference is usually far shorter than the horizon a user cares about
(10,000 steps, say). Divergence needs only the reference's range, so the
rollout runs in chunks of a `lax.scan` that keep the state and, per step,
whether it left that range; errors are measured elsewhere, where the
reference exists.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from ..simulators import AbstractSimulator


def divergence_bounds(
    reference: Float[Array | np.ndarray, "B T *S"], *, margin: float = 1.0
) -> tuple[Float[Array, " B"], Float[Array, " B"]]:
    """Per trajectory, the range a rollout must stay in: the reference's [min, max]
    widened by `margin * (max - min)` on each side (`DIVERGENCE_RULE`).

    **Arguments:**

    - `reference`: reference rollouts `(trajectories, time, *state)` (any length).
    - `margin`: allowed excursion beyond the range, in units of its width.

    **Returns:**

    `(lower, upper)`, one value each per trajectory.
    """
    r = jnp.asarray(reference).reshape(reference.shape[0], -1)
    lo, hi = jnp.min(r, axis=1), jnp.max(r, axis=1)
    width = jnp.maximum(hi - lo, jnp.finfo(r.dtype).tiny)
    return lo - margin * width, hi + margin * width


def left_bounds(frames: Float[Array, " B *S"], lower: Float[Array, " B"],
                upper: Float[Array, " B"]) -> Bool[Array, " B"]:
    """Whether each frame has a non-finite value or one outside [lower, upper]."""
    flat = frames.reshape(frames.shape[0], -1)
    finite = jnp.all(jnp.isfinite(flat), axis=-1)
    safe = jnp.where(jnp.isfinite(flat), flat, 0)
    inside = finite & (jnp.min(safe, axis=-1) >= lower) & (jnp.max(safe, axis=-1) <= upper)
    return ~inside


@eqx.filter_jit
def _chunk(simulator, state, params, lower, upper, length: int):
    def advance(u, _):
        nxt = jax.vmap(simulator)(u, params)
        left = left_bounds(nxt, lower, upper)
        # A rollout that left its bounds stays at its last state inside them: the
        # simulator (and a solver in it) only ever sees states within the data's range.
        keep = left.reshape(left.shape + (1,) * (u.ndim - 1))
        return jnp.where(keep, u, nxt), left

    return jax.lax.scan(advance, state, None, length=length)


def long_divergence(
    simulator: AbstractSimulator,
    initial: Float[Array | np.ndarray, "B C *N"],
    params: Float[Array | np.ndarray, "B P"],
    lower: Float[Array | np.ndarray, " B"],
    upper: Float[Array | np.ndarray, " B"],
    *,
    steps: int,
    chunk: int = 500,
) -> np.ndarray:
    """First step (1-based) at which each rollout leaves its bounds, over `steps` steps.

    The same rule as `divergence_step`, for horizons far beyond the
    reference: only the current state is kept, `chunk` steps at a time, and
    the rollout stops early once every trajectory has diverged. A rollout
    that has left its bounds is held at its last state inside them, so the
    simulator is never run on states far outside the data.

    **Arguments:**

    - `simulator`: the simulator.
    - `initial`, `params`: start states `(B, C, *N)` and their parameters `(B, P)`.
    - `lower`, `upper`: per trajectory bounds (`divergence_bounds`).
    - `steps`: the horizon.
    - `chunk`: steps per compiled scan.

    **Returns:**

    `(B,)` integer steps; `steps + 1` where a rollout stayed inside for all of them.
    """
    return long_rollout(simulator, initial, params, lower, upper, steps=steps, chunk=chunk)[0]


def long_rollout(
    simulator: AbstractSimulator,
    initial: Float[Array | np.ndarray, "B C *N"],
    params: Float[Array | np.ndarray, "B P"],
    lower: Float[Array | np.ndarray, " B"],
    upper: Float[Array | np.ndarray, " B"],
    *,
    steps: int,
    chunk: int = 500,
    snapshots: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`long_divergence`, also keeping `snapshots` evenly spaced states of the second half.

    **Arguments:** as `long_divergence`; `snapshots`: how many states of steps
    `(steps/2, steps]` to keep (0: none); the rollout then runs in chunks
    ending at those steps.

    **Returns:**

    `(first, late)`: the divergence steps `(B,)` and the late states
    `(snapshots, B, C, *N)` (None without snapshots; a diverged rollout's
    states are those it was held at).
    """
    state = jnp.asarray(initial)
    params, lower, upper = jnp.asarray(params), jnp.asarray(lower), jnp.asarray(upper)
    first = np.full(state.shape[0], steps + 1, dtype=np.int64)
    marks = sorted({steps - (steps // 2) * i // max(snapshots, 1) for i in range(snapshots)})
    late = []
    done = 0
    while done < steps:
        length = min(chunk, steps - done)
        following = [m for m in marks if m > done]
        if following:
            length = min(length, following[0] - done)
        state, bad = _chunk(simulator, state, params, lower, upper, length)
        bad = np.asarray(bad)  # (length, B)
        hit = bad.any(axis=0) & (first > steps)
        first[hit] = done + np.argmax(bad[:, hit], axis=0) + 1
        done += length
        if done in marks:
            late.append(np.asarray(state))
        if (first <= steps).all():
            break
    return first, (np.stack(late) if late else None)
