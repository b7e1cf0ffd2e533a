"""Typed training configuration (pydantic models that round-trip through YAML)."""

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

from .._options import modality_problem
from ._modalities import NOG, ONE, WIG, Unroll


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModalityConfig(_Strict):
    """Which unrolled loss to train with (see `ONE`, `NOG`, `WIG`)."""

    name: Literal["ONE", "NOG", "WIG"] = "ONE"
    steps: PositiveInt = 1
    warmup: NonNegativeInt = 0
    cut_every: PositiveInt | None = None
    weights: list[NonNegativeFloat] | None = None
    noise: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _check(self):
        self.build()  # raises ConfigError for impossible combinations
        return self

    def build(self) -> Unroll:
        """The `Unroll` modality this configuration describes."""
        problem = modality_problem(self.name, cut_every=self.cut_every, warmup=self.warmup)
        if problem:
            raise ValueError(problem)
        if self.name == "ONE":
            return ONE(self.steps, noise=self.noise, weights=self.weights)
        if self.name == "NOG":
            return NOG(self.steps, warmup=self.warmup, noise=self.noise, weights=self.weights)
        return WIG(self.steps, cut_every=self.cut_every, warmup=self.warmup, noise=self.noise,
                   weights=self.weights)


class StageConfig(_Strict):
    """One stage of the unroll curriculum: modality, learning rate, updates."""

    modality: ModalityConfig = ModalityConfig()
    updates: PositiveInt = 1000
    learning_rate: PositiveFloat = 1e-3
    ramp: NonNegativeInt = Field(0, description="linear learning-rate ramp at the stage start")


class TrainConfig(_Strict):
    """How to train: curriculum stages, batch, optimizer, safety, logging, seeds."""

    stages: list[StageConfig] = Field(default_factory=lambda: [StageConfig()], min_length=1)
    batch_size: PositiveInt = 20
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: NonNegativeFloat = 0.0
    momentum: NonNegativeFloat = 0.9
    schedule: Literal["constant", "cosine"] = "constant"
    clip_norm: PositiveFloat | None = None
    skip_factor: float = Field(
        10.0, gt=1.0, description="skip if |g| > factor x a decaying running max of accepted |g|")
    skip_warmup: NonNegativeInt = 10
    max_consecutive_skips: PositiveInt = 20
    log_every: PositiveInt = 50
    checkpoint_every: PositiveInt = 500
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if self.checkpoint_every % self.log_every:
            raise ValueError(
                f"checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"log_every ({self.log_every})"
            )
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self

    @property
    def total_updates(self) -> int:
        return sum(s.updates for s in self.stages)
