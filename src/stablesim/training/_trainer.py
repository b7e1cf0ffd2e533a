"""The trainer: curriculum stages, seeds in parallel, update skipping, resume.

The host loop only: the compiled updates are `_update`'s, the seeds' states
`_state`'s, checkpoints, the log and signals `_persistence`'s.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from .._distributed import gather_to_host
from .._errors import ConfigError, TrainingError
from .._lazy_files import LazyTrajectories
from .._rundir import RunDir
from .._training_config import ModalityConfig, TrainConfig
from ..data import TrajectoryDataset, WindowIndex, WindowSampler, WindowStream
from ..models import with_float_dtype
from ..simulators import AbstractSimulator, check_simulator_solvers, solver_errors, with_network
from ._checkpoint import load_checkpoint, read_checkpoint_header
from ._execution import resolve_execution
from ._modalities import build_modality
from ._optimizer import make_optimizer
from ._persistence import (
    StopRequest,
    TrainingInterrupted,
    configs_from_header,
    read_train_log,
    save_state,
    training_identity,
)
from ._result import TrainResult
from ._state import initial_states, initial_weights, matching_weights
from ._update import make_chunk, shuffle_key


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
    # the solver's output checked as the command line checks it (one line, not a deep TypeError)
    check_simulator_solvers(template, np.asarray(example), np.asarray(dataset.params[0]))
    if initial_networks is None:
        weights = initial_weights(make_simulator, seeds)
    else:
        weights = matching_weights(initial_networks, make_simulator, seeds)
    weights = with_float_dtype(weights, example.dtype)  # trained in the data's dtype (x64 or not)
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
        if training_identity(*configs_from_header(saved)) != training_identity(config, stages):
            raise ConfigError(f"{checkpoint}: the checkpoint was written with another training config")
        start_stage, start_step = int(saved["stage"]), int(saved["step_in_stage"])
        history = read_train_log(RunDir(out).log, int(saved["step"]))
        like = initial_states(weights, make_optimizer(config, stages[start_stage]), seeds)
        _, resumed_states = load_checkpoint(checkpoint, like)

    total = sum(s.updates for s in stages)
    done = sum(s.updates for s in stages[:start_stage]) + start_step
    bar = tqdm(total=total, initial=done, disable=not progress, unit="upd", dynamic_ncols=True)
    states = None
    interrupted = False
    stop = StopRequest(out)
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
                states = initial_states(weights if states is None else states.weights,
                                         optimizer, seeds)
                step = 0
            execution = resolve_execution(
                config, stage, template, example, params[0],
                num_seeds=len(seeds), batch_size=index.batch_size)
            states = execution.place(states)
            if stream is not None:
                stream.close()
            if isinstance(dataset.trajectories, LazyTrajectories):
                keys = jax.vmap(shuffle_key)(states)
                stream = WindowStream(dataset.trajectories, dataset.params, index, keys)
                data: WindowSampler | WindowStream = stream
            else:
                data = WindowSampler(trajectories, params, length=index.length,
                                     batch_size=config.batch_size)
            chunk = make_chunk(template, static_net, stage, config, optimizer, data, execution)
            while step < stage.updates:
                if stop_after is not None and done >= stop_after:
                    interrupted = True  # the stop falls on a chunk boundary: checkpoint it
                    if out is not None:
                        save_state(checkpoint, header, states, stage_index, step, done, history, out)
                    break
                n = min(config.log_every - step % config.log_every, stage.updates - step)
                if stop_after is not None and done + n >= stop_after:
                    n = stop_after - done
                    interrupted = True
                if not compiled_first and progress:
                    bar.set_description_str("compiling (first update)")
                    bar.refresh()
                t0 = time.perf_counter()
                try:
                    with solver_errors():
                        states, outputs = chunk(states, step, n)
                except TrainingError as err:
                    raise TrainingError(f"{err} (in updates {done + 1}-{done + n})") from None
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
                    save_state(checkpoint, header, states, stage_index, step, done, history, out)
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
