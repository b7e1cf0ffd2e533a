"""The trainer: curriculum stages, seeds in parallel, update skipping, resume."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import pathlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from .._atomic import atomic_path
from .._distributed import gather_to_host, is_writer
from .._errors import ConfigError, TrainingError
from .._lazy_files import LazyTrajectories
from .._rundir import RunDir
from .._training_config import ModalityConfig, StageConfig, TrainConfig
from ..data import TrajectoryDataset, WindowIndex, WindowSampler, WindowStream
from ..simulators import AbstractSimulator, solver_problem, with_network
from ._checkpoint import load_checkpoint, read_checkpoint_header, save_checkpoint
from ._execution import Execution, resolve_execution
from ._modalities import build_modality

LOG_COLUMNS = ("step", "stage", "seed", "loss", "grad_norm", "skipped", "updates_per_s")


EXECUTION_KEYS = ("loop", "unroll_loop", "remat", "remat_budget_mb", "devices")
"""Training keys that change speed and memory, not the result: a resume may change them."""

_REFERENCE_DECAY = 0.01  # per update, in log units: the reference halves in ~70 updates


def make_optimizer(config: TrainConfig, stage: StageConfig) -> optax.GradientTransformation:
    """The Optax optimizer of one curriculum stage.

    **Arguments:**

    - `config`: the training configuration (optimizer, schedule, clipping).
    - `stage`: the stage (learning rate, updates, ramp).

    **Returns:**

    An `optax.GradientTransformation`.
    """
    lr = stage.learning_rate
    if config.schedule == "cosine" and stage.ramp:
        schedule = optax.warmup_cosine_decay_schedule(
            lr / stage.ramp, lr, warmup_steps=stage.ramp,
            decay_steps=max(stage.updates, stage.ramp + 1))
    elif config.schedule == "cosine":
        schedule = optax.cosine_decay_schedule(lr, max(stage.updates, 1))
    elif stage.ramp:
        schedule = optax.join_schedules(
            [optax.linear_schedule(lr / stage.ramp, lr, stage.ramp), optax.constant_schedule(lr)],
            [stage.ramp])
    else:
        schedule = optax.constant_schedule(lr)
    if config.optimizer == "adam":
        opt = optax.adam(schedule)
    elif config.optimizer == "adamw":
        opt = optax.adamw(schedule, weight_decay=config.weight_decay)
    else:
        opt = optax.sgd(schedule, momentum=config.momentum or None)
    parts = []
    if config.clip_norm is not None:
        parts.append(optax.clip_by_global_norm(config.clip_norm))
    if config.weight_decay and config.optimizer != "adamw":
        parts.append(optax.add_decayed_weights(config.weight_decay))
    return optax.chain(*parts, opt)


class SeedState(eqx.Module):
    """What one seed carries from update to update (vmapped over seeds)."""

    weights: Any  # the network's arrays (the physical parameters are `params` elsewhere)
    opt_state: Any
    key: jax.Array  # raw key data (uint32), checkpoint-friendly
    norm_average: jax.Array  # reference log gradient norm (decaying running maximum)
    accepted: jax.Array
    consecutive_skips: jax.Array
    skipped: jax.Array


@dataclasses.dataclass
class TrainResult:
    """The outcome of `train`.

    **Fields:**

    - `simulator`: the template simulator (its network is the first seed's).
    - `networks`: the trained networks, stacked along a leading seed axis.
    - `seeds`: the seeds, in the order of that axis.
    - `history`: logged rows (dicts with the `train_log.csv` columns).
    - `skipped`: skipped updates per seed.
    - `steps`: updates done.
    """

    simulator: AbstractSimulator
    networks: Any
    seeds: list[int]
    history: list[dict]
    skipped: list[int]
    steps: int

    def simulator_for(self, index: int) -> AbstractSimulator:
        """The trained simulator of seed number `index` (position in `seeds`)."""
        net = jax.tree_util.tree_map(
            lambda x: x[index] if eqx.is_array(x) else x, self.networks
        )
        return with_network(self.simulator, net)


def _tree_where(cond, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def _shuffle_key(state: SeedState):
    return jax.random.fold_in(jax.random.wrap_key_data(state.key), 0)


def _make_chunk(template: AbstractSimulator, static_net, stage: StageConfig,
                config: TrainConfig, optimizer, data: WindowSampler | WindowStream,
                execution: Execution):
    """A function running `n` updates for all seeds: `chunk(states, first_step, n)`.

    With `execution.loop == "scan"` one jitted `lax.scan` over the `n` updates
    (vmapped over seeds); with `"step"` one jitted update (vmapped over seeds,
    the state buffers donated) called `n` times from the host. Both return the
    new states and `(loss, grad_norm, skipped, consecutive_skips)`, each
    shaped `(seeds, n)`. The training data are an argument of the compiled
    function, never a constant captured in it: a `WindowSampler` (the data on
    device, batches drawn inside) or, for data streamed from disk, the windows
    a `WindowStream` read for these updates (pieces of `piece_steps` updates,
    the next read while the current one runs).
    """
    modality = build_modality(stage.modality, remat=execution.remat, scan=execution.scan)
    loss_scale = _loss_scale(template)

    def loss_fn(weights, windows, params, key):
        sim = with_network(template, eqx.combine(weights, static_net))
        return modality.loss(sim, windows, params, key=key, scale=loss_scale)

    def update(state: SeedState, step, windows, params):
        key = jax.random.wrap_key_data(state.key)
        noise_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
        windows, params = execution.constrain_batch((windows, params))
        loss, grads = jax.value_and_grad(loss_fn)(state.weights, windows, params, noise_key)
        gnorm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(gnorm)
        grace = state.accepted < config.skip_grace
        # The reference is a slowly decaying running maximum of accepted log gradient norms:
        # an update more than `skip_factor` above it is skipped. A running maximum is not
        # dragged down by the tiny norms of a zero initialization (a running mean is, and then
        # skips every later update); each skip raises it a little, so a lasting rise is
        # accepted after a few updates instead of stopping training.
        log_norm = jnp.log(jnp.maximum(gnorm, 1e-30))
        threshold = math.log(config.skip_factor)
        ok = finite & (grace | (log_norm <= state.norm_average + threshold))
        updates, opt_state = optimizer.update(grads, state.opt_state, state.weights)
        weights = optax.apply_updates(state.weights, updates)
        new_reference = jnp.where(
            ok, jnp.where(state.accepted == 0, log_norm,
                          jnp.maximum(log_norm, state.norm_average - _REFERENCE_DECAY)),
            state.norm_average + threshold / 10)
        new = SeedState(
            weights=_tree_where(ok, weights, state.weights),
            opt_state=_tree_where(ok, opt_state, state.opt_state),
            key=state.key,
            norm_average=jnp.where(finite, new_reference, state.norm_average),
            accepted=state.accepted + ok,
            consecutive_skips=jnp.where(ok, 0, state.consecutive_skips + 1),
            skipped=state.skipped + (~ok),
        )
        return new, (loss, gnorm, ~ok, new.consecutive_skips)

    def sampled_update(state: SeedState, step, sampler: WindowSampler):
        return update(state, step, *sampler.batch(_shuffle_key(state), step))

    if isinstance(data, WindowStream):
        return _streamed_chunk(update, data, execution)
    if execution.loop == "scan":
        @eqx.filter_jit
        def scanned(states: SeedState, first_step, n: int, sampler: WindowSampler):
            steps = first_step + jnp.arange(n)
            run = lambda s: jax.lax.scan(  # noqa: E731
                lambda st, k: sampled_update(st, k, sampler), s, steps)
            return jax.vmap(run)(states)

        return lambda states, first_step, n: scanned(states, jnp.asarray(first_step), n, data)

    one_update = jax.jit(jax.vmap(sampled_update, in_axes=(0, None, None)), donate_argnums=0)

    def chunk_of_steps(states: SeedState, first_step, n: int):
        outputs = []
        for i in range(n):
            states, out = one_update(states, np.int32(first_step + i), data)
            outputs.append(out)
        return states, tuple(jnp.stack(column, axis=1) for column in zip(*outputs))

    return chunk_of_steps


def _streamed_chunk(update, stream: WindowStream, execution: Execution):
    """`chunk(states, first_step, n)` on windows read by `stream`, a piece ahead."""
    @eqx.filter_jit
    def scanned(states: SeedState, steps, windows, params):
        run = lambda s, w, p: jax.lax.scan(  # noqa: E731
            lambda st, xs: update(st, *xs), s, (steps, w, p))
        return jax.vmap(run)(states, windows, params)

    one_update = jax.jit(jax.vmap(update, in_axes=(0, None, 0, 0)), donate_argnums=0)

    def chunk(states: SeedState, first_step: int, n: int):
        outputs, step, end = [], int(first_step), int(first_step) + n
        while step < end:
            k = min(stream.piece_steps, end - step)
            windows, params = stream.take(step, k)
            # read ahead while this piece runs (the next chunk is as long as this one)
            stream.prefetch(step + k, min(stream.piece_steps, n))
            if execution.loop == "scan":
                states, out = scanned(states, jnp.arange(step, step + k), windows, params)
                outputs.append(out)
            else:
                for i in range(k):
                    states, out = one_update(states, np.int32(step + i), windows[:, i],
                                             params[:, i])
                    outputs.append(tuple(o[:, None] for o in out))
            step += k
        return states, tuple(jnp.concatenate(column, axis=1) for column in zip(*outputs))

    return chunk


def _loss_scale(template: AbstractSimulator):
    """Per-channel scale of the loss: the normalization's (None: the data's own units)."""
    scale = getattr(template.network, "state_scale", ())
    return None if not scale else tuple(scale)


def _initial_states(weights, optimizer, seeds) -> SeedState:
    s = len(seeds)
    keys = jnp.stack([jax.random.key_data(jax.random.key(seed + 1_000_003)) for seed in seeds])
    return SeedState(
        weights=weights,
        opt_state=jax.vmap(optimizer.init)(weights),
        key=keys,
        norm_average=jnp.zeros(s, jnp.float32),
        accepted=jnp.zeros(s, jnp.int32),
        consecutive_skips=jnp.zeros(s, jnp.int32),
        skipped=jnp.zeros(s, jnp.int32),
    )


def _initial_weights(make_simulator, seeds: list[int]):
    """The network arrays of every seed, stacked along a leading seed axis."""
    init_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    return jax.vmap(lambda k: eqx.filter(make_simulator(jax.random.wrap_key_data(k)).network,
                                         eqx.is_array))(init_keys)


def _matching_weights(networks, make_simulator, seeds: list[int]):
    """The arrays of given per-seed networks, checked against the model's shapes."""
    expected = jax.eval_shape(lambda: _initial_weights(make_simulator, seeds))
    given = eqx.filter(networks, eqx.is_array)
    try:  # tree_map refuses another structure; a subtree where a leaf belongs has no .shape
        matches = jax.tree_util.tree_map(
            lambda want, got: want.shape == got.shape and want.dtype == got.dtype,
            expected, given)
        same = len(jax.tree_util.tree_leaves(given)) == len(jax.tree_util.tree_leaves(expected)) \
            and all(jax.tree_util.tree_leaves(matches))
    except (TypeError, ValueError, AttributeError):
        same = False
    if not same:
        raise ConfigError(f"the starting networks do not match this model for {len(seeds)} seeds "
                          "(another architecture, width, depth or number of seeds)")
    return jax.tree_util.tree_map(jnp.asarray, given)


