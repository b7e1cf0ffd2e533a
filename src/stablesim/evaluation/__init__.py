"""Rollouts and their metrics."""

from ._field_metrics import (
    CORRELATION_LEVELS,
    correlation_times,
    gmean_nrmse,
    nrmse,
    vrmse,
)
from ._intervals import (
    RatioInterval,
    Verdict,
    few_pairs_warning,
    few_seeds_warning,
    paired_ratio,
    unpaired_ratio,
)
from ._long import divergence_bounds, long_divergence, long_rollout
from ._metrics import (
    DIVERGENCE_RULE,
    decorrelation_time,
    divergence_step,
    frame_correlation,
    mean_squared_error,
    relative_error,
    relative_error_curve,
    rollout_batch,
)
from ._physical import (
    EMPTY_BAND_SHARE,
    DataStatistics,
    PhysicalTolerances,
    RolloutPhysics,
    band_energy,
    empty_band_fraction,
    physical_verdict,
    radial_bands,
    wasserstein_to_data,
)
from ._results import (
    VERDICTS,
    Baseline,
    ChannelErrors,
    Divergences,
    GradientRow,
    LongDivergences,
    MetricRow,
    Metrics,
    PhysicsSummary,
    SetSummary,
    Spread,
    Stat,
)

__all__ = [
    "rollout_batch",
    "relative_error",
    "relative_error_curve",
    "mean_squared_error",
    "frame_correlation",
    "decorrelation_time",
    "divergence_step",
    "nrmse",
    "vrmse",
    "gmean_nrmse",
    "paired_ratio",
    "unpaired_ratio",
    "RatioInterval",
    "long_rollout",
    "long_divergence",
    "physical_verdict",
    "DataStatistics",
    "PhysicalTolerances",
    "RolloutPhysics",
    "band_energy",
    "wasserstein_to_data",
    "Metrics",
    "SetSummary",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    DIVERGENCE_RULE,
    divergence_bounds,
    Verdict,
    few_seeds_warning,
    few_pairs_warning,
    correlation_times,
    CORRELATION_LEVELS,
    EMPTY_BAND_SHARE,
    empty_band_fraction,
    radial_bands,
    Stat,
    Divergences,
    LongDivergences,
    ChannelErrors,
    PhysicsSummary,
    Spread,
    Baseline,
    GradientRow,
    MetricRow,
    VERDICTS,
)
