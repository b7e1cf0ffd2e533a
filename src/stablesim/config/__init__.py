"""Typed configurations read from YAML, with `--set` overrides."""

from .._training_config import ModalityConfig, StageConfig, StrictConfig, TrainConfig
from ._load import (
    apply_overrides,
    check_against_data,
    describe_validation_error,
    load_run_config,
    parse_override,
    read_yaml,
    resolve_paths,
    set_dotted,
    split_parameter_column,
    to_commented_yaml,
    to_yaml,
    validate,
    write_yaml,
)
from ._schema import (
    RENAMED_KEYS,
    DataSection,
    EvaluationSection,
    ModelSection,
    RunConfig,
    SimulatorSection,
    SystemSection,
    current_key,
    same_values,
    upgrade_renamed_keys,
)

__all__ = [
    "RunConfig", "StrictConfig", "SystemSection", "DataSection", "ModelSection", "SimulatorSection",
    "ModalityConfig", "TrainConfig", "StageConfig", "EvaluationSection",
    "RENAMED_KEYS", "current_key", "upgrade_renamed_keys",
    "load_run_config", "apply_overrides", "parse_override", "set_dotted",
    "read_yaml", "validate", "to_yaml", "to_commented_yaml", "write_yaml", "resolve_paths",
    "check_against_data", "split_parameter_column", "same_values",
    "describe_validation_error",
]
