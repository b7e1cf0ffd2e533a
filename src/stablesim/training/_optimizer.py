"""The Optax optimizer of a curriculum stage: schedule, clipping, weight decay."""

from __future__ import annotations

import optax

from .._training_config import StageConfig, TrainConfig


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
