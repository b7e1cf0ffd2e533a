"""The typed run configuration: every section of a `stablesim train` config.

A run config is a YAML mapping with the sections `system`, `data`, `model`,
`simulator`, `modality`, `training` and `evaluation`. Every field has a
default, so an empty file is the built-in default run. Cross-section checks
(WIG with an external solver, windows longer than the trajectories, test
parameters outside the system's range) name the offending dotted key.
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

from .._options import (
    ARCHITECTURES,
    INITIALIZERS,
    MODALITIES,
    SYSTEM_NAMES,
    SYSTEMS,
    modality_problem,
)

SystemName = Literal[SYSTEM_NAMES]  # type: ignore[valid-type]
Initializer = Literal[INITIALIZERS]  # type: ignore[valid-type]
Architecture = Literal[ARCHITECTURES]  # type: ignore[valid-type]
ModalityName = Literal[MODALITIES]  # type: ignore[valid-type]


class StrictSection(BaseModel):
    """A config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemSection(StrictSection):
    """Which built-in system (None: the user's own data, prediction only)."""

    name: SystemName | None = Field(
        "ks", description="ks, burgers or kolmogorov; null for your own data (data.file)")
    num_points: PositiveInt | None = Field(None, description="data grid size (system default)")


class DataSection(StrictSection):
    """Where trajectories come from and how they split into train and test."""

    file: str | None = Field(None, description="HDF5 or .npz file of trajectories (a relative "
                             "path resolves against the folder of the file that names it)")
    split_parameter: str | int | None = Field(
        None, description="the parameter (name or column index) whose values the split lists "
        "give; needed when the data have several parameters")
    train_values: list[float] | None = Field(
        None, description="parameter values of the training set (default: the system's)")
    interpolation_values: list[float] | None = Field(
        None, description="values of the interpolation test set (inside the training range)")
    extrapolation_values: list[float] | None = Field(
        None, description="values of the extrapolation test set (outside it)")
    trajectories_per_value: PositiveInt = Field(
        4, description="built-in systems: trajectories simulated per value")
    frames: int = Field(60, ge=2, description="built-in systems: frames kept per trajectory")
    warmup: NonNegativeInt = Field(
        200, description="built-in systems: transient frames simulated and dropped")
    seed: int = Field(0, description="built-in systems: seed of the initial conditions")


class ModelSection(StrictSection):
    """The network architecture and its initialisation."""

    architecture: Architecture = Field(
        "resnet", description=f"one of {', '.join(ARCHITECTURES)}")
    width: PositiveInt = Field(16, description="hidden channels (fields) or units (vectors)")
    depth: PositiveInt = Field(3, description="hidden layers, blocks or levels")
    activation: str = Field("relu", description="a jax.nn function name")
    initializer: Initializer = Field(
        "default", description=f"one of {', '.join(INITIALIZERS)} (bounds hold per layer)")


class SimulatorSection(StrictSection):
    """How the network advances a state: alone or on top of a solver."""

    setup: Literal["prediction", "correction"] = Field(
        "prediction", description="the network alone, or correcting a numerical solver")
    residual: bool = Field(True, description="prediction: u' = u + net(u)")
    mode: Literal["sequential", "parallel"] = Field(
        "sequential", description="correction: S(u) + net(S(u)) (sequential) or "
        "S(u) + net(u) (parallel)")
    solver: Literal["coarse", "external"] = Field(
        "coarse", description="coarse: the system's JAX solver; external: a NumPy solver "
        "through a host callback (no derivatives)")
    solver_function: str | None = Field(
        None, description="a NumPy solver fn(state[, params]) as 'module:function' or "
        "'path/to/file.py:function' (relative to the config file); correction runs on it "
        "(implies solver=external), prediction runs use it as the solver-alone baseline")
    solver_batched: bool = Field(
        False, description="solver_function takes a batch: states (B, C, *N) and params (B, P)")
    projection: bool = Field(
        False, description="project every step onto the training data's subspace (POD, "
        "numerical rank): directions without data energy cannot grow")
    projection_rank: PositiveInt | None = Field(
        None, description="dimension of the projection subspace (default: the numerical rank)")