_RENAMED_IN_FORMAT_2 = {"steps": "unroll", "warmup": "pushforward", "skip_warmup": "skip_grace"}


def _configs_from_header(header: dict) -> tuple[TrainConfig, list[StageConfig]]:
    """The training config and stages a checkpoint was written with.

    Checkpoints of stablesim before the single config schema kept the stages
    inside `train_config`, with the old names (`steps`, `warmup`,
    `skip_warmup`); they are read under the new names.
    """
    if "stages" in header:
        return (TrainConfig.model_validate(header["train_config"]),
                [StageConfig.model_validate(s) for s in header["stages"]])
    old = dict(header["train_config"])
    stages = [dict(s, modality={_RENAMED_IN_FORMAT_2.get(k, k): v
                                for k, v in s["modality"].items()}) for s in old.pop("stages")]
    config = {_RENAMED_IN_FORMAT_2.get(k, k): v for k, v in old.items()}
    return TrainConfig.model_validate(config), [StageConfig.model_validate(s) for s in stages]


def _training_identity(config: TrainConfig, stages: list[StageConfig]) -> tuple:
    """What must not change for a resume: the stages and every other training knob."""
    knobs = config.model_dump(mode="json", exclude={"updates", "learning_rate", "ramp",
                                                     "curriculum", *EXECUTION_KEYS})
    return knobs, [s.model_dump(mode="json") for s in stages]


