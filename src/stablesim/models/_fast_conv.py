"""Periodic convolutions, computed the fastest way per backend and dimension.

Gathering the k^d shifted copies of the (periodically padded) input into one
`(points, k^d * C_in)` matrix and multiplying by the kernel (im2col) turns
each layer into a single GEMM. Measured (peers.md, the issue on training
speed): on the CPU it is 1.25x faster than XLA's convolution outside a loop
and escapes XLA:CPU's slow convolutions inside while loops; on the GPU it is
3-4x faster in 1D but slower than cuDNN in 2D (its column matrix is k^d times
the activations). `method="auto"` therefore uses im2col on the CPU and in 1D,
XLA's convolution (cuDNN) on accelerators in 2D and 3D. Both compute the same
map from the same stored weights (tested against each other).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import ConfigError

CONV_METHODS = ("auto", "im2col", "xla")


PADDING = {"periodic": "wrap", "wall": "constant", "open": "edge"}
"""How each boundary pads a field: periodic wraps around, a wall pads zeros (the value
of a no-slip wall, and what ordinary zero-padded CNNs assume), an open boundary repeats
the edge value (zero normal gradient)."""


def pad_fields(x: Float[Array, "*N C"], lo: int, hi: int, boundary: tuple[str, ...]
               ) -> Float[Array, "*M C"]:
    """Pad the spatial axes of a channels-last field by `(lo, hi)`, each axis as its
    boundary says (`PADDING`; empty `boundary`: all periodic)."""
    d = x.ndim - 1
    kinds = boundary or ("periodic",) * d
    if len(set(kinds)) == 1:
        return jnp.pad(x, [(lo, hi)] * d + [(0, 0)], mode=PADDING[kinds[0]])
    for axis, kind in enumerate(kinds):
        widths = [(0, 0)] * x.ndim
        widths[axis] = (lo, hi)
        x = jnp.pad(x, widths, mode=PADDING[kind])
    return x


class PeriodicConv(eqx.Module):
    """A convolution on channels-last fields `(*N, C_in) -> (*N, C_out)`, periodic
    unless `boundary` says otherwise per axis (`PADDING`).

    The kernel is stored as `(C_out, k^d * C_in)` (output axis first, like
    `eqx.nn.Linear`), initialised uniformly in +-1/sqrt(fan_in) like
    PyTorch and Equinox convolutions. `method` is `"im2col"`, `"xla"` or
    `"auto"` (see the module docstring); it changes the speed, not the map.
    """

    weight: Float[Array, "out kin"]
    bias: Float[Array, " out"] | None
    kernel_size: int = eqx.field(static=True)
    num_spatial_dims: int = eqx.field(static=True)
    method: str = eqx.field(static=True, default="auto")
    boundary: tuple[str, ...] = eqx.field(static=True, default=())

    def __init__(self, num_spatial_dims: int, in_channels: int, out_channels: int, *,
                 kernel_size: int = 3, use_bias: bool = True, method: str = "auto",
                 boundary: tuple[str, ...] = (), key: PRNGKeyArray):
        unknown = [b for b in boundary if b not in PADDING]
        if unknown or (boundary and len(boundary) != num_spatial_dims):
            raise ConfigError(f"boundary must give one of {', '.join(PADDING)} per spatial axis "
                              f"({num_spatial_dims}), got {list(boundary)}")
        self.boundary = tuple(boundary) if set(boundary) != {"periodic"} else ()
        if method not in CONV_METHODS:
            raise ConfigError(f"convolution method must be one of {', '.join(CONV_METHODS)}, "
                              f"got {method!r}")
        self.method = method
        fan_in = in_channels * kernel_size**num_spatial_dims
        bound = 1.0 / math.sqrt(fan_in)
        wkey, bkey = jax.random.split(key)
        self.weight = jax.random.uniform(wkey, (out_channels, fan_in), minval=-bound, maxval=bound)
        self.bias = (jax.random.uniform(bkey, (out_channels,), minval=-bound, maxval=bound)
                     if use_bias else None)
        self.kernel_size = kernel_size
        self.num_spatial_dims = num_spatial_dims

    def resolved_method(self, backend: str | None = None) -> str:
        """`"im2col"` or `"xla"`: what `method` means on `backend` (default: JAX's)."""
        if self.method != "auto":
            return self.method
        backend = backend or jax.default_backend()
        return "im2col" if backend == "cpu" or self.num_spatial_dims == 1 else "xla"

    def __call__(self, x: Float[Array, "*N C"]) -> Float[Array, "*N O"]:
        d, k = self.num_spatial_dims, self.kernel_size
        lo = (k - 1) // 2
        padded = pad_fields(x, lo, k - 1 - lo, self.boundary)
        if self.resolved_method() == "xla":
            # The stored columns are ordered (offset, channel), offsets row-major: the same
            # order as the (k,)*d + (in,) axes of a channels-last kernel.
            kernel = self.weight.T.reshape((k,) * d + (x.shape[-1], self.weight.shape[0]))
            spatial = "DHW"[3 - d:] if d <= 3 else None
            if spatial is None:
                raise ConfigError(f"the xla convolution supports 1-3 spatial dims, got {d}")
            out = jax.lax.conv_general_dilated(
                padded[None], kernel, window_strides=(1,) * d, padding="VALID",
                dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"))[0]
            return out if self.bias is None else out + self.bias
        shape = x.shape[:d]
        patches = [
            padded[tuple(slice(o, o + n) for o, n in zip(offset, shape))]
            for offset in itertools.product(range(k), repeat=d)
        ]
        columns = jnp.concatenate(patches, axis=-1)
        out = columns @ self.weight.T
        return out if self.bias is None else out + self.bias


class FastConvNet(eqx.Module):
    """A plain periodic ConvNet (like PDEquinox's `ConvNet`) built on `PeriodicConv`.

    Maps `(C_in, *N)` to `(C_out, *N)`: `depth` hidden convolutions with
    `hidden_channels` and an activation, then a final linear convolution.
    """

    layers: tuple[PeriodicConv, ...]
    activation: Callable

    def __init__(self, num_spatial_dims: int, in_channels: int, out_channels: int, *,
                 hidden_channels: int = 16, depth: int = 10, kernel_size: int = 3,
                 activation: Callable = jax.nn.relu, boundary: tuple[str, ...] = (),
                 key: PRNGKeyArray):
        sizes = [in_channels] + [hidden_channels] * depth + [out_channels]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            PeriodicConv(num_spatial_dims, i, o, kernel_size=kernel_size, boundary=boundary,
                         key=k)
            for i, o, k in zip(sizes[:-1], sizes[1:], keys)
        )
        self.activation = activation

    def __call__(self, x: Float[Array, " C *N"]) -> Float[Array, " O *N"]:
        h = jnp.moveaxis(x, 0, -1)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        return jnp.moveaxis(self.layers[-1](h), -1, 0)


class FastResNet(eqx.Module):
    """A periodic ResNet (like PDEquinox's `ClassicResNet`) built on `PeriodicConv`.

    Lifting convolution, `num_blocks` blocks of two convolutions with a skip
    connection (post-activation), projection convolution.
    """

    lift: PeriodicConv
    blocks: tuple[tuple[PeriodicConv, PeriodicConv], ...]
    project: PeriodicConv
    activation: Callable

    def __init__(self, num_spatial_dims: int, in_channels: int, out_channels: int, *,
                 hidden_channels: int = 32, num_blocks: int = 6, kernel_size: int = 3,
                 activation: Callable = jax.nn.relu, boundary: tuple[str, ...] = (),
                 key: PRNGKeyArray):
        keys = jax.random.split(key, 2 * num_blocks + 2)
        conv = lambda i, o, k: PeriodicConv(num_spatial_dims, i, o,  # noqa: E731
                                            kernel_size=kernel_size, boundary=boundary, key=k)
        self.lift = conv(in_channels, hidden_channels, keys[0])
        self.blocks = tuple(
            (conv(hidden_channels, hidden_channels, keys[2 * b + 1]),
             conv(hidden_channels, hidden_channels, keys[2 * b + 2]))
            for b in range(num_blocks)
        )
        self.project = conv(hidden_channels, out_channels, keys[-1])
        self.activation = activation

    def __call__(self, x: Float[Array, " C *N"]) -> Float[Array, " O *N"]:
        act = self.activation
        h = act(self.lift(jnp.moveaxis(x, 0, -1)))
        for first, second in self.blocks:
            h = act(h + second(act(first(h))))
        return jnp.moveaxis(self.project(h), -1, 0)
