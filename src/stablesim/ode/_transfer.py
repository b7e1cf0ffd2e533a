"""`stablesim ode transfer`: does a trained neural ODE mean the same under another discretisation?

Several ways of training the same learned flow map (per-layer leapfrog
parameters with plain or corrected gradients; parameters smooth in time
trained through leapfrog, through RK4, or through two step counts at once)
are trained side by side. At every logged point each model is re-evaluated
under a 2x finer step of its own method and under RK4 with many steps; the
ratio of those losses to its own training loss is the transfer ratio. A
ratio well above 1 means the model has become step-specific.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError
from ._integrate import InconsistentGradientWarning, integrate
from ._monitor import REFERENCE_STEPS, TransferMonitor, best_ratio, plateau_update, worst_ratio
from ._reference import adaptive_solve, interpolate_parameters, sample_parameters
from ._smooth import TimeFunction, default_layout, integrate_in_time

T1 = 1.0


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of training: name, training method and steps, parameterisation, gradients.

    **Fields:**

    - `name`: label of tables and plots.
    - `method`, `steps`: the training discretisation.
    - `smooth`: parameters as a `TimeFunction` (else one set per layer).
    - `gradients`: `"autodiff"` or `"corrected"` (per-layer parameters).
    - `also_steps`: a second step count trained at the same time (its loss
        averaged with the first), or None.
    """

    name: str
    method: str
    steps: int
    smooth: bool
    gradients: str = "autodiff"
    also_steps: int | None = None


