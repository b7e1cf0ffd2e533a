"""Typed configurations read from YAML, with `--set` overrides."""

from .._training_config import ModalityConfig, StageConfig, StrictConfig, TrainConfig
from ._compose import Layer, Override, changed, compose, load_run_config, resolve_paths
from ._load import (
    check_against_data,
    describe_validation_error,
    parse_override,
    read_yaml,
    set_dotted,
    split_parameter_column,
    to_commented_yaml,
    to_yaml,
    validate,
    write_yaml,
)
from ._renamed import RENAMED_KEYS, current_key, upgrade_renamed_keys
from ._schema import (
    DataSection,
    EvaluationSection,
    ModelSection,
    RunConfig,
    SimulatorSection,
    SystemSection,
    check_rollout,
    same_values,
)

__all__ = [
    "RunConfig",
    "SystemSection",
    "DataSection",
    "ModelSection",
    "SimulatorSection",
    "ModalityConfig",
    "TrainConfig",
    "StageConfig",
    "EvaluationSection",
    "load_run_config",
    "compose",
    "Layer",
    "changed",
    "to_yaml",
    "write_yaml",
    "RENAMED_KEYS",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    check_rollout,
    StrictConfig,
    current_key,
    upgrade_renamed_keys,
    Override,
    parse_override,
    set_dotted,
    read_yaml,
    validate,
    to_commented_yaml,
    resolve_paths,
    check_against_data,
    split_parameter_column,
    same_values,
    describe_validation_error,
)
