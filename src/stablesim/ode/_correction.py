"""Corrected per-layer gradients: linear stencils along the layer axis.

Every correction here maps the autodiff cotangents a_n of the per-layer
parameters to consistent ones, h g_n with g_n ~ G(t_n) = B(t_n)^T p(t_n), by a
fixed linear combination of a few neighbouring layers. The weights depend
only on the method and the number of steps (h cancels), so a correction is a
small banded matrix built once in NumPy and applied in JAX.

- Runge-Kutta, one parameter set per stage: a_{n,i} ~ h b_i G, so stage i is
  divided by s b_i (s stages of h / s each); a stage with b_i = 0 gets the
  linear interpolation in time of the neighbouring corrected stages.
- Adams-Bashforth (parasitic roots at 0): a_n ~ h w_n G with w_n the node's
  total stencil weight, which differs from 1 for the start and last k-1 nodes;
  divide by it.
- Leapfrog (parasitic root -1): gamma_0 = a_0 / h, gamma_n = a_n / (2h),
  gamma_N = 0; first order g_n = gamma_n + gamma_{n+1}; second order
  g_n = gamma_{n-1}/2 + gamma_n + gamma_{n+1}/2 (n >= 1).
- Nystroem 3 has no correction: its parasitic adjoint mode grows backward in
  time at 5/3 the rate of the true one, and pair sums (exact when df/dx = 0)
  were measured not to converge near t0; asking for it is an error.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError
from ._layout import LayerKind, layer_spacing, leaf_kinds, map_layer_leaves
from ._methods import Integrator, Multistep, RungeKutta, get_integrator


@dataclasses.dataclass(frozen=True)
class LayerStencil:
    """A banded linear map along the layer axis: out[n] = sum_k weights[k, n] a[n + offsets[k]].

    **Arguments:**

    - `offsets`: the diagonals used.
    - `weights`: shaped (len(offsets), layers).
    """

    offsets: tuple[int, ...]
    weights: np.ndarray

    @property
    def layers(self) -> int:
        return self.weights.shape[1]

    @classmethod
    def from_entries(cls, layers: int, entries: dict[tuple[int, int], float]) -> LayerStencil:
        offsets = sorted({col - row for row, col in entries})
        weights = np.zeros((len(offsets), layers))
        for (row, col), value in entries.items():
            weights[offsets.index(col - row), row] += value
        return cls(tuple(offsets), weights)

    def matrix(self) -> np.ndarray:
        """The dense (layers, layers) matrix, for inspection and tests."""
        dense = np.zeros((self.layers, self.layers))
        for offset, row_weights in zip(self.offsets, self.weights):
            for row in range(self.layers):
                if 0 <= row + offset < self.layers:
                    dense[row, row + offset] += row_weights[row]
        return dense

    def apply(self, a: Float[Array, " layers *rest"]) -> Float[Array, " layers *rest"]:
        """Apply the stencil along the leading axis of `a`."""
        if a.shape[0] != self.layers:
            raise ConfigError(f"expected {self.layers} layers along the leading axis, "
                              f"got shape {a.shape}")
        pad = max(abs(o) for o in self.offsets)
        padded = jnp.pad(a, [(pad, pad)] + [(0, 0)] * (a.ndim - 1))
        expand = (slice(None),) + (None,) * (a.ndim - 1)
        out = jnp.zeros_like(a)
        for offset, row_weights in zip(self.offsets, self.weights):
            shifted = padded[pad + offset: pad + offset + self.layers]
            out = out + jnp.asarray(row_weights, dtype=a.dtype)[expand] * shifted
        return out


def _identity(layers: int) -> LayerStencil:
    return LayerStencil((0,), np.ones((1, layers)))


def _runge_kutta_stages(rk: RungeKutta, steps: int) -> LayerStencil:
    s = rk.stages
    b = np.asarray(rk.b)
    valid = [i for i in range(s) if abs(b[i]) > 1e-12]
    if not valid:
        raise ConfigError(f"{rk.name} has no stage with a non-zero weight")
    valid_index = np.array([n * s + i for n in range(steps) for i in valid])
    valid_time = np.array([n + rk.c[i] for n in range(steps) for i in valid])
    order = np.argsort(valid_time, kind="stable")
    valid_index, valid_time = valid_index[order], valid_time[order]
    entries: dict[tuple[int, int], float] = {}
    for n in range(steps):
        for i in range(s):
            row = n * s + i
            if abs(b[i]) > 1e-12:
                entries[(row, row)] = 1.0 / (s * b[i])
                continue
            if len(valid_time) < 2:
                raise ConfigError(f"{rk.name} with per_stage parameters needs steps >= 2")
            tau = n + rk.c[i]
            right = int(np.searchsorted(valid_time, tau))
            left_pos = min(max(right - 1, 0), len(valid_time) - 2)
            t_left, t_right = valid_time[left_pos], valid_time[left_pos + 1]
            w_right = (tau - t_left) / (t_right - t_left)
            for pos, weight in ((left_pos, 1.0 - w_right), (left_pos + 1, w_right)):
                col = int(valid_index[pos])
                stage = col % s
                key = (row, col)
                entries[key] = entries.get(key, 0.0) + weight / (s * b[stage])
    return LayerStencil.from_entries(steps * s, entries)


def _leapfrog(ms: Multistep, steps: int, order: int) -> LayerStencil:
    weights = ms.parameter_weights(steps)
    entries: dict[tuple[int, int], float] = {}

    def add(row, col, value):
        if 0 <= col < steps:
            entries[(row, col)] = entries.get((row, col), 0.0) + value / weights[col]

    for n in range(steps):
        add(n, n, 1.0)
        add(n, n + 1, 1.0 if (order == 1 or n == 0) else 0.5)
        if order == 2 and n >= 1:
            add(n, n - 1, 0.5)
    return LayerStencil.from_entries(steps, entries)


def highest_correction_order(method: str | Integrator) -> int:
    """The highest order of per-layer gradient correction known for a method: 2 for
    leapfrog (interior error O(h^2)), 1 for the others."""
    return 2 if get_integrator(method).name == "leapfrog" else 1


def layer_stencil(method: str | Integrator, *, steps: int, kind: LayerKind = "per_step",
                  order: int | None = None) -> LayerStencil:
    """The correction of one per-layer parameter's cotangents, in autodiff units.

    **Arguments:**

    - `method`: the integrator.
    - `steps`: the number of steps N.
    - `kind`: `"per_step"` or `"per_stage"`.
    - `order`: 1 or 2; order 2 exists for leapfrog only (default: the highest
        for the method, `highest_correction_order`).

    **Returns:**

    A `LayerStencil` over N (or N x stages, step-major) layers.
    """
    integrator = get_integrator(method)
    order = highest_correction_order(integrator) if order is None else order
    if order not in (1, 2):
        raise ConfigError(f"correction order must be 1 or 2, got {order}")
    if order == 2 and integrator.name != "leapfrog":
        raise ConfigError(f"a second-order correction exists for leapfrog only, not "
                          f"{integrator.name}")
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    if isinstance(integrator, RungeKutta):
        if kind == "per_stage":
            return _runge_kutta_stages(integrator, steps)
        return _identity(steps)
    if kind == "per_stage":
        raise ConfigError(f"{integrator.name} is a multistep method: use per_step parameters")
    if integrator.name == "leapfrog":
        return _leapfrog(integrator, steps, order)
    if integrator.weakly_stable:
        raise ConfigError(
            f"no consistent correction is known for {integrator.name} (parasitic root at -1 "
            "with a growing adjoint mode): use leapfrog, or a Runge-Kutta method"
        )
    return LayerStencil.from_entries(
        steps, {(n, n): 1.0 / w for n, w in enumerate(integrator.parameter_weights(steps))}
    )


def layer_stencils(integrator: Integrator, kinds: Any, *, steps: int,
                   order: int | None) -> dict[str, LayerStencil]:
    """The stencil of every per-layer kind present in `kinds` (raises for impossible ones)."""
    present = {kind for kind in jtu.tree_leaves(kinds) if kind != "shared"}
    return {kind: layer_stencil(integrator, steps=steps, kind=kind, order=order)
            for kind in sorted(present)}


def correct_layer_cotangents(tree: Any, kinds: Any, stencils: dict[str, LayerStencil]) -> Any:
    """Apply the right stencil to every per-layer leaf of a cotangent tree."""

    def fix(leaf, kind):
        flat = leaf.reshape((-1,) + leaf.shape[2:]) if kind == "per_stage" else leaf
        return stencils[kind].apply(flat).reshape(leaf.shape)

    return map_layer_leaves(fix, tree, kinds)


def correct_gradients(grads: Any, *, method: str | Integrator, steps: int,
                      layout: Any = "per_step", order: int | None = None,
                      t1: float | None = None,
                      t0: float = 0.0, units: Literal["autodiff", "rate"] = "autodiff") -> Any:
    """Correct autodiff gradients of per-layer parameters, computed anywhere (diffrax too).

    **Arguments:**

    - `grads`: the gradient PyTree, structured like the parameters.
    - `method`, `steps`: the integrator and number of steps that produced it.
    - `layout`: `"shared"`, `"per_step"`, `"per_stage"`, or a prefix PyTree
      of these; shared leaves pass through unchanged.
    - `order`: 1, or 2 for leapfrog (default: the highest for the method).
    - `t1`, `t0`: the time interval; needed only for `units="rate"`.
    - `units`: `"autodiff"` (a cotangent to hand to an optimizer, h g_n) or
      `"rate"` (g_n, comparable with the continuous gradient G(t_n)).

    **Returns:**

    The corrected gradient PyTree.
    """
    integrator = get_integrator(method)
    if units not in ("autodiff", "rate"):
        raise ConfigError(f"units must be 'autodiff' or 'rate', got {units!r}")
    kinds = leaf_kinds(grads, layout)
    stencils = layer_stencils(integrator, kinds, steps=steps, order=order)
    corrected = correct_layer_cotangents(grads, kinds, stencils)
    if units == "autodiff":
        return corrected
    if t1 is None:
        raise ConfigError("units='rate' needs t1 (the time each layer stands for)")
    return to_rate(corrected, kinds, integrator, steps=steps, t1=t1, t0=t0)


def to_rate(grads: Any, kinds: Any, integrator: Integrator, *, steps: int, t1: float,
            t0: float = 0.0) -> Any:
    """Divide per-layer cotangents by the time span each layer stands for."""
    return map_layer_leaves(
        lambda leaf, kind: leaf / layer_spacing(integrator, steps=steps, t1=t1, t0=t0,
                                                kind=kind),
        grads, kinds,
    )
