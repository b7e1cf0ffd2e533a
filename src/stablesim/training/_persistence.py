"""What outlives a training process: checkpoints with their configs, the log, signals.

A checkpoint holds every seed's state and a header with the training config
and stages; the log (`train_log.csv`) is written before the checkpoint, so a
kill between the two leaves rows beyond the checkpoint (dropped on resume),
never a checkpoint whose rows are lost. SIGINT/SIGTERM finish the running
chunk and checkpoint it.
"""

from __future__ import annotations

import csv
import os
import pathlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np

from .._atomic import atomic_path
from .._distributed import gather_to_host, is_writer
from .._rundir import RunDir
from .._training_config import StageConfig, TrainConfig
from ..simulators import AbstractSimulator, with_network
from ._checkpoint import load_checkpoint_payload, read_checkpoint, save_checkpoint
from ._optimizer import make_optimizer
from ._result import TrainResult
from ._state import initial_states, initial_weights

LOG_COLUMNS = ("step", "stage", "seed", "loss", "grad_norm", "skipped", "updates_per_s")


EXECUTION_KEYS = ("loop", "unroll_loop", "remat", "remat_budget_mb", "devices")
"""Training keys that change speed and memory, not the result: a resume may change them."""

_RENAMED_IN_FORMAT_2 = {"steps": "unroll", "warmup": "pushforward", "skip_warmup": "skip_grace"}


def configs_from_header(header: dict) -> tuple[TrainConfig, list[StageConfig]]:
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


def training_identity(config: TrainConfig, stages: list[StageConfig]) -> tuple:
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


def write_log(path: pathlib.Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        w.writeheader()
        w.writerows(rows)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during `train`: the current update was checkpointed first.

    **Fields:** `done` and `total` updates, `run` (the output directory or None).
    """

    def __init__(self, done: int, total: int, run):
        super().__init__(f"interrupted at update {done} of {total}")
        self.done, self.total, self.run = done, total, run


class StopRequest:
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


def save_state(path, header, states, stage_index, step, done, history, out):
    header = dict(header, stage=stage_index, step_in_stage=step, step=done)
    states = gather_to_host(states)  # every process takes part; process 0 writes
    if not is_writer():
        return
    # Log first: a kill between the two writes leaves log rows beyond the
    # checkpoint, which resume drops, never a checkpoint whose rows are lost.
    write_log(RunDir(out).log, history)
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
    files = RunDir(pathlib.Path(run_dir))
    result = trained_from_checkpoint(make_simulator, files.checkpoint,
                                     *read_checkpoint(files.checkpoint))
    result.history = read_train_log(files.log, result.steps)
    return result


def trained_from_checkpoint(make_simulator: Callable[[jax.Array], AbstractSimulator],
                            path: str | os.PathLike, header: dict[str, Any], payload: bytes
                            ) -> TrainResult:
    """The networks of a checkpoint already read (`read_checkpoint`); no history.

    **Arguments:**

    - `make_simulator`: the factory the run was trained with.
    - `path`: the checkpoint (named in errors).
    - `header`, `payload`: what `read_checkpoint` returned.

    **Returns:**

    A `TrainResult` with an empty `history`.
    """
    config, stages = configs_from_header(header)
    seeds = header["seeds"]
    template = make_simulator(jax.random.key(seeds[0]))
    # The checkpoint fills a skeleton of the right shapes: no seed's network is initialised.
    like = eqx.filter_eval_shape(
        lambda: initial_states(initial_weights(make_simulator, seeds),
                                make_optimizer(config, stages[int(header["stage"])]), seeds))
    states = load_checkpoint_payload(path, payload, like)
    static_net = eqx.filter(template.network, eqx.is_array, inverse=True)
    networks = eqx.combine(states.weights, static_net)
    return TrainResult(
        simulator=with_network(template, jax.tree_util.tree_map(
            lambda x: x[0] if eqx.is_array(x) else x, networks)),
        networks=networks, seeds=seeds, history=[],
        skipped=[int(s) for s in np.asarray(states.skipped)], steps=int(header["step"]),
    )