class ModalitySection(StrictSection):
    """The unrolled loss: ONE, NOG or WIG over m steps."""

    name: ModalityName = Field(
        "ONE", description="ONE (one step), NOG (unrolled, no temporal gradients) or WIG "
        "(unrolled, gradients through time)")
    unroll: PositiveInt = Field(4, description="m: loss steps per window (ONE: teacher forced)")
    warmup: NonNegativeInt = Field(
        0, description="NOG/WIG: steps rolled out without loss before the unroll (pushforward)")
    cut_every: PositiveInt | None = Field(
        None, description="WIG: cut the gradient every n steps (truncated back-propagation)")
    weights: list[NonNegativeFloat] | None = Field(
        None, description="per-step loss weights, one per unrolled step (default: equal)")
    noise: NonNegativeFloat = Field(
        0.0, description="standard deviation of the input noise (targets stay clean)")

    def to_modality_config(self):
        """The trainer's `ModalityConfig` of this section."""
        from ..training import ModalityConfig

        return ModalityConfig(name=self.name, steps=self.unroll, warmup=self.warmup,
                              cut_every=self.cut_every, weights=self.weights, noise=self.noise)

    @model_validator(mode="after")
    def _check(self):
        problem = modality_problem(self.name, cut_every=self.cut_every, warmup=self.warmup)
        if problem:
            raise ValueError(problem)
        if self.weights is not None and len(self.weights) != self.unroll:
            raise ValueError(f"weights: {len(self.weights)} weights for unroll={self.unroll} "
                             "steps")
        if self.weights is not None and sum(self.weights) <= 0:
            raise ValueError("weights: need a positive sum")
        return self


class CurriculumStage(StrictSection):
    """One stage of an unroll curriculum (replaces the single stage)."""

    modality: ModalitySection = ModalitySection()
    steps: PositiveInt = Field(500, description="parameter updates of this stage")
    learning_rate: PositiveFloat = Field(1e-3, description="peak learning rate of this stage")
    ramp: NonNegativeInt = Field(0, description="linear learning-rate ramp at the stage start")


class TrainingSection(StrictSection):
    """Optimizer, schedule, batch, seeds, logging."""

    steps: PositiveInt = Field(1500, description="parameter updates")
    learning_rate: PositiveFloat = Field(1e-3, description="peak learning rate")
    ramp: NonNegativeInt = Field(0, description="updates of linear learning-rate ramp")
    batch_size: PositiveInt = Field(16, description="windows per update")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optax optimizer")
    schedule: Literal["constant", "cosine"] = Field(
        "cosine", description="learning rate after the ramp: constant or cosine decay to 0")
    weight_decay: NonNegativeFloat = Field(0.0, description="decoupled with adamw")
    momentum: NonNegativeFloat = Field(0.9, description="sgd momentum (0: plain descent)")
    clip_norm: PositiveFloat | None = Field(None, description="clip the gradient's global norm")
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1,
                             description="one network per seed, trained in parallel (vmap)")
    log_every: PositiveInt = Field(100, description="updates per logged row (and per chunk)")
    checkpoint_every: PositiveInt = Field(
        500, description="updates between checkpoints (a multiple of log_every)")
    curriculum: list[CurriculumStage] = Field(
        default_factory=list, description="stages that replace the single stage above")


class EvaluationSection(StrictSection):
    """Test rollouts and their metrics."""

    horizon: PositiveInt = Field(12, description="frames of the headline relative error")
    steps: PositiveInt = Field(48, description="rollout length")
    correlation_threshold: float = Field(
        0.8, gt=0.0, lt=1.0, description="decorrelation time: frames before correlation drops "
        "below this")
    divergence_margin: float = Field(
        1.0, ge=0.0, description="diverged: a value not finite or outside the reference's "
        "range [min, max] widened by margin x (max - min) on each side")
    gradient_unrolls: list[PositiveInt] = Field(
        default_factory=list,
        description="m values of the WIG-to-NOG gradient diagnostic, e.g. [1, 2, 4, 8, 16] "
        "(empty: skip; it costs two gradients per m)")
    plots: bool = Field(True, description="draw PNG plots into the run's plots/")


