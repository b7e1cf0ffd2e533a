"""How an update is executed: the update loop, the unroll loop, rematerialisation.

None of these choices changes the loss or the gradient (beyond round-off);
they trade speed, compile time and memory. `auto` follows measurements on
XLA:CPU (benchmarks/bench_loop.py): XLA's convolutions run 2-5x slower
inside a while loop there, so a simulator that uses them gets its updates
dispatched one by one (`step`), and short unrolls are traced as Python
loops; a simulator without them (stablesim's im2col convolutions, FNO, MLP)
is faster with a `lax.scan` over updates (no per-update dispatch).
Rematerialisation costs ~1.3x per gradient, so it is used only when the
stored activations would exceed a memory budget.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Float

from .._errors import ConfigError
from .._training_config import StageConfig, TrainConfig

PYTHON_UNROLL_LIMIT = 32
"""`unroll_loop: auto` traces at most this many steps (pushforward + unroll) as a Python loop."""


@dataclasses.dataclass(frozen=True)
class Execution:
    """The resolved execution of one training stage.

    **Fields:** `loop` (`"step"` or `"scan"`), `scan` (the unroll uses
    `lax.scan`), `remat` (unroll steps are recomputed in the backward pass),
    `stored_bytes` (activations the backward pass would keep without remat),
    `mesh` (a one-axis `jax.sharding.Mesh` named `"devices"`, None on one
    device) and `shard` (`"seeds"`, `"batch"` or None: what is split over it).
    """

    loop: str
    scan: bool
    remat: bool
    stored_bytes: int
    mesh: Mesh | None = None
    shard: str | None = None

    def place(self, states: Any) -> Any:
        """Put per-seed states (leading seed axis) on the mesh: split or replicated."""
        if self.mesh is None:
            return states
        spec = PartitionSpec("devices") if self.shard == "seeds" else PartitionSpec()
        return jax.device_put(states, NamedSharding(self.mesh, spec))

    def constrain_batch(self, tree: Any) -> Any:
        """Inside the update: split a batch (leading axis) over the devices."""
        if self.mesh is None or self.shard != "batch":
            return tree
        return jax.lax.with_sharding_constraint(
            tree, NamedSharding(self.mesh, PartitionSpec("devices")))


def device_split(devices: int | None, num_seeds: int, batch_size: int,
                 available: int | None = None) -> tuple[int, str | None]:
    """How many devices to use and what to split over them.

    **Arguments:**

    - `devices`: `training.devices` (None: as many as divide the seeds or batch).
    - `num_seeds`, `batch_size`: the work of one update.
    - `available`: devices (default `jax.device_count()`: this process's, and those of
        the other processes of a run over several, see `stablesim._distributed`).

    **Returns:**

    `(number of devices, "seeds" | "batch" | None)`; a one-line `ConfigError`
    when the asked number is not available or divides neither.
    """
    available = jax.device_count() if available is None else available
    if devices is not None and devices > available:
        raise ConfigError(f"training.devices: {devices} asked, {available} available")
    candidates = [devices] if devices is not None else range(available, 0, -1)
    for n in candidates:
        if n == 1:
            return 1, None
        if num_seeds % n == 0:
            return n, "seeds"
        if batch_size % n == 0:
            return n, "batch"
    raise ConfigError(f"training.devices: {devices} devices divide neither the {num_seeds} "
                      f"seeds nor the batch of {batch_size}")


def step_residual_bytes(simulator, state: Float[Array, " C *N"], params: Float[Array, " P"]) -> int:
    """Bytes the backward pass keeps for one simulator step on one state (no remat).

    Read from the shapes of the step's `jax.vjp` residuals (no computation),
    less the network's own weights, which are shared by every step.

    **Arguments:**

    - `simulator`: the simulator.
    - `state`, `params`: one state and its physical parameters.

    **Returns:**

    The number of bytes.
    """
    weights, static = eqx.partition(simulator, eqx.is_inexact_array)

    def pullback(w, u):  # by the weights: a solver may be a non-differentiable callback
        return jax.vjp(lambda w_: eqx.combine(w_, static)(u, params), w)[1]

    residuals = eqx.filter_eval_shape(pullback, weights, state)
    total = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(residuals)
                if hasattr(leaf, "dtype"))
    weight_bytes = sum(leaf.size * leaf.dtype.itemsize
                       for leaf in jax.tree_util.tree_leaves(weights))
    state_bytes = state.size * state.dtype.itemsize
    return max(total - weight_bytes, state_bytes)


def uses_xla_convolution(simulator, state: Float[Array, " C *N"],
                         params: Float[Array, " P"]) -> bool:
    """Whether a simulator step lowers to an XLA convolution (read from its lowered IR).

    **Arguments:**

    - `simulator`, `state`, `params`: the simulator and one state.

    **Returns:**

    True if the step contains a `convolution` operation.
    """
    arrays, static = eqx.partition(simulator, eqx.is_array)
    lowered = jax.jit(lambda a, u, p: eqx.combine(a, static)(u, p)).lower(arrays, state, params)
    return "convolution" in lowered.as_text()


def resolve_execution(config: TrainConfig, stage: StageConfig, simulator,
                      state: Float[Array, " C *N"], params: Float[Array, " P"], *,
                      num_seeds: int, batch_size: int,
                      backend: str | None = None) -> Execution:
    """Resolve `training.loop`, `unroll_loop` and `remat` for one stage.

    **Arguments:**

    - `config`: the training configuration.
    - `stage`: the stage (its modality's unroll length).
    - `simulator`, `state`, `params`: a simulator and one state, for the
        memory estimate.
    - `num_seeds`, `batch_size`: how many windows one update holds.
    - `backend`: `jax.default_backend()` unless given.

    **Returns:**

    An `Execution`.
    """
    backend = backend or jax.default_backend()
    on_cpu = backend == "cpu"
    loop = config.loop
    if loop == "auto":
        loop = "step" if on_cpu and uses_xla_convolution(simulator, state, params) else "scan"
    steps = stage.modality.pushforward + stage.modality.unroll
    if config.unroll_loop == "auto":
        scan = not (on_cpu and steps <= PYTHON_UNROLL_LIMIT)
    else:
        scan = config.unroll_loop == "scan"
    stored = step_residual_bytes(simulator, state, params) * steps * batch_size * num_seeds
    if config.remat == "auto":
        remat = stored > config.remat_budget_mb * 2**20
    else:
        remat = config.remat == "always"
    count, shard = device_split(config.devices, num_seeds, batch_size)
    if jax.process_count() > 1 and count != jax.device_count():
        raise ConfigError(f"training.devices: a run over {jax.process_count()} processes uses "
                          f"all their {jax.device_count()} devices, got {count}; choose seeds "
                          "or a batch size they divide")
    mesh = Mesh(np.array(jax.devices()[:count]), ("devices",)) if count > 1 else None
    return Execution(loop=loop, scan=scan, remat=remat, stored_bytes=int(stored), mesh=mesh,
                     shard=shard)
