"""Training: modalities (ONE, NOG, WIG), configuration, trainer, checkpoints."""

from .._training_config import ModalityConfig, StageConfig, StrictConfig, TrainConfig
from ._checkpoint import (
    copy_checkpoint,
    load_checkpoint,
    read_checkpoint,
    read_checkpoint_header,
    save_checkpoint,
)
from ._execution import (
    Execution,
    device_split,
    resolve_execution,
    step_residual_bytes,
    uses_xla_convolution,
)
from ._gradients import gradient_alignment
from ._modalities import NOG, ONE, WIG, Unroll, build_modality
from ._optimizer import make_optimizer
from ._persistence import (
    TrainingInterrupted,
    load_trained,
    read_train_log,
    trained_from_checkpoint,
)
from ._result import TrainResult
from ._skipping import SkipOutliersState, skip_outlier_updates, skip_rule
from ._trainer import train

__all__ = [
    "ONE",
    "NOG",
    "WIG",
    "Unroll",
    "build_modality",
    "train",
    "TrainResult",
    "TrainConfig",
    "StageConfig",
    "ModalityConfig",
    "gradient_alignment",
    "load_trained",
    "skip_outlier_updates",
    "TrainingInterrupted",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    StrictConfig,
    Execution,
    resolve_execution,
    step_residual_bytes,
    uses_xla_convolution,
    device_split,
    read_train_log,
    make_optimizer,
    save_checkpoint,
    load_checkpoint,
    copy_checkpoint,
    read_checkpoint_header,
    read_checkpoint,
    trained_from_checkpoint,
    skip_rule,
    SkipOutliersState,
)
