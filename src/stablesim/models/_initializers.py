"""Weight initializers chosen by name, applied to any of our networks."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._errors import ConfigError
from .._options import INITIALIZERS, VARIANCE_SCALING_INITIALIZERS
from ._layouts import canonical_weight, is_linear_layer, with_canonical_weight

# Weights are shaped (out, in, *kernel) for both eqx.nn.Linear and convolutions.
_VARIANCE_SCALING: dict[str, Callable] = {
    "he": lambda: jax.nn.initializers.he_normal(in_axis=1, out_axis=0),
    "glorot": lambda: jax.nn.initializers.glorot_normal(in_axis=1, out_axis=0),
    "lecun": lambda: jax.nn.initializers.lecun_normal(in_axis=1, out_axis=0),
    "orthogonal": lambda: jax.nn.initializers.orthogonal(column_axis=0),
}

assert tuple(_VARIANCE_SCALING) == VARIANCE_SCALING_INITIALIZERS


def _abs_sums(w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Absolute row and column sums of the layer as a linear operator.

    A weight (out, in, *kernel) acts on periodic fields as a block-circulant
    matrix whose row i (output channel) holds every tap of w[i] once, and
    whose columns likewise; with zero padding the sums are upper bounds.
    """
    a = jnp.abs(w)
    taps = tuple(range(2, w.ndim))
    return a.sum(axis=(1, *taps)), a.sum(axis=(0, *taps))


def gershgorin_weights(key: PRNGKeyArray, shape: tuple[int, ...], *, radius: float = 0.9,
                       columns: bool = True, dtype=jnp.float32) -> jax.Array:
    """Random weights whose absolute row sums (and column sums) are at most `radius`.

    Row sums bound every eigenvalue by Gershgorin's theorem (|mu| <= radius)
    but not the compressions onto subspaces; bounding the column sums too
    gives ||W||_2 <= sqrt(||W||_1 ||W||_inf) <= radius, so every compression
    (the unlearnable block included) has spectral radius at most `radius`.

    **Arguments:**

    - `key`: random key.
    - `shape`: `(out, in, *kernel)`.
    - `radius`: the bound rho.
    - `columns`: also bound the column sums (the robust version).
    - `dtype`: the dtype.

    **Returns:**

    The weights.
    """
    w = jax.random.normal(key, shape, dtype)
    rows, cols = _abs_sums(w)
    if columns:
        return w * (radius / jnp.maximum(rows.max(), cols.max()))
    return w * (radius / rows).reshape((-1,) + (1,) * (w.ndim - 1))


