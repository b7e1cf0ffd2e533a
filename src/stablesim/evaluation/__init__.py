"""Rollouts and metrics."""

from ._metrics import relative_error, rollout_batch

__all__ = ["relative_error", "rollout_batch"]
