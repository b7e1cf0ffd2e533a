"""Reports: curves from metric rows, matplotlib figures, markdown + HTML documents."""

from ._curves import band, training_curve
from ._diagnose import write_diagnose_report
from ._document import Document
from ._ode_check import write_check, write_transfer
from ._plots import (
    plot_against_unroll,
    plot_gradient_alignment,
    plot_metric_curves,
    plot_rollouts,
    plot_run,
    plot_training,
    pyplot,
)

__all__ = [
    "Document",
    "plot_run",
    "plot_metric_curves",
    "plot_rollouts",
    "plot_training",
    "plot_gradient_alignment",
    "write_diagnose_report",
    "pyplot",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    band,
    training_curve,
    plot_against_unroll,
    write_check,
    write_transfer,
)
