"""`stablesim ode check`: per-layer gradients of every integrator on a built-in problem."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._errors import ConfigError
from ._correction import highest_correction_order
from ._diagnostics import even_odd_ratios, layer_gradient, oscillation_index, refinement_check
from ._methods import INTEGRATORS, get_integrator
from ._reference import continuous_gradient, sample_parameters
from ._smooth import default_layout

TARGET = (0.3, 0.4)


def check_field(x, theta):
    """The built-in test problem: dx/dt = tanh(W(t) x + b(t)) - 0.3 x in two dimensions."""
    return jnp.tanh(theta["W"] @ x + theta["b"]) - 0.3 * x


def check_theta(t):
    """A smooth parameter function theta(t) for the built-in problem."""
    base = jnp.array([[0.2, -1.0], [1.0, 0.1]])
    wobble = jnp.array([[0.0, 0.3], [0.2, 0.0]])
    return {"W": base * (1.0 + 0.5 * jnp.sin(2.0 * t)) + wobble * jnp.cos(3.0 * t),
            "b": jnp.stack([0.3 * jnp.cos(t), -0.2 + 0.1 * t])}


def check_loss(x):
    return 0.5 * jnp.sum((x - jnp.asarray(TARGET, x.dtype)) ** 2)


def _flat(tree, count):
    return np.concatenate([np.asarray(leaf).reshape(count, -1) for leaf in jtu.tree_leaves(tree)],
                          axis=1)


def _relative(values, reference, cut=slice(None)):
    return float(np.max(np.abs(values[cut] - reference[cut])) / np.max(np.abs(reference[cut])))


def run_ode_check(methods=tuple(INTEGRATORS), *, steps: int = 32, t1: float = 2.0,
                  order: int | None = None) -> tuple[list[dict], dict]:
    """Compare plain and corrected per-layer gradients with the continuous adjoint.

    Runs in float64. For each method: one parameter set per layer (per stage
    for multi-stage Runge-Kutta), sampled from a smooth theta(t).

    **Arguments:**

    - `methods`: integrator names.
    - `steps`: N; the refinement check also runs 2N.
    - `t1`: the time horizon.
    - `order`: the highest correction order to use; each method gets the highest it
      has up to this (default: its highest, `highest_correction_order`).

    **Returns:**

    `(rows, curves)`: one row per method and gradient mode (method, layout,
    gradients, consistency, refinement, oscillation, even_odd), and per
    method the layer times and the gradients (raw, corrected, continuous) of
    the first entry of b, for plots.
    """
    if steps < 4:
        raise ConfigError(f"--steps must be >= 4, got {steps}")
    rows: list[dict] = []
    curves: dict = {}
    with jax.enable_x64(True):
        x0 = jnp.array([0.5, -0.8])
        for method in methods:
            integrator = get_integrator(method)
            best = highest_correction_order(integrator)
            used = best if order is None else min(order, best)
            kind = default_layout(method)
            count = steps * (integrator.stages if kind == "per_stage" else 1)
            theta = sample_parameters(check_theta, method=method, steps=steps, t1=t1,
                                       layout=kind)
            times = None
            reference = None
            curves[method] = {}
            for mode in ("autodiff", "corrected"):
                try:
                    got = layer_gradient(check_field, theta, x0, check_loss, t1=t1,
                                         steps=steps, method=method, layout=kind,
                                         gradients=mode, order=used)
                    refinement = refinement_check(check_field, check_theta, x0, check_loss,
                                                  t1=t1, steps=steps, method=method,
                                                  layout=kind, gradients=mode, order=used)
                except ConfigError as err:
                    rows.append({"method": method, "layout": kind, "gradients": mode,
                                 "note": str(err)})
                    continue
                times = got.times[kind]
                if reference is None:
                    reference = continuous_gradient(check_field, check_theta, x0, check_loss,
                                                    t1=t1, times=times)
                ref = _flat(reference.rate, count)
                values = _flat(got.rate, count)
                ratios = even_odd_ratios(values)
                rows.append({
                    "method": method, "layout": kind, "gradients": mode,
                    "order": used if mode == "corrected" else None,
                    "consistency": _relative(values, ref),
                    "consistency_interior": _relative(values, ref, slice(1, -1)),
                    "refinement": refinement,
                    "oscillation": oscillation_index(values),
                    "even_odd": float(np.median(ratios[np.isfinite(ratios)])),
                    "note": "",
                })
                curves[method]["times"] = times
                curves[method][mode] = np.asarray(got.rate["b"]).reshape(count, -1)[:, 0]
                curves[method]["continuous"] = np.asarray(reference.rate["b"]).reshape(
                    count, -1)[:, 0]
    return rows, curves


def format_check_table(rows: list[dict], steps: int) -> str:
    """A plain-text table of `run_ode_check` rows."""
    header = (f"{'method':9} {'layout':9} {'gradients':9} {'order':>5} {'vs G(t)':>9} "
              f"{'interior':>9} "
              f"{'N vs 2N':>9} {'zigzag':>8} {'even/odd':>8}")
    lines = [f"per-layer gradients, N = {steps}, relative to max |G| (float64)", header,
             "-" * len(header)]
    for row in rows:
        if row.get("note") and "consistency" not in row:
            lines.append(f"{row['method']:9} {row['layout']:9} {row['gradients']:9} "
                         f"n/a: {row['note']}")
            continue
        order = "-" if row.get("order") is None else str(row["order"])
        lines.append(
            f"{row['method']:9} {row['layout']:9} {row['gradients']:9} {order:>5} "
            f"{row['consistency']:9.2e} {row['consistency_interior']:9.2e} "
            f"{row['refinement']:9.2e} {row['oscillation']:8.3f} {row['even_odd']:8.3f}")
    return "\n".join(lines)
