"""Weight initializers chosen by name, applied to any of our networks."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._errors import ConfigError

# Weights are shaped (out, in, *kernel) for both eqx.nn.Linear and convolutions.
_VARIANCE_SCALING: dict[str, Callable] = {
    "he": lambda: jax.nn.initializers.he_normal(in_axis=1, out_axis=0),
    "glorot": lambda: jax.nn.initializers.glorot_normal(in_axis=1, out_axis=0),
    "lecun": lambda: jax.nn.initializers.lecun_normal(in_axis=1, out_axis=0),
    "orthogonal": lambda: jax.nn.initializers.orthogonal(column_axis=0),
}

INITIALIZERS = ("default", "zeros", "small", *_VARIANCE_SCALING)


def _is_weight(x) -> bool:
    return eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating) and x.ndim >= 2


def initialize(model, name: str, *, key: PRNGKeyArray, scale: float = 1.0):
    """Re-initialize every real weight (2 or more axes) of a model by name.

    Biases and other vectors are left as the architecture made them, except
    for `"zeros"`, which sets all real floating arrays to zero.

    **Arguments:**

    - `model`: any Equinox module (our networks, PDEquinox's, eqx.nn's).
    - `name`: one of `default` (keep the architecture's own), `zeros`,
        `small` (the architecture's own times `scale`, default 0.01),
        `he`, `glorot`, `lecun`, `orthogonal`.
    - `key`: random key.
    - `scale`: factor applied after initialization (`small` uses 0.01 if 1).

    **Returns:**

    The re-initialized model.
    """
    if name not in INITIALIZERS:
        raise ConfigError(f"unknown initializer {name!r}; choose from {', '.join(INITIALIZERS)}")
    if name == "default" and scale == 1.0:
        return model
    leaves, treedef = jax.tree_util.tree_flatten(model, is_leaf=lambda x: x is None)
    keys = jax.random.split(key, max(len(leaves), 1))
    new = []
    for leaf, k in zip(leaves, keys):
        if name == "zeros" and eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating):
            new.append(jnp.zeros_like(leaf))
        elif _is_weight(leaf):
            if name in ("default", "small"):
                factor = 0.01 if (name == "small" and scale == 1.0) else scale
                new.append(leaf * factor)
            else:
                new.append(scale * _VARIANCE_SCALING[name]()(k, leaf.shape, leaf.dtype))
        else:
            new.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, new)