def dissipative_weights(key: PRNGKeyArray, shape: tuple[int, ...], *, margin: float = 0.1,
                        scale: float = 0.1, dtype=jnp.float32) -> jax.Array:
    """Square-layer weights whose symmetric part is diagonally dominant, <= -margin.

    Off-diagonal entries are random (standard deviation `scale / sqrt(fan_in)`);
    each diagonal entry (the centre tap of channel i -> i for convolutions)
    is set to -margin - (row + column off-diagonal absolute sums) / 2. Then
    every eigenvalue of (W + W^T)/2 is <= -margin, so dx/dt = W x and every
    compression U^T W U have Re(lambda) <= -margin: a stable continuous-time
    initialization.

    **Arguments:**

    - `key`: random key.
    - `shape`: `(n, n, *kernel)` with odd kernel sizes.
    - `margin`: delta > 0.
    - `scale`: size of the off-diagonal part.
    - `dtype`: the dtype.

    **Returns:**

    The weights.
    """
    if shape[0] != shape[1] or any(k % 2 == 0 for k in shape[2:]):
        raise ConfigError(f"the dissipative initializer needs a square layer with odd kernels, "
                          f"got weight shape {shape}")
    fan_in = math.prod(shape[1:])
    w = jax.random.normal(key, shape, dtype) * (scale / math.sqrt(fan_in))
    centre = tuple(k // 2 for k in shape[2:])
    idx = jnp.arange(shape[0])
    w = w.at[(idx, idx, *centre)].set(0.0)
    rows, cols = _abs_sums(w)
    return w.at[(idx, idx, *centre)].set(-margin - 0.5 * (rows + cols))


def initialize(model, name: str, *, key: PRNGKeyArray, scale: float = 1.0,
               parameter_channels: int = 0):
    """Re-initialize the weight of every linear layer of a model by name.

    Each layer's weight is brought to its canonical operator layout first
    (`stablesim.models._layouts`: `(out, in, *kernel)` for dense layers and
    convolutions, our channels-last `PeriodicConv` included; per-mode complex
    matrices for spectral convolutions), so the bounds below hold for the
    operator the layer applies, not only for its stored array. Biases and
    normalisation parameters keep the architecture's values, except under
    `"zeros"`, which sets every real floating array to zero.

    **Arguments:**

    - `model`: any Equinox module (our networks, PDEquinox's, eqx.nn's).
    - `name`: one of `default` (keep the architecture's own), `zeros`,
        `small` (the architecture's own times `scale`, default 0.01),
        `he`, `glorot`, `lecun`, `orthogonal`, and the stable ones:
        `gershgorin_rows` (row sums <= rho, so every eigenvalue |mu| <= rho),
        `gershgorin` (row and column sums <= rho, so ||W||_2 <= rho),
        `dissipative` (symmetric part <= -delta), with rho = 0.9 x `scale`
        and delta = 0.1 x `scale`.

    !!! note
        `dissipative` needs a square operator: it applies to the layers with
        as many inputs as outputs (hidden layers), and to a layer whose inputs
        are its outputs plus the `parameter_channels` appended to the state
        (the state block is made dissipative, the parameter columns stay as
        the architecture made them); it leaves the others as the
        architecture made them. Spectral convolutions keep their own
        initialization under the variance-scaling names and `dissipative`
        (their operator is zero beyond the kept modes, so no symmetric part
        can be negative definite); `gershgorin_rows` and `gershgorin` bound
        each mode's matrix, hence the operator's eigenvalues and norm.

    - `key`: random key.
    - `scale`: factor applied after initialization (`small` uses 0.01 if 1).
    - `parameter_channels`: inputs appended to the state (physical parameters).

    **Returns:**

    The re-initialized model.
    """
    if name not in INITIALIZERS:
        raise ConfigError(f"unknown initializer {name!r}; choose from {', '.join(INITIALIZERS)}")
    if name == "default" and scale == 1.0:
        return model
    if name == "zeros":
        return jax.tree_util.tree_map(
            lambda x: jnp.zeros_like(x) if eqx.is_array(x)
            and jnp.issubdtype(x.dtype, jnp.floating) else x, model)
    layers, treedef = jax.tree_util.tree_flatten(model, is_leaf=is_linear_layer)
    keys = jax.random.split(key, max(len(layers), 1))
    out = []
    for layer, k in zip(layers, keys):
        if not is_linear_layer(layer):
            out.append(layer)
            continue
        kind, w = canonical_weight(layer)
        if name in ("default", "small"):
            factor = 0.01 if (name == "small" and scale == 1.0) else scale
            new = w * factor
        elif kind == "spectral":
            new = (spectral_gershgorin(k, w.shape, radius=0.9 * scale,
                                       columns=name == "gershgorin", dtype=w.dtype)
                   if name in ("gershgorin_rows", "gershgorin") else w)
        elif (name == "dissipative" and parameter_channels > 0
              and w.shape[1] == w.shape[0] + parameter_channels
              and all(n % 2 for n in w.shape[2:])):
            square = (w.shape[0], w.shape[0]) + tuple(w.shape[2:])
            new = w.at[:, : w.shape[0]].set(dissipative_weights(k, square, margin=0.1 * scale,
                                                                dtype=w.dtype))
        elif name == "dissipative" and (w.shape[0] != w.shape[1]
                                        or any(n % 2 == 0 for n in w.shape[2:])):
            new = w  # not a square operator: keep the architecture's own
        else:
            new = initial_weights(name, k, w.shape, scale=scale, dtype=w.dtype)
        out.append(with_canonical_weight(layer, new))
    return jax.tree_util.tree_unflatten(treedef, out)


def spectral_gershgorin(key: PRNGKeyArray, shape: tuple[int, ...], *, radius: float = 0.9,
                        columns: bool = True, dtype=jnp.complex64) -> jax.Array:
    """Complex per-mode matrices `(groups, out, in, *modes)` with absolute row (and column)
    sums at most `radius`: every mode's eigenvalues (rows) or norm (rows and columns) are
    bounded by `radius`, hence those of the spectral convolution.

    **Arguments:**

    - `key`: random key.
    - `shape`: the canonical spectral shape.
    - `radius`: the bound rho.
    - `columns`: also bound the column sums (the norm bound).
    - `dtype`: a complex dtype.

    **Returns:**

    The complex weights.
    """
    real_key, imag_key = jax.random.split(key)
    real = jnp.finfo(dtype).dtype
    w = (jax.random.normal(real_key, shape, real) + 1j * jax.random.normal(imag_key, shape, real))
    a = jnp.abs(w)
    rows = a.sum(axis=2, keepdims=True)  # per (group, out, mode): sum over inputs
    if not columns:
        return (w * (radius / rows)).astype(dtype)
    cols = a.sum(axis=1, keepdims=True)
    return (w * (radius / jnp.maximum(rows.max(), cols.max()))).astype(dtype)


def initial_weights(name: str, key: PRNGKeyArray, shape: tuple[int, ...], *,
                    scale: float = 1.0, dtype=jnp.float32) -> jax.Array:
    """Fresh weights of one layer `(out, in, *kernel)` by initializer name.

    `zeros`; `small` (LeCun normal x 0.01 x `scale`); `he`, `glorot`, `lecun`,
    `orthogonal` (x `scale`); `gershgorin_rows`, `gershgorin` (radius
    0.9 x `scale`); `dissipative` (margin 0.1 x `scale`). `default` has no
    shape-only meaning (it keeps an architecture's own weights).

    **Arguments:**

    - `name`: the initializer.
    - `key`: random key.
    - `shape`: the weight shape.
    - `scale`: the factor described above.
    - `dtype`: the dtype.

    **Returns:**

    The weights.
    """
    if name == "zeros":
        return jnp.zeros(shape, dtype)
    if name == "small":
        return 0.01 * scale * _VARIANCE_SCALING["lecun"]()(key, shape, dtype)
    if name in _VARIANCE_SCALING:
        return scale * _VARIANCE_SCALING[name]()(key, shape, dtype)
    if name == "dissipative":
        return dissipative_weights(key, shape, margin=0.1 * scale, dtype=dtype)
    if name in ("gershgorin_rows", "gershgorin"):
        return gershgorin_weights(key, shape, radius=0.9 * scale, columns=name == "gershgorin",
                                  dtype=dtype)
    raise ConfigError(f"initializer {name!r} has no shape-only form; choose from "
                      f"{', '.join(n for n in INITIALIZERS if n != 'default')}")
