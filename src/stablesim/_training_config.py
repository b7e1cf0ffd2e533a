"""The typed training configuration: one schema for the library and the run config.

`TrainConfig`, `StageConfig` and `ModalityConfig` are what `train` takes and
what a run config's `training` and `modality` sections are: one set of
defaults, one set of checks. They need no JAX, so `stablesim config show`
and `--help` stay fast; `stablesim.training.build_modality` turns a
`ModalityConfig` into the `Unroll` loss.

Names, one per concept: `unroll` (loss steps m per window), `pushforward`
(steps rolled out before them without loss), `updates` (optimizer updates),
`ramp` (learning-rate ramp, in updates).
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)


class StrictConfig(BaseModel):
    """The base of every stablesim config: unknown keys are errors, values are frozen.

    A validator's `ValueError("key: problem")` is reported by the config
    loader as `section.key: problem`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_unroll(*, unroll, pushforward, cut_every, weights, noise, unrolled: bool) -> None:
    """The rules of an unrolled loss, defined once: for `ModalityConfig` and `Unroll` alike.

    **Arguments:** the loss's `unroll` (m), `pushforward`, `cut_every` (None: no cut),
    per-step `weights` (None: equal), input `noise`, and whether it is `unrolled` (NOG,
    WIG: not teacher forced).

    **Raises:** `ValueError("key: problem")` for the first rule broken.
    """
    if not isinstance(unroll, int) or unroll < 1:
        raise ValueError(f"unroll: must be an integer >= 1, got {unroll!r}")
    if not isinstance(pushforward, int) or pushforward < 0:
        raise ValueError(f"pushforward: must be an integer >= 0, got {pushforward!r}")
    if pushforward and not unrolled:
        raise ValueError("pushforward: needs an unrolled modality (NOG or WIG)")
    if cut_every is not None:
        if not isinstance(cut_every, int) or not 1 <= cut_every <= unroll:
            raise ValueError(f"cut_every: must be an integer in [1, unroll={unroll}], "
                             f"got {cut_every!r}")
        if unroll % cut_every:
            raise ValueError(f"cut_every: {cut_every} does not divide unroll={unroll}")
    if noise < 0:
        raise ValueError(f"noise: must be >= 0, got {noise}")
    if weights is not None:
        if len(weights) != unroll:
            raise ValueError(f"weights: {len(weights)} weights for unroll={unroll} steps")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("weights: must be >= 0 with a positive sum")


class ModalityConfig(StrictConfig):
    """Which unrolled loss to train with: ONE, NOG or WIG over `unroll` steps."""

    name: Literal["ONE", "NOG", "WIG"] = Field(
        "ONE", description="ONE (one step), NOG (unrolled, no temporal gradients) or WIG "
        "(unrolled, gradients through time)")
    unroll: PositiveInt = Field(4, description="m: loss steps per window (ONE: teacher forced)")
    pushforward: NonNegativeInt = Field(
        0, description="NOG/WIG: steps rolled out without loss or gradient before the unroll")
    cut_every: PositiveInt | None = Field(
        None, description="WIG: cut the gradient every n steps (truncated back-propagation)")
    weights: list[NonNegativeFloat] | None = Field(
        None, description="per-step loss weights, one per unrolled step (default: equal)")
    noise: NonNegativeFloat = Field(
        0.0, description="standard deviation of the input noise (targets stay clean)")

    @model_validator(mode="after")
    def _check(self):
        if self.name != "WIG" and self.cut_every not in (None, 1):
            raise ValueError("cut_every: applies to WIG only" + (
                " (NOG cuts every step)" if self.name == "NOG" else ""))
        check_unroll(unroll=self.unroll, pushforward=self.pushforward, cut_every=self.cut_every,
                     weights=self.weights, noise=self.noise, unrolled=self.name != "ONE")
        return self

    @property
    def window_length(self) -> int:
        """Frames per training window: pushforward + unroll + 1."""
        return self.pushforward + self.unroll + 1


class StageConfig(StrictConfig):
    """One stage of an unroll curriculum: modality, updates, learning rate, ramp."""

    modality: ModalityConfig = ModalityConfig()
    updates: PositiveInt = Field(500, description="optimizer updates of this stage")
    learning_rate: PositiveFloat = Field(1e-3, description="peak learning rate of this stage")
    ramp: NonNegativeInt = Field(0, description="updates of linear learning-rate ramp at the "
                                 "stage start")


