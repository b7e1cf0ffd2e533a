"""Diagnostics for per-layer gradients: oscillation, refinement, consistency, transfer."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, PyTree, Scalar

from .._errors import ConfigError
from ._correction import to_rate
from ._integrate import GradientMode, InconsistentGradientWarning, integrate
from ._layout import layer_times, leaf_kinds
from ._methods import Integrator, get_integrator
from ._reference import continuous_gradient, interpolate_parameters, sample_parameters


def _layer_matrix(layers: PyTree) -> np.ndarray:
    """Concatenate every leaf, flattened per layer, into one (layers, features) matrix."""
    leaves = [np.asarray(leaf) for leaf in jtu.tree_leaves(layers)]
    if not leaves:
        raise ConfigError("no per-layer arrays given")
    count = leaves[0].shape[0]
    if any(leaf.shape[0] != count for leaf in leaves):
        raise ConfigError("every leaf needs the same number of layers on its leading axis")
    return np.concatenate([leaf.reshape(count, -1) for leaf in leaves], axis=1)


def oscillation_index(layers: PyTree) -> float:
    """max_n |g_n - (g_{n-1} + g_{n+1}) / 2| / max |g| along the layer axis.

    O(h^2) for values sampled from a smooth function of time, O(1) for a
    zigzag. Works on gradients or on the parameters themselves.

    **Arguments:**

    - `layers`: an array or PyTree with the layer axis leading (flatten stage
      axes first).

    **Returns:**

    The index, a float (0 for fewer than three layers).
    """
    g = _layer_matrix(layers)
    if g.shape[0] < 3:
        return 0.0
    scale = np.max(np.abs(g))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(g[1:-1] - 0.5 * (g[:-2] + g[2:]))) / scale)


def even_odd_ratios(layers: PyTree) -> np.ndarray:
    """Signed size of each even layer relative to the next odd one.

    r_k = <g_{2k}, g_{2k+1}> / |g_{2k+1}|^2: about 1 when healthy; 0 / 2
    patterns give 0 (or blow up), Ralston's stages give 1/3, midpoint's 0.

    **Arguments:**

    - `layers`: an array or PyTree with the layer axis leading.

    **Returns:**

    The ratios, shaped (layers // 2,).
    """
    g = _layer_matrix(layers)
    pairs = g.shape[0] // 2
    even, odd = g[0: 2 * pairs: 2], g[1: 2 * pairs: 2]
    denominator = np.sum(odd * odd, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(even * odd, axis=1) / denominator


def _flatten_stages(tree: Any, kinds: Any) -> Any:
    return jtu.tree_map(
        lambda kind, leaf: leaf.reshape((-1,) + leaf.shape[2:]) if kind == "per_stage" else leaf,
        kinds, tree,
    )


def _layer_leaves(tree: Any, kinds: Any) -> list[np.ndarray]:
    flat = _flatten_stages(tree, kinds)
    return [np.asarray(leaf) for kind, leaf in zip(jtu.tree_leaves(kinds), jtu.tree_leaves(flat))
            if kind != "shared"]


class LayerGradient(eqx.Module):
    """Per-layer gradients of l(x(t1)) in rate units (per unit time), at the layer times.

    **Arguments:**

    - `times`: the time of each layer (per kind: `"per_step"`, `"per_stage"`).
    - `rate`: the gradient PyTree, per-layer leaves divided by their time span.
    - `loss`: the discrete loss.
    """

    times: dict
    rate: PyTree[Array]
    loss: Scalar


def layer_gradient(vector_field: Callable, theta: PyTree[Any], x0: PyTree[Array],
                   loss: Callable[[PyTree[Array]], Scalar], *, t1: float, steps: int,
                   method: str | Integrator, layout: Any = "per_step",
                   gradients: GradientMode = "autodiff", order: int | None = None,
                   t0: float = 0.0) -> LayerGradient:
    """The gradient `jax.grad` gives through `integrate`, converted to rate units.

    **Arguments:**

    - `vector_field`, `theta`, `x0`, `t1`, `steps`, `method`, `layout`,
      `gradients`, `order`, `t0`: as for `integrate`.
    - `loss`: l(x(t1)).

    **Returns:**

    A `LayerGradient`.
    """
    integrator = get_integrator(method)
    kinds = leaf_kinds(theta, layout)

    def objective(p):
        solution = integrate(vector_field, p, x0, t1=t1, t0=t0, steps=steps, method=integrator,
                             layout=layout, gradients=gradients, order=order)
        return loss(solution.x1)

    with warnings.catch_warnings():  # the diagnostics look at autodiff gradients on purpose
        warnings.simplefilter("ignore", InconsistentGradientWarning)
        value, grads = jax.value_and_grad(objective)(theta)
    times = {kind: layer_times(integrator, steps=steps, t1=t1, t0=t0, kind=kind)
             for kind in ("per_step", "per_stage")}
    rate = to_rate(grads, kinds, integrator, steps=steps, t1=t1, t0=t0)
    return LayerGradient(times=times, rate=rate, loss=value)


def _relative_difference(values: list[np.ndarray], references: list[np.ndarray]) -> float:
    scale = max(float(np.max(np.abs(r))) for r in references)
    worst = max(float(np.max(np.abs(v - r))) for v, r in zip(values, references))
    return worst / scale if scale > 0 else worst


def consistency_check(vector_field: Callable, theta_of_t: Callable[[Scalar], PyTree[Any]],
                      x0: PyTree[Array], loss: Callable[[PyTree[Array]], Scalar], *,
                      t1: float, steps: int, method: str | Integrator,
                      layout: Any = "per_step", gradients: GradientMode = "autodiff",
                      order: int | None = None, t0: float = 0.0, interior: bool = False) -> float:
    """Distance between per-layer gradients and the continuous gradient G(t_n).

    **Arguments:**

    - `theta_of_t`: a smooth parameter function t -> theta(t); the layers get its
      values at their times (`sample_parameters`).
    - `interior`: skip the first and last layer of every kind (the leapfrog
      second-order correction is first order at n = 0).
    - the rest: as for `integrate`.

    **Returns:**

    max |g_n - G(t_n)| / max |G| over all per-layer leaves.
    """
    integrator = get_integrator(method)
    theta = sample_parameters(theta_of_t, method=integrator, steps=steps, t1=t1, t0=t0,
                               layout=layout)
    kinds = leaf_kinds(theta, layout)
    got = layer_gradient(vector_field, theta, x0, loss, t1=t1, t0=t0, steps=steps,
                         method=integrator, layout=layout, gradients=gradients, order=order)
    values, references = [], []
    for kind in ("per_step", "per_stage"):
        if kind not in jtu.tree_leaves(kinds):
            continue
        times = got.times[kind]
        reference = continuous_gradient(vector_field, theta_of_t, x0, loss, t1=t1, t0=t0, times=times)
        only = jtu.tree_map(lambda k: k if k == kind else "shared", kinds)
        ref_leaves = [np.asarray(leaf) for k, leaf in
                      zip(jtu.tree_leaves(only), jtu.tree_leaves(reference.rate)) if k != "shared"]
        got_leaves = _layer_leaves(got.rate, only)
        cut = slice(1, -1) if interior else slice(None)
        values += [leaf[cut] for leaf in got_leaves]
        references += [leaf[cut] for leaf in ref_leaves]
    if not values:
        raise ConfigError("consistency_check needs per-layer parameters (layout per_step or "
                          "per_stage)")
    return _relative_difference(values, references)


def refinement_check(vector_field: Callable, theta_of_t: Callable[[Scalar], PyTree[Any]],
                     x0: PyTree[Array], loss: Callable[[PyTree[Array]], Scalar], *,
                     t1: float, steps: int, method: str | Integrator,
                     layout: Any = "per_step", gradients: GradientMode = "autodiff",
                     order: int | None = None, t0: float = 0.0) -> float:
    """Compare per-layer gradients (rate units) with N and 2N layers.

    The 2N gradients are interpolated linearly to the N layer times. A
    consistent gradient gives O(h); an oscillating one stays O(1).

    **Arguments:**

    - as for `consistency_check`.

    **Returns:**

    max |g^N - g^2N| / max |g^2N| over all per-layer leaves.
    """
    integrator = get_integrator(method)
    results = []
    for n in (steps, 2 * steps):
        theta = sample_parameters(theta_of_t, method=integrator, steps=n, t1=t1, t0=t0,
                                   layout=layout)
        kinds = leaf_kinds(theta, layout)
        results.append(layer_gradient(vector_field, theta, x0, loss, t1=t1, t0=t0, steps=n,
                                      method=integrator, layout=layout, gradients=gradients,
                                      order=order))
    coarse, fine = results
    values, references = [], []
    for kind in ("per_step", "per_stage"):
        if kind not in jtu.tree_leaves(kinds):
            continue
        only = jtu.tree_map(lambda k: k if k == kind else "shared", kinds)
        for c, f in zip(_layer_leaves(coarse.rate, only), _layer_leaves(fine.rate, only)):
            fine_flat = f.reshape(f.shape[0], -1)
            at_coarse = np.stack([np.interp(coarse.times[kind], fine.times[kind], column)
                                  for column in fine_flat.T], axis=1)
            values.append(c.reshape(c.shape[0], -1))
            references.append(at_coarse)
    if not values:
        raise ConfigError("refinement_check needs per-layer parameters")
    return _relative_difference(values, references)


class TransferReport(eqx.Module):
    """Loss of trained per-layer parameters under their own and a finer integrator.

    **Arguments:**

    - `loss`: with the integrator they were trained with.
    - `transferred_loss`: with `method` at `refine` times as many steps,
      parameters interpolated in time.
    """

    loss: Scalar
    transferred_loss: Scalar

    @property
    def ratio(self) -> float:
        return float(self.transferred_loss / self.loss)


def transfer_check(vector_field: Callable, theta: PyTree[Any], x0: PyTree[Array],
                   loss: Callable[[PyTree[Array]], Scalar], *, t1: float, steps: int,
                   method: str | Integrator, layout: Any = "per_step", t0: float = 0.0,
                   to_method: str | Integrator = "rk4", refine: int = 4) -> TransferReport:
    """The "ODE transfer" check: re-evaluate trained parameters with a finer integrator.

    Parameters that discretise a smooth theta(t) give about the same loss;
    parameters with a layer-to-layer zigzag do not.

    **Arguments:**

    - `theta`, `method`, `steps`, `layout`: the trained network.
    - `loss`: l(x(t1)) (for a batch, vmap inside `loss` and `vector_field`).
    - `to_method`, `refine`: the finer integrator and its step multiplier.

    **Returns:**

    A `TransferReport`.
    """
    if refine < 1:
        raise ConfigError(f"refine must be >= 1, got {refine}")
    theta_of_t = interpolate_parameters(theta, method=method, steps=steps, t1=t1, t0=t0,
                                   layout=layout)
    fine_steps = steps * refine
    kinds = leaf_kinds(theta, layout)
    fine_integrator = get_integrator(to_method)
    fine_kind = "per_stage" if fine_integrator.kind == "runge_kutta" and \
        fine_integrator.stages > 1 else "per_step"
    fine_layout = jtu.tree_map(lambda k: "shared" if k == "shared" else fine_kind, kinds)
    fine_params = sample_parameters(theta_of_t, method=fine_integrator, steps=fine_steps, t1=t1,
                                    t0=t0, layout=fine_layout)
    with warnings.catch_warnings():  # forward evaluation only: no gradients involved
        warnings.simplefilter("ignore", InconsistentGradientWarning)
        original = integrate(vector_field, theta, x0, t1=t1, t0=t0, steps=steps,
                             method=method, layout=layout)
        fine = integrate(vector_field, fine_params, x0, t1=t1, t0=t0, steps=fine_steps,
                         method=fine_integrator, layout=fine_layout)
    return TransferReport(loss=loss(original.x1), transferred_loss=loss(fine.x1))
