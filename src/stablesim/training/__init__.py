"""Training: modalities (ONE, NOG, WIG), trainer, checkpoints."""

from ._modalities import NOG, ONE, WIG, Unroll

__all__ = ["ONE", "NOG", "WIG", "Unroll"]
