"""Training: modalities (ONE, NOG, WIG), configuration, trainer, checkpoints."""

from ._checkpoint import load_checkpoint, read_checkpoint_header, save_checkpoint
from ._config import ModalityConfig, StageConfig, TrainConfig
from ._gradients import gradient_alignment
from ._modalities import NOG, ONE, WIG, Unroll
from ._trainer import (
    TrainingInterrupted,
    TrainResult,
    load_trained,
    make_optimizer,
    read_train_log,
    train,
)

__all__ = [
    "ONE", "NOG", "WIG", "Unroll",
    "ModalityConfig", "StageConfig", "TrainConfig",
    "gradient_alignment",
    "train", "load_trained", "read_train_log", "TrainResult", "TrainingInterrupted", "make_optimizer",
    "save_checkpoint", "load_checkpoint", "read_checkpoint_header",
]