def default_variants(steps: int) -> list[Variant]:
    """The remedies compared, for leapfrog at N = `steps`: per-layer leapfrog (plain,
    corrected); smooth in time through leapfrog at N, through leapfrog at N and 2N at
    once, through RK4 with as many field evaluations as leapfrog at N (N / 4 steps of 4
    stages), and through RK4 at N steps (4x the evaluations, far smaller error)."""
    quarter = max(1, steps // 4)
    return [
        Variant(f"per-layer leapfrog x {steps}, autodiff", "leapfrog", steps, False,
                "autodiff"),
        Variant(f"per-layer leapfrog x {steps}, corrected", "leapfrog", steps, False,
                "corrected"),
        Variant(f"smooth, leapfrog x {steps}", "leapfrog", steps, True),
        Variant(f"smooth, leapfrog x {steps} and x {2 * steps}", "leapfrog", steps, True,
                also_steps=2 * steps),
        Variant(f"smooth, RK4 x {quarter}", "rk4", quarter, True),
        Variant(f"smooth, RK4 x {steps}", "rk4", steps, True),
    ]


def tanh_field(x, theta):
    """The vector field of the transfer task: tanh(W x + b)."""
    return jnp.tanh(theta["W"] @ x + theta["b"])


def _teacher_targets(samples: int, seed: int):
    keys = jax.random.split(jax.random.key(seed), 3)
    teacher = TimeFunction({"W": 1.5 * jax.random.normal(keys[0], (3, 2, 2)),
                            "b": jax.random.normal(keys[1], (3, 2))}, t1=T1)
    x0 = jax.random.normal(keys[2], (samples, 2))
    y = jax.vmap(lambda x: integrate_in_time(tanh_field, teacher, x, t1=T1, steps=256).x1)(x0)
    return x0, y


def _as_function(variant: Variant, theta) -> Callable:
    """theta(t) of a trained model (per-layer parameters: piecewise linear through layers)."""
    if variant.smooth:
        return theta
    return interpolate_parameters(theta, method=variant.method, steps=variant.steps, t1=T1)


def _loss_under(theta_of_t, x0, y, method: str, steps: int):
    layout = default_layout(method)
    layers = sample_parameters(theta_of_t, method=method, steps=steps, t1=T1, layout=layout)
    with warnings.catch_warnings():  # a forward evaluation: no gradients to warn about
        warnings.simplefilter("ignore", InconsistentGradientWarning)
        pred = jax.vmap(lambda x: integrate(tanh_field, layers, x, t1=T1, steps=steps,
                                            method=method, layout=layout).x1)(x0)
    return jnp.mean(jnp.sum((pred - y) ** 2, axis=-1))


def _loss_adaptive(theta_of_t, x0, y):
    pred = jax.vmap(lambda x: adaptive_solve(tanh_field, theta_of_t, x, t1=T1))(x0)
    return jnp.mean(jnp.sum((pred - y) ** 2, axis=-1))


def _training_loss(variant: Variant, x0, y) -> Callable:
    def at(theta, steps):
        if variant.smooth:
            pred = jax.vmap(lambda x: integrate_in_time(
                tanh_field, theta, x, t1=T1, steps=steps, method=variant.method).x1)(x0)
        else:
            with warnings.catch_warnings():  # plain autodiff is one of the variants compared
                warnings.simplefilter("ignore", InconsistentGradientWarning)
                pred = jax.vmap(lambda x: integrate(
                    tanh_field, theta, x, t1=T1, steps=steps, method=variant.method,
                    layout="per_step", gradients=variant.gradients).x1)(x0)
        return jnp.mean(jnp.sum((pred - y) ** 2, axis=-1))

    if variant.also_steps is None:
        return lambda theta: at(theta, variant.steps)
    return lambda theta: 0.5 * (at(theta, variant.steps) + at(theta, variant.also_steps))


def _initial(variant: Variant, knots: int):
    zero = {"W": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    if variant.smooth:
        return TimeFunction.constant(zero, knots=knots, t1=T1)
    return jax.tree_util.tree_map(lambda a: jnp.zeros((variant.steps,) + a.shape), zero)


def run_ode_transfer(*, steps: int = 16, updates: int = 2000, log_every: int = 250,
                     knots: int = 4, learning_rate: float = 1e-2, optimizer: str = "adam",
                     samples: int = 64, seed: int = 0, variants: list[Variant] | None = None,
                     tolerance: float = 0.10, plateau: float = 0.01,
                     plateau_window: int = 1000, progress: bool = False) -> list[dict]:
    """Train each variant on a learned flow map and track its transfer ratios.

    The task: 64 points of R^2 carried by a teacher flow (tanh field,
    parameters piecewise linear in time, RK4 with 256 steps) over t in [0, 1].
    Runs in float64. Every variant trains for all `updates`, also after its
    loss has plateaued, so a drift after convergence shows.

    **Arguments:**

    - `steps`: N, leapfrog steps of the per-layer and leapfrog variants.
    - `updates`, `log_every`: training length and logging interval.
    - `knots`: K of the smooth variants.
    - `learning_rate`, `optimizer`: `"adam"` or `"sgd"` (momentum 0.9).
    - `samples`, `seed`: the task.
    - `variants`: what to train (default: `default_variants(steps)`).
    - `tolerance`: how far (relative) a transfer ratio may leave 1.
    - `plateau`, `plateau_window`: the loss has plateaued once it fell by less than
        `plateau` (relative) over the last `plateau_window` updates (rounded up to a
        multiple of `log_every`).
    - `progress`: print one line per variant and logged point.

    **Returns:**

    One row per variant and logged point: variant, updates, own loss, the
    ratios `finer` (same method, 2x steps), `other` (RK4 with 64 steps) and
    `adaptive` (Dopri8), `step_specific` (a ratio above 1 + tolerance),
    `discretisation_limited` (below 1 - tolerance) and `plateaued` (the own
    loss has plateaued at or before this point).
    """
    if steps < 4 or updates < 1 or not 1 <= log_every <= updates or knots < 1:
        raise ConfigError("--steps must be >= 4, --updates >= 1, 1 <= --log-every <= "
                          "--updates, --knots >= 1")
    if not 0 < tolerance < 1 or not 0 < plateau < 1 or plateau_window < 1:
        raise ConfigError("--tolerance and --plateau must lie in (0, 1), --plateau-window "
                          f"must be >= 1 (got {tolerance}, {plateau}, {plateau_window})")
    if optimizer not in ("adam", "sgd"):
        raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    window = -(-plateau_window // log_every) * log_every
    rows: list[dict] = []
    with jax.enable_x64(True):
        x0, y = _teacher_targets(samples, seed)
        for variant in variants or default_variants(steps):
            transform = (optax.adam(learning_rate) if optimizer == "adam"
                         else optax.sgd(learning_rate, momentum=0.9))
            loss = _training_loss(variant, x0, y)

            def update(carry, _, loss=loss, transform=transform):
                theta, state = carry
                value, grads = jax.value_and_grad(loss)(theta)
                changes, state = transform.update(grads, state, theta)
                return (optax.apply_updates(theta, changes), state), value

            chunk = jax.jit(lambda c, update=update: jax.lax.scan(update, c, None,
                                                                   length=log_every)[0])
            theta = _initial(variant, knots)
            carry = (theta, transform.init(theta))
            # The monitor passes the trained parameters through; each loss is compiled once
            # per variant and discretisation, with theta(t) built inside.
            loss_under = jax.jit(lambda theta, m, n, variant=variant: _loss_under(
                _as_function(variant, theta), x0, y, m, n), static_argnums=(1, 2))
            adaptive = jax.jit(lambda theta, variant=variant: _loss_adaptive(
                _as_function(variant, theta), x0, y))
            monitor = TransferMonitor(loss_under, method=variant.method, steps=variant.steps,
                                      adaptive_loss=adaptive, tolerance=tolerance, warn=False)
            for done in range(log_every, updates + 1, log_every):
                carry = chunk(carry)
                row = monitor(carry[0], done)
                history = [(r["updates"], r["own"]) for r in monitor.history]
                row["plateaued"] = plateau_update(history, window, plateau) is not None
                rows.append({"variant": variant.name, **row})
                if progress:
                    print(f"{variant.name:36} {done:6d} own {row['own']:.3e} 2N/own "
                          f"{row['finer']:.3f} RK4x{REFERENCE_STEPS}/own {row['other']:.3f} "
                          f"adaptive/own {row['adaptive']:.3f}"
                          + ("  plateaued" if row["plateaued"] else "")
                          + ("  <- step-specific" if row["step_specific"] else "")
                          + ("  <- limited by its steps" if row["discretisation_limited"]
                             else ""), flush=True)
    return rows


def transfer_verdicts(rows: list[dict], tolerance: float = 0.10) -> tuple[list[str], str]:
    """Warnings (the first update at which each variant left the tolerance) and the
    recommendation: among the variants whose loss plateaued and whose every ratio stayed
    within 1 +- `tolerance`, the one with the smallest final loss. Failing that, the
    re-discretisable variant that did not plateau (train longer), or the one whose ratios
    strayed least."""
    names = list(dict.fromkeys(r["variant"] for r in rows))
    notes: list[str] = []
    stray: dict[str, float] = {}
    final: dict[str, float] = {}
    plateaued: dict[str, int | None] = {}
    for name in names:
        mine = [r for r in rows if r["variant"] == name]
        stray[name] = max(_stray(r) for r in mine)
        final[name] = mine[-1]["own"]
        plateaued[name] = next((r["updates"] for r in mine if r.get("plateaued")), None)
        first = next((r for r in mine if _stray(r) > tolerance), None)
        if first is not None:
            kind = ("step-specific" if first.get("step_specific", worst_ratio(first) > 1)
                    else "limited by its discretisation")
            notes.append(f"{name}: {kind} from update {first['updates']} (loss under a finer "
                         f"or another discretisation {worst_ratio(first):.2f}x to "
                         f"{best_ratio(first):.2f}x its own; ratios range "
                         f"{min(best_ratio(r) for r in mine):.2f}-"
                         f"{max(worst_ratio(r) for r in mine):.2f})")
    keepers = [n for n in names if stray[n] <= tolerance]
    converged = [n for n in keepers if plateaued[n] is not None]
    if converged:
        pick = min(converged, key=lambda n: final[n])
        return notes, (f"Recommended: {pick}: its loss plateaued (update {plateaued[pick]}), "
                       f"every transfer ratio stayed within {tolerance:.0%} of 1 (farthest "
                       f"{stray[pick]:.3f}), and its final loss is the smallest of those that "
                       f"did so ({final[pick]:.3g}; best of all {min(final.values()):.3g}).")
    if keepers:
        pick = min(keepers, key=lambda n: final[n])
        return notes, (f"Not plateaued yet: {pick} kept every transfer ratio within "
                       f"{tolerance:.0%} of 1 (farthest {stray[pick]:.3f}, final loss "
                       f"{final[pick]:.3g}), but its loss was still falling: run longer "
                       "(--updates) before trusting it.")
    pick = min(names, key=lambda n: stray[n])
    return notes, (f"No variant kept every transfer ratio within {tolerance:.0%} of 1; "
                   f"closest: {pick} (farthest {stray[pick]:.3f}, final loss "
                   f"{final[pick]:.3g}).")


def _stray(row: dict) -> float:
    """How far the row's ratios leave 1 (relative), either way."""
    return max(worst_ratio(row) - 1, 1 - best_ratio(row))


def transfer_table(rows: list[dict]) -> str:
    """Markdown: one line per variant and logged point."""
    lines = ["| variant | updates | own loss | 2N / own | RK4 x 64 / own | adaptive / own | "
             "plateaued |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['variant']} | {r['updates']} | {r['own']:.3e} | {r['finer']:.3f} | "
              f"{r['other']:.3f} | " + ("-" if r.get("adaptive") is None
                                         else f"{r['adaptive']:.3f}")
              + f" | {'yes' if r.get('plateaued') else 'no'} |" for r in rows]
    return "\n".join(lines)


def ratios_by_variant(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per variant, an `(points, 5)` array: updates, own, finer, other, adaptive (NaN where
    not tracked), for plots."""
    out: dict[str, list] = {}
    for r in rows:
        adaptive = r.get("adaptive")
        out.setdefault(r["variant"], []).append(
            [r["updates"], r["own"], r["finer"], r["other"],
             np.nan if adaptive is None else adaptive])
    return {k: np.asarray(v) for k, v in out.items()}