class TrainConfig(StrictConfig):
    """How to train: updates, optimizer, schedule, batch, seeds, safety, logging.

    One stage (`updates`, `learning_rate`, `ramp` with the run's modality)
    unless `curriculum` lists stages, which then replace it.
    """

    updates: PositiveInt = Field(1500, description="optimizer updates")
    learning_rate: PositiveFloat = Field(1e-3, description="peak learning rate")
    ramp: NonNegativeInt = Field(0, description="updates of linear learning-rate ramp")
    batch_size: PositiveInt = Field(16, description="windows per update")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optax optimizer")
    schedule: Literal["constant", "cosine"] = Field(
        "cosine", description="learning rate after the ramp: constant or cosine decay to 0")
    weight_decay: NonNegativeFloat = Field(0.0, description="decoupled with adamw")
    momentum: NonNegativeFloat = Field(0.9, description="sgd momentum (0: plain descent)")
    clip_norm: PositiveFloat | None = Field(None, description="clip the gradient's global norm")
    skip_factor: float = Field(
        10.0, gt=1.0, description="skip an update whose gradient norm exceeds this factor x a "
        "decaying running maximum of accepted norms")
    skip_grace: NonNegativeInt = Field(
        10, description="accepted updates before the skip test starts")
    max_consecutive_skips: PositiveInt = Field(
        20, description="stop training after this many skipped updates in a row")
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1,
                             description="one network per seed, trained in parallel (vmap)")
    log_every: PositiveInt = Field(100, description="updates per logged row (and per chunk)")
    checkpoint_every: PositiveInt = Field(
        500, description="updates between checkpoints (a multiple of log_every)")
    loop: Literal["auto", "step", "scan"] = Field(
        "auto", description="how updates run: step (one jitted update per call, state buffers "
        "donated), scan (a lax.scan over log_every updates, no per-update dispatch), auto (step "
        "on CPU when the simulator uses XLA convolutions, slow there inside a loop; scan "
        "otherwise); the results agree to round-off")
    unroll_loop: Literal["auto", "scan", "python"] = Field(
        "auto", description="how the unroll is traced: scan (compile time flat in its length), "
        "python (an unrolled loop; several times faster on CPU), auto (python on CPU up to 32 "
        "steps, scan otherwise)")
    remat: Literal["auto", "always", "never"] = Field(
        "auto", description="recompute unroll steps in the backward pass (memory flat in the "
        "unroll length, ~1.3x the work): always, never, or auto (only when the activations "
        "kept for the backward pass would exceed remat_budget_mb)")
    remat_budget_mb: PositiveFloat = Field(
        1024.0, description="remat: auto checkpoints when the unroll's stored activations "
        "(all seeds and windows of a batch) would exceed this many MiB")
    devices: PositiveInt | None = Field(
        None, description="data parallel over this many devices (null: as many as "
        "divide the seeds or the batch): seeds are split over them when they divide the "
        "number of seeds, else every batch is; same results as one device to round-off. In a "
        "run over several processes (JAX_COORDINATOR_ADDRESS) all their devices")
    curriculum: list[StageConfig] = Field(
        default_factory=list, description="stages that replace the single stage above "
        "(each with its own modality, updates, learning_rate, ramp)")

    @model_validator(mode="after")
    def _check(self):
        if self.checkpoint_every % self.log_every:
            raise ValueError(f"checkpoint_every: {self.checkpoint_every} is not a multiple of "
                             f"log_every ({self.log_every})")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: must be distinct, got {self.seeds}")
        return self

    def stages(self, modality: ModalityConfig | None = None) -> list[StageConfig]:
        """The curriculum, or the single stage of `modality` (default: `ModalityConfig()`)."""
        if self.curriculum:
            return list(self.curriculum)
        return [StageConfig(modality=modality or ModalityConfig(), updates=self.updates,
                            learning_rate=self.learning_rate, ramp=self.ramp)]

    @property
    def total_updates(self) -> int:
        """Optimizer updates over all stages."""
        if self.curriculum:
            return sum(s.updates for s in self.curriculum)
        return self.updates
