"""What each seed carries between updates, and how it starts."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._errors import ConfigError


class SeedState(eqx.Module):
    """What one seed carries from update to update (vmapped over seeds)."""

    weights: Any  # the network's arrays (the physical parameters are `params` elsewhere)
    opt_state: Any
    key: jax.Array  # raw key data (uint32), checkpoint-friendly
    norm_average: jax.Array  # reference log gradient norm (decaying running maximum)
    accepted: jax.Array
    consecutive_skips: jax.Array
    skipped: jax.Array


def initial_states(weights, optimizer, seeds) -> SeedState:
    s = len(seeds)
    keys = jnp.stack([jax.random.key_data(jax.random.key(seed + 1_000_003)) for seed in seeds])
    return SeedState(
        weights=weights,
        opt_state=jax.vmap(optimizer.init)(weights),
        key=keys,
        norm_average=jnp.zeros(s, jnp.float32),
        accepted=jnp.zeros(s, jnp.int32),
        consecutive_skips=jnp.zeros(s, jnp.int32),
        skipped=jnp.zeros(s, jnp.int32),
    )


def initial_weights(make_simulator, seeds: list[int]):
    """The network arrays of every seed, stacked along a leading seed axis."""
    init_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    return jax.vmap(lambda k: eqx.filter(make_simulator(jax.random.wrap_key_data(k)).network,
                                         eqx.is_array))(init_keys)


def matching_weights(networks, make_simulator, seeds: list[int]):
    """The arrays of given per-seed networks, checked against the model's shapes."""
    expected = jax.eval_shape(lambda: initial_weights(make_simulator, seeds))
    given = eqx.filter(networks, eqx.is_array)
    try:  # tree_map refuses another structure; a subtree where a leaf belongs has no .shape
        matches = jax.tree_util.tree_map(
            lambda want, got: want.shape == got.shape and want.dtype == got.dtype,
            expected, given)
        same = len(jax.tree_util.tree_leaves(given)) == len(jax.tree_util.tree_leaves(expected)) \
            and all(jax.tree_util.tree_leaves(matches))
    except (TypeError, ValueError, AttributeError):
        same = False
    if not same:
        raise ConfigError(f"the starting networks do not match this model for {len(seeds)} seeds "
                          "(another architecture, width, depth or number of seeds)")
    return jax.tree_util.tree_map(jnp.asarray, given)
