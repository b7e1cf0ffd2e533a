"""Skipping outlier updates: the rule, and the same rule as an Optax transformation.

An update is skipped when its gradient norm is not finite, or (after `grace`
accepted updates) exceeds `skip_factor` times a reference: a running maximum
of accepted log gradient norms that decays by `REFERENCE_DECAY` per update.
A running maximum is not dragged down by the tiny norms of a zero
initialization (a running mean is, and then skips every later update); each
skip raises it by a tenth of the threshold, so a lasting rise is accepted
after a few updates instead of stopping training.

`skip_rule` is the one definition; the trainer's update applies it (also
asking for a finite loss) and `skip_outlier_updates` wraps any Optax
optimizer with it, for a user's own training loop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, Int

REFERENCE_DECAY = 0.01
"""Per update, in log units: the reference halves in about 70 updates."""


def skip_rule(
    log_norm: Float[Array, ""],
    finite: Bool[Array, ""],
    reference: Float[Array, ""],
    accepted: Int[Array, ""],
    *,
    skip_factor: float,
    grace: int,
) -> tuple[Bool[Array, ""], Float[Array, ""]]:
    """Whether to take an update, and the reference after it.

    **Arguments:**

    - `log_norm`: the log of the update's gradient norm.
    - `finite`: whether the loss and the gradient norm are finite.
    - `reference`: the current reference (log units; its value before the
        first accepted update does not matter).
    - `accepted`: updates accepted so far.
    - `skip_factor`: the largest accepted ratio of the norm to the reference.
    - `grace`: accepted updates before the ratio is tested.

    **Returns:**

    `(ok, new_reference)`.
    """
    threshold = math.log(skip_factor)
    ok = finite & ((accepted < grace) | (log_norm <= reference + threshold))
    taken = jnp.where(accepted == 0, log_norm, jnp.maximum(log_norm, reference - REFERENCE_DECAY))
    new_reference = jnp.where(ok, taken, reference + threshold / 10)
    return ok, jnp.where(finite, new_reference, reference)


class SkipOutliersState(NamedTuple):
    """The wrapped optimizer's state and the skip test's: reference, counts."""

    inner: optax.OptState
    reference: jax.Array
    accepted: jax.Array
    consecutive_skips: jax.Array
    skipped: jax.Array


def skip_outlier_updates(inner: optax.GradientTransformation, *, skip_factor: float = 10.0,
                         grace: int = 10) -> optax.GradientTransformation:
    """Wrap an Optax optimizer so that outlier updates are skipped (`skip_rule`).

    A skipped update returns zeros and leaves the inner state unchanged, like
    `optax.apply_if_finite`, which it extends by the norm test. The state's
    `consecutive_skips` and `skipped` say what happened (stop a run when the
    former grows, as `stablesim.training.train` does).

    **Arguments:**

    - `inner`: the optimizer, e.g. `optax.adam(1e-3)`.
    - `skip_factor`, `grace`: as `TrainConfig.skip_factor` and `skip_grace`.

    **Returns:**

    An `optax.GradientTransformation` whose state is a `SkipOutliersState`.
    """

    def init(params):
        zero = jnp.zeros((), jnp.int32)
        return SkipOutliersState(inner.init(params), jnp.zeros((), jnp.float32), zero, zero, zero)

    def update(grads, state: SkipOutliersState, params=None):
        norm = optax.tree.norm(grads)
        finite = jnp.isfinite(norm)
        log_norm = jnp.log(jnp.maximum(norm, 1e-30)).astype(jnp.float32)
        ok, reference = skip_rule(log_norm, finite, state.reference, state.accepted,
                                  skip_factor=skip_factor, grace=grace)
        updates, inner_state = inner.update(grads, state.inner, params)
        updates = jax.tree_util.tree_map(lambda u: jnp.where(ok, u, jnp.zeros_like(u)), updates)
        inner_state = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), inner_state,
                                             state.inner)
        return updates, SkipOutliersState(
            inner_state, reference, state.accepted + ok,
            jnp.where(ok, 0, state.consecutive_skips + 1), state.skipped + (~ok))

    return optax.GradientTransformation(init, update)
