"""The user's own network from a config: `model.architecture: path/to/file.py:function`.

The function is an Equinox module factory with PDEquinox's signature:

    def make_network(num_spatial_dims, in_channels, out_channels, *, key, width, depth):
        return my_module   # my_module(x): (in_channels, *N) -> (out_channels, *N)

`in_channels` counts the state's channels plus one constant channel per
physical parameter (scaled as for the built-ins), `out_channels` the state's.
For vector states `(n,)`, `num_spatial_dims` is 0 and the module maps
`(n + P,)` to `(n,)`. `width` and `depth` are `model.width` and
`model.depth`, passed only if the function takes them (or `**kwargs`).
"""

from __future__ import annotations

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._errors import ConfigError
from .._user_code import describe_error, load_user_function

KEY = "model.architecture"


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == name or p.kind == p.VAR_KEYWORD for p in params)


def user_network(
    spec: str,
    *,
    state_shape: tuple[int, ...],
    num_parameters: int,
    width: int,
    depth: int,
    key: PRNGKeyArray,
) -> eqx.Module:
    """Build the user's network core and check it as the built-ins are checked.

    **Arguments:**

    - `spec`: `path/to/file.py:function` or `module:function` (resolved).
    - `state_shape`: `(channels, *space)` or `(n,)`.
    - `num_parameters`: physical parameters, fed as extra channels.
    - `width`, `depth`: `model.width` and `model.depth`.
    - `key`: random key.

    **Returns:**

    The module (the core of a `ParametricNetwork`).

    **Raises:**

    `ConfigError` (one line) if the factory fails, returns something that
    is not an Equinox module with trainable arrays, or a module that does not
    map `(C + P, *N)` to a floating `(C, *N)`.
    """
    factory = load_user_function(spec, KEY)
    label = spec.rsplit("/", 1)[-1]
    vector = len(state_shape) == 1
    channels = state_shape[0]
    dims = 0 if vector else len(state_shape) - 1
    options = {name: value for name, value in (("width", width), ("depth", depth))
               if _accepts(factory, name)}
    try:
        core = factory(dims, channels + num_parameters, channels, key=key, **options)
    except Exception as err:
        raise ConfigError(f"{KEY}: {label}(num_spatial_dims={dims}, in_channels="
                          f"{channels + num_parameters}, out_channels={channels}, key=...) "
                          f"raised {describe_error(err)}") from None
    if not isinstance(core, eqx.Module) or not jax.tree_util.tree_leaves(
            eqx.filter(core, eqx.is_inexact_array)):
        raise ConfigError(f"{KEY}: {label} returned {type(core).__name__}, not an Equinox "
                          "module with trainable arrays")
    given = (channels + num_parameters,) + tuple(state_shape[1:])
    wanted = (channels,) + tuple(state_shape[1:])
    try:
        out = jax.eval_shape(lambda x: core(x),  # type: ignore[operator]
                             jax.ShapeDtypeStruct(given, jnp.float32))
    except Exception as err:
        raise ConfigError(f"{KEY}: {label}'s network fails on an input shaped {given}: "
                          f"{describe_error(err)}") from None
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != wanted \
            or not jnp.issubdtype(out.dtype, jnp.floating):
        got = (f"{out.dtype}{list(out.shape)}" if isinstance(out, jax.ShapeDtypeStruct)
               else type(out).__name__)
        raise ConfigError(f"{KEY}: {label}'s network maps an input shaped {given} to {got}; "
                          f"it must return floats shaped {wanted}")
    return core
