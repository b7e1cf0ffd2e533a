"""Network architectures, with physical parameters as constant input channels."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import pdequinox as pdeqx
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import ConfigError
from .._options import ARCHITECTURES
from ._fast_conv import FastConvNet, FastResNet
from ._initializers import initialize
from ._user_network import user_network

Architecture = Literal[ARCHITECTURES]  # type: ignore[valid-type]


class ParametricNetwork(eqx.Module):
    """A network of one state and its physical parameters.

    The parameters, minus `parameter_shift` and times `parameter_scale`, are
    broadcast to constant channels and concatenated to the state before
    `core` sees it (fields); for vector states `(n,)` they are appended to the
    vector. With a normalization (`state_scale` not empty) `core` sees
    `(state - state_mean) / state_scale` per channel and its output is
    multiplied by `state_scale` (and `state_mean` added when it predicts the
    state itself, `shift_output`): the network works near O(1) whatever the
    data's units, the map stays one of physical states.

    **Arguments:**

    - `core`: maps `(C + P, *N)` (or `(n + P,)`) to `(C, *N)` (or `(n,)`).
    - `parameter_scale`: one factor per physical parameter.
    - `parameter_shift`: subtracted from each parameter first (default 0).
    - `state_mean`, `state_scale`: per channel (empty: no normalization).
    - `shift_output`: add `state_mean` to the output (the network predicts the
        next state, not an increment or a correction).
    """

    core: Callable[..., Array]
    parameter_scale: tuple[float, ...] = eqx.field(static=True, default=())
    parameter_shift: tuple[float, ...] = eqx.field(static=True, default=())
    state_mean: tuple[float, ...] = eqx.field(static=True, default=())
    state_scale: tuple[float, ...] = eqx.field(static=True, default=())
    shift_output: bool = eqx.field(static=True, default=False)

    def _per_channel(self, values: tuple[float, ...], state) -> Array:
        return jnp.asarray(values, state.dtype).reshape((-1,) + (1,) * (state.ndim - 1))

    def __call__(self, state: Float[Array, " C *N"], params: Float[Array, " P"]) -> Float[Array, " C *N"]:
        if self.state_scale:
            mean = self._per_channel(self.state_mean, state)
            scale = self._per_channel(self.state_scale, state)
            out = self._core(((state - mean) / scale).astype(state.dtype), params)
            return out * scale + mean if self.shift_output else out * scale
        return self._core(state, params)

    def _core(self, state, params):
        if not self.parameter_scale:
            return self.core(state)
        shift = jnp.asarray(self.parameter_shift or (0.0,) * len(self.parameter_scale),
                            state.dtype)
        scaled = (params - shift) * jnp.asarray(self.parameter_scale, state.dtype)
        if state.ndim == 1:
            return self.core(jnp.concatenate([state, scaled]))
        channels = jnp.broadcast_to(scaled.reshape((-1,) + (1,) * (state.ndim - 1)),
                                    (scaled.shape[0],) + state.shape[1:])
        return self.core(jnp.concatenate([state, channels], axis=0))


class _VectorMLP(eqx.Module):
    mlp: eqx.nn.MLP
    out_size: int = eqx.field(static=True)

    def __call__(self, x):
        return self.mlp(x)


def make_network(
    architecture: str,
    *,
    state_shape: tuple[int, ...],
    num_parameters: int = 0,
    parameter_scale: tuple[float, ...] | None = None,
    width: int = 32,
    depth: int = 4,
    activation: str = "relu",
    initializer: str = "default",
    residual: bool = False,
    boundary: tuple[str, ...] = (),
    key: PRNGKeyArray,
    **options,
) -> ParametricNetwork:
    """Build a network that maps a state (and its parameters) to a state.

    Field architectures (periodic boundaries): `conv` and `resnet` are our
    channels-last `FastConvNet` / `FastResNet` (the layer structure of
    PDEquinox's ConvNet / ClassicResNet; each convolution one matrix product
    (im2col) on the CPU and in 1D, cuDNN's convolution on accelerators in 2D
    and 3D, whichever is faster there); `pdeqx_conv` and `pdeqx_resnet` are PDEquinox's
    own; `dilated_resnet`, `unet` (ClassicUNet) and `fno` (ClassicFNO) come
    from PDEquinox. For vector states `(n,)`: `mlp` (eqx.nn.MLP) and `linear`
    (one dense layer without bias).

    **Arguments:**

    - `architecture`: one of the names above, or the user's factory
        `path/to/file.py:function` (see `user_network`).
    - `state_shape`: `(channels, *space)` or `(n,)`.
    - `num_parameters`: number of physical parameters fed as channels.
    - `parameter_scale`: factor per parameter (default 1).
    - `width`: hidden channels (fields) or hidden width (mlp).
    - `depth`: hidden layers (conv, mlp), blocks (resnet, dilated_resnet, fno)
        or levels (unet).
    - `activation`: name of a `jax.nn` activation.
    - `initializer`: name of an initializer (see `initialize`).
    - `residual`: the network is used as u + net(u). For `linear` under a
        norm-bounding initializer (`gershgorin`, `gershgorin_rows`) the state
        block W becomes G - I with G so initialized: the step's operator
        I + W = G carries the bound, not W alone. Deeper networks have no
        such shift (their step is I + a product of layers).
    - `boundary`: per spatial axis `periodic`, `wall` or `open` (empty: all
        periodic): how convolutions pad (`PADDING`: wrap, zeros, edge). Our
        `conv` and `resnet` take one per axis; PDEquinox's networks one for
        all axes (as `periodic`, `dirichlet`, `neumann`); FNO's spectral layers
        stay periodic.
    - `key`: random key.
    - `**options`: passed on to the PDEquinox constructor (e.g. `num_modes`).

    **Returns:**

    A `ParametricNetwork`.
    """
    user = ":" in architecture  # the user's factory, 'path/to/file.py:function'
    if architecture not in ARCHITECTURES and not user:
        raise ConfigError(
            f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}, "
            "or name your own network factory as 'path/to/file.py:function'"
        )
    act = getattr(jax.nn, activation, None)
    if act is None or not callable(act):
        raise ConfigError(f"unknown activation {activation!r} (a jax.nn function name)")
    scale = tuple(parameter_scale) if parameter_scale is not None else (1.0,) * num_parameters
    if len(scale) != num_parameters:
        raise ConfigError(f"{len(scale)} parameter scales for {num_parameters} parameters")
    init_key, key = jax.random.split(key)
    vector = len(state_shape) == 1
    core: Callable[..., Array]
    if user:
        core = cast(Callable[..., Array], user_network(
            architecture, state_shape=tuple(state_shape), num_parameters=num_parameters,
            width=width, depth=depth, key=key))
    elif architecture in ("mlp", "linear"):
        if not vector:
            raise ConfigError(f"architecture {architecture!r} needs vector states (n,), got {state_shape}")
        n = state_shape[0]
        mlp = eqx.nn.MLP(
            n + num_parameters, n,
            width_size=width, depth=depth if architecture == "mlp" else 0,
            activation=act, use_bias=architecture == "mlp", use_final_bias=architecture == "mlp",
            key=key,
        )
        core = _VectorMLP(mlp, n)
    else:
        if vector:
            raise ConfigError(
                f"architecture {architecture!r} needs field states (channels, *space), but the "
                f"states are shaped {state_shape}: {state_shape[0]} channels and no spatial axis. "
                f"If the {state_shape[0]} values are grid points of one field, the data lack "
                "the channel axis: save trajectories[:, :, None] (trajectories, time, 1, "
                f"{state_shape[0]}); for a state vector use 'mlp' or 'linear'"
            )
        channels, dims = state_shape[0], len(state_shape) - 1
        common: dict[str, Any] = dict(in_channels=channels + num_parameters,
                                      out_channels=channels, key=key)
        pdeqx_options = dict(common)
        if set(boundary) - {"periodic"}:
            if len(set(boundary)) > 1 and architecture not in ("conv", "resnet"):
                raise ConfigError(f"architecture {architecture!r} pads every axis alike, but "
                                  f"the boundaries are {', '.join(boundary)}; use conv or "
                                  "resnet (one boundary per axis)")
            pdeqx_options["boundary_mode"] = PDEQX_BOUNDARY[boundary[0]]
        if architecture == "conv":
            core = FastConvNet(dims, hidden_channels=width, depth=depth, activation=act,
                               boundary=tuple(boundary), **common, **options)
        elif architecture == "resnet":
            core = FastResNet(dims, hidden_channels=width, num_blocks=depth, activation=act,
                              boundary=tuple(boundary), **common, **options)
        elif architecture == "pdeqx_conv":
            core = pdeqx.arch.ConvNet(dims, hidden_channels=width, depth=depth,
                                      activation=act, **pdeqx_options, **options)
        elif architecture == "pdeqx_resnet":
            core = pdeqx.arch.ClassicResNet(dims, hidden_channels=width, num_blocks=depth,
                                            activation=act, **pdeqx_options, **options)
        elif architecture == "dilated_resnet":
            core = pdeqx.arch.DilatedResNet(dims, hidden_channels=width, num_blocks=depth,
                                            activation=act, **pdeqx_options, **options)
        elif architecture == "unet":
            core = pdeqx.arch.ClassicUNet(dims, hidden_channels=width, num_levels=depth,
                                          activation=act, **pdeqx_options, **options)
        else:
            options.setdefault("num_modes", max(1, min(12, min(state_shape[1:]) // 2)))
            core = pdeqx.arch.ClassicFNO(dims, hidden_channels=width, num_blocks=depth,
                                         activation=act, **pdeqx_options, **options)
    try:
        core = initialize(core, initializer, key=init_key, parameter_channels=num_parameters)
    except (ValueError, TypeError, AttributeError) as err:
        if not user:
            raise
        raise ConfigError(f"model.initializer: {initializer} cannot initialize the network of "
                          f"{architecture}: {err}") from None
    if residual and architecture == "linear" and initializer in STEP_BOUNDED:
        assert isinstance(core, _VectorMLP)
        n, weight = state_shape[0], core.mlp.layers[0].weight
        shifted = weight.at[:, :n].add(-jnp.eye(n, dtype=weight.dtype))
        core = eqx.tree_at(lambda c: c.mlp.layers[0].weight, core, shifted)
    # float32 like the data, also when `jax_enable_x64` makes Equinox initialize float64 arrays
    return with_float_dtype(ParametricNetwork(core, scale), jnp.float32)


def with_float_dtype(tree: Any, dtype: Any) -> Any:
    """`tree` with every floating-point array cast to `dtype` (other leaves unchanged).

    **Arguments:**

    - `tree`: a network or any PyTree.
    - `dtype`: the floating dtype, e.g. the data's.

    **Returns:**

    The same structure.
    """
    def to_dtype(leaf):
        if eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.astype(dtype)
        return leaf

    return jax.tree_util.tree_map(to_dtype, tree)


def normalized_network(network: ParametricNetwork, normalization, *, shift_output: bool
                       ) -> ParametricNetwork:
    """The same network working in normalized units (see `ParametricNetwork`).

    **Arguments:**

    - `network`: a `ParametricNetwork`.
    - `normalization`: a `stablesim.data.Normalization` (per-channel mean and
        std, per-parameter mean and std).
    - `shift_output`: the network predicts the state itself (add the mean back).

    **Returns:**

    The network with the statistics as static fields (not trained, not in
    checkpoints' arrays).
    """
    p = len(normalization.parameter_std)
    return dataclasses.replace(
        network,
        parameter_scale=tuple(1.0 / s for s in normalization.parameter_std) if p else (),
        parameter_shift=tuple(normalization.parameter_mean),
        state_mean=tuple(normalization.state_mean),
        state_scale=tuple(normalization.state_std),
        shift_output=shift_output)


PDEQX_BOUNDARY = {"periodic": "periodic", "wall": "dirichlet", "open": "neumann"}
"""Our boundary names as PDEquinox's `boundary_mode`."""

STEP_BOUNDED = ("gershgorin", "gershgorin_rows")
"""Initializers whose bound a residual `linear` model moves to its step operator I + W."""


def count_parameters(model) -> int:
    """Number of scalar parameters in the arrays of a model."""
    return sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))
