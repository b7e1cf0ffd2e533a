"""The typed run configuration: every section of a `stablesim train` config.

A run config is a YAML mapping with the sections `system`, `data`, `model`,
`simulator`, `modality`, `training` and `evaluation`. Every field has a
default, so an empty file is the built-in default run. Cross-section checks
(WIG with an external solver, windows longer than the trajectories, test
parameters outside the system's range) name the offending dotted key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from .._options import ARCHITECTURES, INITIALIZERS, SYSTEM_NAMES, SYSTEMS
from .._training_config import ModalityConfig, StageConfig, StrictConfig, TrainConfig
from .._values import same_values
from ._renamed import upgrade_renamed_keys

SystemName = Literal[SYSTEM_NAMES]  # type: ignore[valid-type]
Initializer = Literal[INITIALIZERS]  # type: ignore[valid-type]


class SystemSection(StrictConfig):
    """Which built-in system (None: the user's own data, prediction only)."""

    name: SystemName | None = Field(
        "ks", description="ks, burgers or kolmogorov; null for your own data (data.file)")
    num_points: PositiveInt | None = Field(None, description="data grid size (system default)")


class DataSection(StrictConfig):
    """Where trajectories come from and how they split into train and test."""

    file: str | None = Field(None, description="HDF5 or .npz file of trajectories, a folder of "
                             "files, or a dataset folder of The Well (a relative path resolves "
                             "against the folder of the file that names it)")
    format: Literal["auto", "stablesim", "well", "pdebench"] = Field(
        "auto", description="layout of data.file: detected from its datasets (auto), or named")
    fields: list[str] | None = Field(
        None, description="The Well / PDEBench: use only the fields of these names as channels")
    stream: Literal["auto", "on", "off"] = Field(
        "auto", description="on: train on windows read from the file as needed (data larger "
        "than memory); off: read everything into memory first; auto: stream beyond 256 MiB")
    keep_copy: bool = Field(False, description="copy data.file into the run directory (default: "
                       "the run records its path, size and fingerprint and refuses changed data)")
    normalize: Literal["auto", "on", "off"] = Field(
        "auto", description="z-score every channel and scale every parameter with statistics of "
        "the training split (the file's stats.yaml for The Well); auto: on for data.file, off "
        "for built-in systems (their states are O(1), their parameters scaled already)")
    split_parameter: str | int | None = Field(
        None, description="the parameter (name or column index) whose values the split lists "
        "give; needed when the data have several parameters")
    train_values: list[float] | None = Field(
        None, description="parameter values of the training set (default: the system's)")
    interpolation_values: list[float] | None = Field(
        None, description="values of the interpolation test set (inside the training range)")
    extrapolation_values: list[float] | None = Field(
        None, description="values of the extrapolation test set (outside it)")
    validation_values: list[float] | None = Field(
        None, description="values of the validation set, on which choices are made (tuning, "
        "stabilize); built-in systems: fresh initial conditions at values inside the training "
        "range that are neither training nor test values (default: the system's; [] for none)")
    validation_trajectories: PositiveInt | None = Field(
        None, description="your own data with data.test_trajectories: hold out the N "
        "trajectories before the test trajectories as the validation set")
    test_trajectories: PositiveInt | None = Field(
        None, description="your own data: hold out the last N trajectories of data.file as the "
        "test set (reported as interpolation); no parameter split, the data need no parameter")
    trajectories_per_value: PositiveInt = Field(
        4, description="built-in systems: trajectories simulated per value")
    frames: int = Field(60, ge=2, description="built-in systems: frames kept per trajectory")
    transient: NonNegativeInt = Field(
        200, description="built-in systems: transient frames simulated and dropped")
    seed: int = Field(0, description="built-in systems: seed of the initial conditions")

    @field_validator("stream", "normalize", mode="before")
    @classmethod
    def _yaml_switch(cls, value):
        """YAML reads a bare on/off as a boolean: take it as the word."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class ModelSection(StrictConfig):
    """The network architecture and its initialisation."""

    architecture: str = Field(
        "resnet", description=f"one of {', '.join(ARCHITECTURES)}, or the user's network "
        "factory as 'path/to/file.py:function' (see stablesim.models.user_network)")
    width: PositiveInt = Field(16, description="hidden channels (fields) or units (vectors)")
    depth: PositiveInt = Field(3, description="hidden layers, blocks or levels")
    activation: str = Field("relu", description="a jax.nn function name")
    initializer: Initializer = Field(
        "default", description=f"one of {', '.join(INITIALIZERS)} (bounds hold per layer)")
    init_from: str | None = Field(
        None, description="a run directory whose trained networks start this run (fine-tuning; "
                          "same model and seeds); replaces the initializer")

    @field_validator("architecture")
    @classmethod
    def _known_or_user(cls, value: str) -> str:
        if value not in ARCHITECTURES and ":" not in value:
            raise ValueError(f"unknown architecture {value!r}; choose from "
                             f"{', '.join(ARCHITECTURES)}, or name your own network factory as "
                             "'path/to/file.py:function'")
        return value


class SimulatorSection(StrictConfig):
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
        None, description="the user's solver fn(state[, params]) as 'module:function' or "
        "'path/to/file.py:function' (relative to the config file); correction runs on it, "
        "prediction runs use it as the solver-alone baseline")
    solver_kind: Literal["auto", "jax", "numpy"] = Field(
        "auto", description="how solver_function runs: jax (inside the compiled step: jitted, "
        "vmapped, differentiable, so WIG works), numpy (a host callback, no derivatives), auto "
        "(traced once with jax.eval_shape: jax if that works, else numpy)")
    solver_batched: bool = Field(
        False, description="a numpy solver_function takes a batch: states (B, C, *N) and "
        "params (B, P)")
    gradient_check: bool = Field(
        True, description="before a modality back-propagates through a JAX solver_function "
        "(WIG), compare its VJP with central finite differences on training states; refuse "
        "to train when they disagree beyond gradient_tolerance")
    gradient_tolerance: float = Field(
        0.05, gt=0.0, description="largest relative VJP vs finite-difference error the "
        "gradient check admits")
    contraction: float = Field(
        1.0, gt=0.0, le=1.0, description="residual prediction: u' = c u + net(u) with this c "
        "(below 1 every eigenvalue of the step moves inward by 1 - c, also where the data "
        "never shaped the network)")
    projection: bool = Field(
        False, description="project every step onto the training data's subspace (POD, "
        "numerical rank): directions without data energy cannot grow")
    projection_rank: PositiveInt | None = Field(
        None, description="dimension of the projection subspace (default: the numerical rank)")
    band_filter: bool = Field(
        False, description="zero, after every step, the Fourier bands (periodic grids) where "
        "the training data have less than 1e-6 of their energy: they cannot fill")
    energy_cap: bool = Field(
        False, description="scale every step's output back onto the largest energy (mean "
        "square) of any training state: a slow energy gain cannot drift past the data's")


class PhysicsSection(StrictConfig):
    """Tolerances of the long-rollout verdict (`stablesim.evaluation.physical_verdict`)."""

    empty_band_fraction: float = Field(
        0.01, ge=0.0, le=1.0, description="most of a rollout's energy allowed in Fourier bands "
        "where the training data have less than 1e-6 of theirs")
    rms_ratio: float = Field(
        1.5, gt=0.0, description="most a rollout's late rms may exceed the largest rms of its "
        "reference trajectory, as a factor")
    wasserstein: float = Field(
        1.0, gt=0.0, description="largest Wasserstein-1 distance of a rollout's late values from "
        "the training data's, in data standard deviations")


class EvaluationSection(StrictConfig):
    """Test rollouts and their metrics."""

    horizon: PositiveInt = Field(12, description="frames of the headline relative error")
    rollout_steps: PositiveInt = Field(48, description="test rollout length (steps)")
    correlation_threshold: float = Field(
        0.8, gt=0.0, lt=1.0, description="decorrelation time: frames before correlation drops "
        "below this")
    divergence_margin: float = Field(
        1.0, ge=0.0, description="diverged: a value not finite or outside the reference's "
        "range [min, max] widened by margin x (max - min) on each side")
    stability_steps: NonNegativeInt = Field(
        0, description="also roll out every test start for this many steps (e.g. 10000) and "
        "count divergences: needs no reference beyond the test frames (0: skip)")
    physics: PhysicsSection = Field(
        default_factory=lambda: PhysicsSection(),
        description="when a bounded long rollout (stability_steps) still counts as unphysical")
    gradient_unrolls: list[PositiveInt] = Field(
        default_factory=list,
        description="m values of the WIG-to-NOG gradient diagnostic, e.g. [1, 2, 4, 8, 16] "
        "(empty: skip; it costs two gradients per m)")
    plots: bool = Field(True, description="draw PNG plots into the run's plots/")


class RunConfig(StrictConfig):
    """Everything one training run needs; round-trips through YAML."""

    system: SystemSection = SystemSection()
    data: DataSection = DataSection()
    model: ModelSection = ModelSection()
    simulator: SimulatorSection = SimulatorSection()
    modality: ModalityConfig = ModalityConfig()
    training: TrainConfig = TrainConfig()
    evaluation: EvaluationSection = EvaluationSection()

    @model_validator(mode="before")
    @classmethod
    def _rename_old_keys(cls, raw):
        return upgrade_renamed_keys(raw)

    @model_validator(mode="after")
    def _check(self):
        check_combinations(self)
        return self

    @property
    def stages(self) -> list[StageConfig]:
        """The training stages: `training.curriculum`, or one stage of `modality`."""
        return self.training.stages(self.modality)

    @property
    def external_solver(self) -> bool:
        """Whether a correction's solver is known from the config alone to run on the host
        (no derivatives); `solver_kind: auto` is decided on the data (`runs.build_solver`)."""
        s = self.simulator
        if s.setup != "correction":
            return False
        if s.solver_function is not None:
            return s.solver_kind == "numpy"
        return s.solver == "external"


def _fail(key: str, message: str):
    raise ValueError(f"{key}: {message}")


def check_lengths(cfg: RunConfig, frames: int, where: str) -> None:
    """Every stage's windows (pushforward + unroll + 1) and the test rollout
    (`evaluation.rollout_steps` + 1) fit in trajectories of `frames` frames (`where`
    names them); the one rule for built-in data (`data.frames`) and a file's."""
    for i, stage in enumerate(cfg.stages):
        key = f"training.curriculum[{i}].modality" if cfg.training.curriculum else "modality"
        window = stage.modality.window_length
        if window > frames:
            _fail(f"{key}.unroll", f"windows of {window} frames (pushforward + unroll + 1) do not "
                  f"fit in the {frames} frames of {where}")
    check_rollout(cfg, frames, where)


def check_rollout(cfg: RunConfig, frames: int, where: str) -> None:
    """The test rollout (`evaluation.rollout_steps` + 1 frames) fits in `frames` frames."""
    rollout = cfg.evaluation.rollout_steps
    if rollout + 1 > frames:
        _fail("evaluation.rollout_steps", f"{rollout} rollout steps need {rollout + 1} frames, "
              f"{where} has {frames}")


def check_combinations(cfg: RunConfig) -> None:
    """Raise `ValueError("dotted.key: problem")` for impossible combinations."""
    t, d, e, s = cfg.training, cfg.data, cfg.evaluation, cfg.simulator
    for i, stage in enumerate(cfg.stages):
        key = f"training.curriculum[{i}].modality" if t.curriculum else "modality"
        if stage.modality.name == "WIG" and cfg.external_solver:
            what = ("simulator.solver_kind is numpy" if cfg.simulator.solver_function is not None
                    else "simulator.solver is external")
            _fail(f"{key}.name", f"WIG back-propagates through the solver, but {what} (a host "
                  "callback, not differentiable); use NOG or ONE, or a JAX solver")
    if e.horizon > e.rollout_steps:
        _fail("evaluation.horizon", f"{e.horizon} is longer than the rollout "
              f"(evaluation.rollout_steps={e.rollout_steps})")
    if d.file is None:
        check_lengths(cfg, d.frames, "data.frames")
    if s.solver_batched and s.solver_function is None:
        _fail("simulator.solver_batched", "applies to simulator.solver_function (the user's "
              "NumPy solver), which is not set")
    if s.contraction != 1.0 and not (s.setup == "prediction" and s.residual):
        _fail("simulator.contraction", "applies to a residual prediction (simulator.setup: "
              "prediction, simulator.residual: true)")
    if s.solver_kind != "auto" and s.solver_function is None:
        _fail("simulator.solver_kind", "applies to simulator.solver_function, which is not set")
    if s.solver_batched and s.solver_kind == "jax":
        _fail("simulator.solver_batched", "applies to a numpy solver_function; a JAX solver "
              "takes one state and is vmapped")
    if cfg.system.name is None:
        if d.file is None:
            _fail("data.file", "needed when system.name is null (the user's own data)")
        if s.setup == "correction" and s.solver_function is None:
            _fail("simulator.setup", "correction needs a solver: a built-in system "
                  "(system.name) or simulator.solver_function")
        if d.test_trajectories is not None:
            given = [k for k in ("train_values", "interpolation_values", "extrapolation_values",
                                 "validation_values", "split_parameter")
                     if getattr(d, k) is not None]
            if given:
                _fail("data.test_trajectories", f"splits by trajectory; data.{given[0]} splits "
                      "by parameter: give one of the two")
            return
        if d.validation_trajectories is not None:
            _fail("data.validation_trajectories", "holds out trajectories and goes with "
                  "data.test_trajectories; with a parameter split give data.validation_values")
        _check_validation_values(d, d.train_values or [])
        return  # without train_values the file's own split is needed (checked on reading it)
    if d.validation_trajectories is not None:
        _fail("data.validation_trajectories", "applies to your own data with "
              "data.test_trajectories; built-in systems take data.validation_values")
    if d.test_trajectories is not None:
        _fail("data.test_trajectories", "applies to your own data (data.file with system.name: "
              "null); built-in systems split by parameter")
    facts = SYSTEMS[cfg.system.name]
    lo, hi = facts.low, facts.high
    for field in ("train_values", "interpolation_values", "extrapolation_values",
                  "validation_values"):
        values = getattr(d, field)
        if values is not None:
            for v in values:
                if not lo <= v <= hi:
                    _fail(f"data.{field}", f"{v} is outside what {facts.class_name} "
                          f"supports ({facts.parameter} in [{lo}, {hi}])")
    if d.train_values is not None and not d.train_values:
        _fail("data.train_values", "at least one training value is needed")
    _check_validation_values(d, d.train_values or facts.train_values,
                             d.interpolation_values or facts.interpolation_values,
                             d.extrapolation_values or facts.extrapolation_values)


def _check_validation_values(d, train, interpolation=(), extrapolation=()) -> None:
    """Given validation values are neither training nor test values (choices never see those).

    (A built-in system's default values that the user's own split values
    take are dropped instead: see `runs.split_values`.)
    """
    if d.validation_values is None:
        return
    interpolation = d.interpolation_values or interpolation
    extrapolation = d.extrapolation_values or extrapolation
    for name, used in (("training", train), ("interpolation", interpolation),
                       ("extrapolation", extrapolation)):
        same = same_values(d.validation_values, used)
        if same:
            _fail("data.validation_values", f"{same[0]} is also a {name} value; validation "
                  "data must be neither training nor test data")