def read_train_log(path: str | pathlib.Path, up_to: int | None = None) -> list[dict]:
    """The rows of a `train_log.csv` (as strings), those up to update `up_to` (None: all)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if up_to is None or int(r["step"]) <= up_to]
    return rows


def _write_log(path: pathlib.Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        w.writeheader()
        w.writerows(rows)


def train(
    make_simulator: Callable[[jax.Array], AbstractSimulator],
    dataset: TrajectoryDataset,
    config: TrainConfig,
    modality: ModalityConfig | None = None,
    *,
    out_dir: str | pathlib.Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    run_config: dict | None = None,
    initial_networks: Any = None,
    progress: bool = True,
) -> TrainResult:
    """Train a simulator on a dataset, several seeds at once.

    Each seed gets its own network initialisation (`make_simulator(key)`)
    and its own batch order; the seeds are a `vmap` axis, the updates of a
    logging interval one `lax.scan`. An update whose loss or gradient norm is
    not finite, or whose gradient norm exceeds `skip_factor` times a
    reference (a running maximum of accepted norms that decays by 1% per
    update), is skipped (counted and logged); after
    `max_consecutive_skips` in a row training stops with `TrainingError`.

    **Arguments:**

    - `make_simulator`: builds a simulator from a random key; only its
        `network` is trained (a solver's arrays stay fixed).
    - `dataset`: training trajectories.
    - `config`: updates (or a curriculum of stages), optimizer, batch size,
        seeds, logging.
    - `modality`: the loss of the single stage (default `ModalityConfig()`);
        ignored when `config.curriculum` lists stages.
    - `out_dir`: where checkpoints and `train_log.csv` go (None: nowhere).
    - `resume`: continue from `out_dir`'s checkpoint.
    - `stop_after`: stop (with a checkpoint) after this many updates in total,
        as if interrupted; for tests and for splitting long runs.
    - `run_config`: extra JSON-able configuration stored in checkpoints.
    - `initial_networks`: start from these networks instead of
        `make_simulator`'s (fine-tuning): stacked along a leading seed axis
        like `TrainResult.networks`, one per seed of `config.seeds`.
    - `progress`: show a progress bar.

    **Returns:**

    A `TrainResult`.
    """
    seeds = list(config.seeds)
    out = pathlib.Path(out_dir) if out_dir is not None else None
    stages = config.stages(modality)
    template = make_simulator(jax.random.key(seeds[0]))
    for stage in stages:
        build_modality(stage.modality).check_simulator(template)
    streamed = dataset.lazy  # windows read from the files as needed, never all in memory
    trajectories = None if streamed else jnp.asarray(dataset.trajectories)
    params = jnp.asarray(dataset.params)
    example = jnp.asarray(dataset.trajectories[0, 0])
    if initial_networks is None:
        weights = _initial_weights(make_simulator, seeds)
    else:
        weights = _matching_weights(initial_networks, make_simulator, seeds)
    static_net = eqx.filter(template.network, eqx.is_array, inverse=True)

    start_stage, start_step, history = 0, 0, []
    header = {
        "seeds": seeds,
        "train_config": config.model_dump(mode="json"),
        "stages": [stage.model_dump(mode="json") for stage in stages],
        "run_config": run_config or {},
    }
    checkpoint = RunDir(out).checkpoint if out is not None else None
    resumed_states = None
    if resume:
        if checkpoint is None or out is None:
            raise ConfigError("resume needs an output directory")
        saved = read_checkpoint_header(checkpoint)
        if _training_identity(*_configs_from_header(saved)) != _training_identity(config, stages):
            raise ConfigError(f"{checkpoint}: the checkpoint was written with another training config")
        start_stage, start_step = int(saved["stage"]), int(saved["step_in_stage"])
        history = read_train_log(RunDir(out).log, int(saved["step"]))
        like = _initial_states(weights, make_optimizer(config, stages[start_stage]), seeds)
        _, resumed_states = load_checkpoint(checkpoint, like)

    total = sum(s.updates for s in stages)
    done = sum(s.updates for s in stages[:start_stage]) + start_step
    bar = tqdm(total=total, initial=done, disable=not progress, unit="upd", dynamic_ncols=True)
    states = None
    interrupted = False
    stop = _StopRequest(out)
    compiled_first = False
    stream: WindowStream | None = None
    try:
        for stage_index in range(start_stage, len(stages)):
            stage = stages[stage_index]
            optimizer = make_optimizer(config, stage)
            index = WindowIndex(*dataset.trajectories.shape[:2],
                                length=stage.modality.window_length,
                                batch_size=config.batch_size)
            if resumed_states is not None:
                states, resumed_states, step = resumed_states, None, start_step
            else:  # a new stage starts from the previous stage's weights
                states = _initial_states(weights if states is None else states.weights,
                                         optimizer, seeds)
                step = 0
            execution = resolve_execution(
                config, stage, template, example, params[0],
                num_seeds=len(seeds), batch_size=index.batch_size)
            states = execution.place(states)
            if stream is not None:
                stream.close()
            if isinstance(dataset.trajectories, LazyTrajectories):
                keys = jax.vmap(_shuffle_key)(states)
                stream = WindowStream(dataset.trajectories, dataset.params, index, keys)
                data: WindowSampler | WindowStream = stream
            else:
                data = WindowSampler(trajectories, params, length=index.length,
                                     batch_size=config.batch_size)
            chunk = _make_chunk(template, static_net, stage, config, optimizer, data, execution)
            while step < stage.updates:
                if stop_after is not None and done >= stop_after:
                    interrupted = True  # the stop falls on a chunk boundary: checkpoint it
                    if out is not None:
                        _save(checkpoint, header, states, stage_index, step, done, history, out)
                    break
                n = min(config.log_every - step % config.log_every, stage.updates - step)
                if stop_after is not None and done + n >= stop_after:
                    n = stop_after - done
                    interrupted = True
                if not compiled_first and progress:
                    bar.set_description_str("compiling (first update)")
                    bar.refresh()
                t0 = time.perf_counter()
                states, outputs = chunk(states, step, n)
                loss, gnorm, skipped, consec, total_skipped = gather_to_host(
                    (*outputs, states.skipped))
                rate = n / (time.perf_counter() - t0)
                if not compiled_first:
                    compiled_first = True
                    bar.set_description_str("")
                step += n
                done += n
                history.extend(_log_rows(done, stage_index, seeds, loss, gnorm, skipped,
                                         total_skipped, rate))
                bar.update(n)
                last = loss[:, -1][np.isfinite(loss[:, -1])]
                bar.set_postfix(loss=f"{last.mean():.3e}" if last.size else "nan", ups=f"{rate:.1f}",
                                skipped=int(total_skipped.sum()))
                problem = solver_problem(template)
                if problem:
                    raise TrainingError(f"{problem} (by update {done})")
                if consec.max() >= config.max_consecutive_skips:
                    seed = seeds[int(consec.max(axis=1).argmax())]
                    raise TrainingError(
                        f"seed {seed}: {int(consec.max())} updates in a row skipped (non-finite "
                        f"or exploding gradients) by update {done}; lower the learning rate or "
                        "clip gradients"
                    )
                if stop.requested:
                    interrupted = True
                if out is not None and (interrupted or step % config.checkpoint_every == 0
                                        or step == stage.updates):
                    _save(checkpoint, header, states, stage_index, step, done, history, out)
                if stop.requested:
                    raise TrainingInterrupted(done, total, out)
                if interrupted:
                    break
            if interrupted:
                break
    finally:
        stop.restore()
        bar.close()
        if stream is not None:
            stream.close()
    assert states is not None  # every stage loop starts by setting it
    weights = states.weights
    if jax.process_count() > 1:  # shards on other hosts: a whole copy on every host
        weights = jax.tree_util.tree_map(jnp.asarray, gather_to_host(weights))
    networks = eqx.combine(weights, static_net)
    return TrainResult(
        simulator=with_network(template, jax.tree_util.tree_map(
            lambda x: x[0] if eqx.is_array(x) else x, networks)),
        networks=networks,
        seeds=seeds,
        history=history,
        skipped=[int(s) for s in gather_to_host(states.skipped)],
        steps=done,
    )


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during `train`: the current update was checkpointed first.

    **Fields:** `done` and `total` updates, `run` (the output directory or None).
    """

    def __init__(self, done: int, total: int, run):
        super().__init__(f"interrupted at update {done} of {total}")
        self.done, self.total, self.run = done, total, run


class _StopRequest:
    """SIGINT/SIGTERM handlers that ask the loop to checkpoint and stop.

    The first signal lets the running chunk of updates finish (at most
    `log_every`), after which the trainer writes a checkpoint at that update
    and raises `TrainingInterrupted`; a second SIGINT stops at once (the last
    checkpoint is kept). Installed only in the main thread.
    """

    def __init__(self, out):
        self.requested = False
        self.previous = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping: finishing the current updates to checkpoint them (Ctrl-C again "
              "stops at once, keeping the last checkpoint)", file=sys.stderr, flush=True)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


def _log_rows(done, stage_index, seeds, loss, gnorm, skipped, total_skipped, rate):
    rows = []
    for i, seed in enumerate(seeds):
        kept = loss[i][~skipped[i]]
        rows.append({
            "step": done, "stage": stage_index, "seed": seed,
            "loss": float(kept.mean()) if kept.size else float("nan"),
            "grad_norm": float(np.asarray(gnorm[i])[-1]),
            "skipped": int(total_skipped[i]),
            "updates_per_s": round(rate, 3),
        })
    return rows


def _save(path, header, states, stage_index, step, done, history, out):
    header = dict(header, stage=stage_index, step_in_stage=step, step=done)
    states = gather_to_host(states)  # every process takes part; process 0 writes
    if not is_writer():
        return
    # Log first: a kill between the two writes leaves log rows beyond the
    # checkpoint, which resume drops, never a checkpoint whose rows are lost.
    _write_log(RunDir(out).log, history)
    save_checkpoint(path, header, states)


def load_trained(
    make_simulator: Callable[[jax.Array], AbstractSimulator], run_dir: str | os.PathLike
) -> TrainResult:
    """Load the networks of a run directory's checkpoint.

    **Arguments:**

    - `make_simulator`: the same factory the run was trained with.
    - `run_dir`: the run directory.

    **Returns:**

    A `TrainResult` (history read from `train_log.csv`).
    """
    run_dir = pathlib.Path(run_dir)
    files = RunDir(run_dir)
    header = read_checkpoint_header(files.checkpoint)
    config, stages = _configs_from_header(header)
    seeds = header["seeds"]
    template = make_simulator(jax.random.key(seeds[0]))
    # The checkpoint fills a skeleton of the right shapes: no seed's network is initialised.
    like = eqx.filter_eval_shape(
        lambda: _initial_states(_initial_weights(make_simulator, seeds),
                                make_optimizer(config, stages[int(header["stage"])]), seeds))
    _, states = load_checkpoint(files.checkpoint, like)
    static_net = eqx.filter(template.network, eqx.is_array, inverse=True)
    networks = eqx.combine(states.weights, static_net)
    return TrainResult(
        simulator=with_network(template, jax.tree_util.tree_map(
            lambda x: x[0] if eqx.is_array(x) else x, networks)),
        networks=networks, seeds=seeds, history=read_train_log(files.log, int(header["step"])),
        skipped=[int(s) for s in np.asarray(states.skipped)], steps=int(header["step"]),
    )
