"""Where each layer type keeps its linear operator, as one canonical weight.

Initializers promise bounds on a layer's operator (row sums, column sums,
spectral norm, symmetric part). They can only keep them if they see the
weight in the layout the operator uses. Two canonical forms cover our layers:

- `"spatial"`: real `(out, in, *kernel)`; the layer maps
  `y[o, x] = sum_{i, tap} W[o, i, tap] u[i, x + tap]` (a dense layer has no
  kernel axes). Equinox `Linear`, Equinox and PDEquinox convolutions store it
  so; `PeriodicConv` stores `(out, k^d * in)` with the tap as the slower
  index, and is converted here.
- `"spectral"`: complex `(groups, out, in, *modes)`: one matrix per kept
  Fourier mode (PDEquinox `SpectralConv` stores real and imaginary parts as
  `(groups, in, out, *modes)`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._fast_conv import PeriodicConv


def _spectral_type():
    from pdequinox.conv import SpectralConv

    return SpectralConv


def is_linear_layer(x) -> bool:
    """Whether `x` is a layer whose weight `canonical_weight` understands."""
    if isinstance(x, PeriodicConv | _spectral_type()):
        return True
    w = getattr(x, "weight", None)
    return isinstance(x, eqx.Module) and isinstance(w, jax.Array) and w.ndim >= 2


def canonical_weight(layer) -> tuple[str, Array]:
    """`(kind, weight)` of a linear layer in its canonical form (see the module docstring)."""
    if isinstance(layer, PeriodicConv):
        d, k = layer.num_spatial_dims, layer.kernel_size
        out, cols = layer.weight.shape
        taps = k**d
        w = layer.weight.reshape(out, taps, cols // taps).transpose(0, 2, 1)
        return "spatial", w.reshape((out, cols // taps) + (k,) * d)
    if isinstance(layer, _spectral_type()):
        w = layer.weights_real + 1j * layer.weights_imag
        return "spectral", jnp.swapaxes(w, 1, 2)
    return "spatial", layer.weight


def with_canonical_weight(layer, weight: Array):
    """The layer with its weight replaced by `weight` given in canonical form."""
    if isinstance(layer, PeriodicConv):
        out, cin = weight.shape[:2]
        taps = weight[0, 0].size
        stored = weight.reshape(out, cin, taps).transpose(0, 2, 1).reshape(out, taps * cin)
        return eqx.tree_at(lambda m: m.weight, layer, stored.astype(layer.weight.dtype))
    if isinstance(layer, _spectral_type()):
        w = jnp.swapaxes(weight, 1, 2)
        dtype = layer.weights_real.dtype
        return eqx.tree_at(lambda m: (m.weights_real, m.weights_imag), layer,
                           (jnp.real(w).astype(dtype), jnp.imag(w).astype(dtype)))
    return eqx.tree_at(lambda m: m.weight, layer, weight.astype(layer.weight.dtype))
