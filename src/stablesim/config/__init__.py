"""Typed configurations read from YAML, with `--set` overrides."""

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
    CurriculumStage,
    DataSection,
    EvaluationSection,
    ModalitySection,
    ModelSection,
    RunConfig,
    SimulatorSection,
    StrictSection,
    SystemSection,
    TrainingSection,
)

__all__ = [
    "RunConfig", "StrictSection", "SystemSection", "DataSection", "ModelSection", "SimulatorSection",
    "ModalitySection", "TrainingSection", "CurriculumStage", "EvaluationSection",
    "load_run_config", "apply_overrides", "parse_override", "set_dotted",
    "read_yaml", "validate", "to_yaml", "to_commented_yaml", "write_yaml", "resolve_paths",
    "check_against_data", "split_parameter_column",
    "describe_validation_error",
]