class RunConfig(StrictSection):
    """Everything one training run needs; round-trips through YAML."""

    system: SystemSection = SystemSection()
    data: DataSection = DataSection()
    model: ModelSection = ModelSection()
    simulator: SimulatorSection = SimulatorSection()
    modality: ModalitySection = ModalitySection()
    training: TrainingSection = TrainingSection()
    evaluation: EvaluationSection = EvaluationSection()

    @model_validator(mode="after")
    def _check(self):
        check_combinations(self)
        return self

    @property
    def stages(self) -> list[tuple[ModalitySection, int, float, int]]:
        """(modality, updates, learning rate, ramp) per curriculum stage."""
        t = self.training
        if t.curriculum:
            return [(s.modality, s.steps, s.learning_rate, s.ramp) for s in t.curriculum]
        return [(self.modality, t.steps, t.learning_rate, t.ramp)]

    @property
    def external_solver(self) -> bool:
        s = self.simulator
        return s.setup == "correction" and (s.solver == "external" or s.solver_function is not None)

    def train_config(self):
        """The trainer's `TrainConfig` of this run."""
        from ..training import StageConfig, TrainConfig

        t = self.training
        stages = [StageConfig(modality=m.to_modality_config(), updates=n, learning_rate=lr,
                              ramp=ramp) for m, n, lr, ramp in self.stages]
        return TrainConfig(stages=stages, batch_size=t.batch_size, optimizer=t.optimizer,
                           weight_decay=t.weight_decay, momentum=t.momentum,
                           schedule=t.schedule, clip_norm=t.clip_norm, seeds=t.seeds,
                           log_every=t.log_every, checkpoint_every=t.checkpoint_every)


def _fail(key: str, message: str):
    raise ValueError(f"{key}: {message}")


def check_combinations(cfg: RunConfig) -> None:
    """Raise `ValueError("dotted.key: problem")` for impossible combinations."""
    t, d, e, s = cfg.training, cfg.data, cfg.evaluation, cfg.simulator
    if t.checkpoint_every % t.log_every:
        _fail("training.checkpoint_every", f"{t.checkpoint_every} is not a multiple of "
              f"training.log_every ({t.log_every})")
    if len(set(t.seeds)) != len(t.seeds):
        _fail("training.seeds", f"seeds must be distinct, got {t.seeds}")
    for i, (modality, *_rest) in enumerate(cfg.stages):
        key = f"training.curriculum[{i}].modality" if t.curriculum else "modality"
        if modality.name == "WIG" and cfg.external_solver:
            _fail(f"{key}.name", "WIG back-propagates through the solver, but "
                  "simulator.solver is external (not differentiable); use NOG or ONE")
        window = modality.warmup + modality.unroll + 1
        if d.file is None and window > d.frames:
            _fail(f"{key}.unroll", f"windows of {window} frames (warmup + unroll + 1) do not "
                  f"fit in trajectories of data.frames={d.frames}")
    if e.horizon > e.steps:
        _fail("evaluation.horizon", f"{e.horizon} is longer than the rollout "
              f"(evaluation.steps={e.steps})")
    if d.file is None and e.steps > d.frames - 1:
        _fail("evaluation.steps", f"{e.steps} rollout steps need data.frames >= {e.steps + 1}, "
              f"got {d.frames}")
    if s.solver_batched and s.solver_function is None:
        _fail("simulator.solver_batched", "applies to simulator.solver_function (the user's "
              "NumPy solver), which is not set")
    if cfg.system.name is None:
        if d.file is None:
            _fail("data.file", "needed when system.name is null (the user's own data)")
        if s.setup == "correction" and s.solver_function is None:
            _fail("simulator.setup", "correction needs a solver: a built-in system "
                  "(system.name) or simulator.solver_function")
        if d.train_values is None:
            _fail("data.train_values", "needed to split the user's own data (system.name is null)")
        return
    facts = SYSTEMS[cfg.system.name]
    lo, hi = facts.low, facts.high
    for field in ("train_values", "interpolation_values", "extrapolation_values"):
        values = getattr(d, field)
        if values is not None:
            for v in values:
                if not lo <= v <= hi:
                    _fail(f"data.{field}", f"{v} is outside what {facts.class_name} "
                          f"supports ({facts.parameter} in [{lo}, {hi}])")
    if d.train_values is not None and not d.train_values:
        _fail("data.train_values", "at least one training value is needed")
