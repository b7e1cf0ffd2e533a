"""How parameters map onto layers: shared, one set per step, one set per stage."""

from __future__ import annotations

from typing import Any, Literal

import equinox as eqx
import jax.tree_util as jtu
import numpy as np

from .._errors import ConfigError
from ._methods import Integrator, get_integrator

LayerKind = Literal["shared", "per_step", "per_stage"]
LAYER_KINDS = ("shared", "per_step", "per_stage")


def leaf_kinds(theta: Any, layout: Any) -> Any:
    """Broadcast a layout (a kind, or a prefix PyTree of kinds) onto every leaf of `theta`.

    Non-array leaves (activation functions of an Equinox module, say) are
    always `"shared"`.
    """
    def broadcast(kind, subtree):
        if kind not in LAYER_KINDS:
            raise ConfigError(f"layout {kind!r} is not one of {', '.join(LAYER_KINDS)}")
        return jtu.tree_map(lambda leaf: kind if eqx.is_array(leaf) else "shared", subtree)

    if isinstance(layout, str):
        return broadcast(layout, theta)
    try:
        return jtu.tree_map(broadcast, layout, theta, is_leaf=lambda x: isinstance(x, str))
    except ValueError as err:
        raise ConfigError(f"layout does not match the structure of theta: {err}") from None


def split_by_kind(theta: Any, kinds: Any) -> tuple[Any, Any, Any]:
    """Split `theta` into (shared, per_step, per_stage) trees with `None` elsewhere."""
    def pick(kind):
        return jtu.tree_map(lambda k, p: p if k == kind else None, kinds, theta)

    return pick("shared"), pick("per_step"), pick("per_stage")


def check_layout(integrator: Integrator, theta: Any, kinds: Any, steps: int) -> tuple[bool, bool]:
    """Validate leading axes of per-layer leaves.

    **Returns:**

    `(has_per_step, has_per_stage)`.
    """
    has_step = has_stage = False
    for kind, leaf in zip(jtu.tree_leaves(kinds), jtu.tree_leaves(theta)):
        if kind == "per_step":
            has_step = True
            if np.ndim(leaf) < 1 or np.shape(leaf)[0] != steps:
                raise ConfigError(
                    f"a per_step parameter needs a leading axis of length steps={steps}, "
                    f"got shape {np.shape(leaf)}"
                )
        elif kind == "per_stage":
            has_stage = True
            if integrator.kind != "runge_kutta":
                raise ConfigError(
                    f"per_stage parameters need a Runge-Kutta method; {integrator.name} is a "
                    "multistep method with one evaluation per step (use per_step)"
                )
            expected = (steps, integrator.stages)
            if np.ndim(leaf) < 2 or tuple(np.shape(leaf)[:2]) != expected:
                raise ConfigError(
                    f"a per_stage parameter of {integrator.name} needs leading axes "
                    f"(steps, stages)={expected}, got shape {np.shape(leaf)}"
                )
    return has_step, has_stage


def layer_times(method: str | Integrator, *, steps: int, t1: float, t0: float = 0.0,
                kind: LayerKind = "per_step") -> np.ndarray:
    """The time each layer's parameters stand for.

    **Arguments:**

    - `method`: the integrator.
    - `steps`, `t1`, `t0`: the grid, h = (t1 - t0) / steps.
    - `kind`: `"per_step"` (node times t_n) or `"per_stage"` (t_n + c_i h,
      flattened step-major).

    **Returns:**

    The times, shaped (steps,) or (steps * stages,).
    """
    integrator = get_integrator(method)
    h = (t1 - t0) / steps
    nodes = t0 + h * np.arange(steps)
    if kind == "per_stage":
        c = np.asarray(integrator.c if integrator.kind == "runge_kutta" else (0.0,))
        return (nodes[:, None] + h * c[None, :]).reshape(-1)
    return nodes


def layer_spacing(method: str | Integrator, *, steps: int, t1: float, t0: float = 0.0,
                  kind: LayerKind = "per_step") -> float:
    """The time span Delta one layer stands for: h per step, h / stages per stage."""
    integrator = get_integrator(method)
    h = (t1 - t0) / steps
    return h / integrator.stages if kind == "per_stage" else h


def map_layer_leaves(fn, tree: Any, kinds: Any) -> Any:
    """Apply `fn(leaf, kind)` to every per-layer leaf of `tree`; leave the rest alone."""
    return jtu.tree_map(
        lambda kind, leaf: leaf if kind == "shared" or leaf is None else fn(leaf, kind),
        kinds, tree,
    )



