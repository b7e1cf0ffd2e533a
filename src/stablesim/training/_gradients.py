"""How far the NOG gradient is from the full (WIG) gradient, as m grows."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from .._errors import ConfigError
from ._modalities import NOG, WIG


def gradient_alignment(
    simulator,
    windows: Float[Array, "B L C *N"],
    params: Float[Array, "B P"],
    *,
    unrolls: Sequence[int],
) -> list[dict]:
    """Norm ratio and cosine of the WIG and NOG gradients for each unroll m.

    Both losses are evaluated on the first m + 1 frames of the same windows;
    the gradients are taken with respect to the simulator's network. At m = 1
    they coincide (ratio 1, cosine 1). A ratio far above 1 means the
    temporal (solver and network Jacobian) terms dominate WIG's gradient;
    a cosine near 0 means NOG steers elsewhere.

    **Arguments:**

    - `simulator`: a differentiable simulator (a trained one, typically).
    - `windows`: ground-truth windows with at least `max(unrolls) + 1` frames.
    - `params`: physical parameters per window.
    - `unrolls`: the m values.

    **Returns:**

    One dict per m: `m`, `wig_norm`, `nog_norm`, `ratio` (WIG / NOG), `cosine`.
    """
    if not simulator.differentiable:
        raise ConfigError("the gradient diagnostic needs a differentiable simulator (WIG "
                          "cannot back-propagate through an external solver)")
    if max(unrolls) + 1 > windows.shape[1]:
        raise ConfigError(f"unroll m={max(unrolls)} needs windows of {max(unrolls) + 1} frames, "
                          f"got {windows.shape[1]}")
    params_net, static = eqx.partition(simulator, eqx.is_inexact_array)

    @eqx.filter_jit
    def both(sim_params, w, p):
        def grad(modality):
            def loss(net_params):
                return modality.loss(eqx.combine(net_params, static), w, p)
            return jax.grad(loss)(sim_params).network

        k = w.shape[1] - 1
        g_wig, g_nog = grad(WIG(k)), grad(NOG(k))
        dot = sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(g_wig),
                                                   jax.tree_util.tree_leaves(g_nog)))
        return optax.tree.norm(g_wig), optax.tree.norm(g_nog), dot

    rows = []
    for m in unrolls:
        wig, nog, dot = (float(x) for x in both(params_net, windows[:, : m + 1], params))
        denom = wig * nog
        rows.append({"m": int(m), "wig_norm": wig, "nog_norm": nog,
                     "ratio": wig / nog if nog > 0 else float("nan"),
                     "cosine": dot / denom if denom > 0 else float("nan")})
    return rows

