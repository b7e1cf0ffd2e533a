"""Neural ODE integrators whose per-layer gradients are consistent with the continuous ones.

Integrators are data (`INTEGRATORS`); `integrate` runs one as a ResNet with
shared, per-step or per-stage parameters and plain or corrected gradients;
`correct_gradients` corrects gradients computed elsewhere; `continuous_gradient`
is the high-accuracy reference; the rest are diagnostics.
"""

from ._check import format_check_table, run_ode_check
from ._correction import (
    LayerStencil,
    correct_gradients,
    highest_correction_order,
    layer_stencil,
)
from ._diagnostics import (
    LayerGradient,
    TransferReport,
    consistency_check,
    even_odd_ratios,
    layer_gradient,
    oscillation_index,
    refinement_check,
    transfer_check,
)
from ._integrate import InconsistentGradientWarning, Solution, integrate
from ._layout import layer_spacing, layer_times
from ._methods import INTEGRATORS, Integrator, Multistep, RungeKutta, get_integrator
from ._monitor import StepSpecificWarning, TransferMonitor, plateau_update
from ._reference import (
    ContinuousGradient,
    continuous_gradient,
    interpolate_parameters,
    sample_parameters,
)
from ._smooth import TimeFunction, basis_weights, default_layout, integrate_in_time
from ._transfer import (
    Variant,
    default_variants,
    ratios_by_variant,
    run_ode_transfer,
    transfer_table,
    transfer_verdicts,
)

__all__ = [
    "integrate",
    "Solution",
    "INTEGRATORS",
    "get_integrator",
    "Integrator",
    "RungeKutta",
    "Multistep",
    "continuous_gradient",
    "ContinuousGradient",
    "layer_gradient",
    "LayerGradient",
    "consistency_check",
    "refinement_check",
    "transfer_check",
    "TransferReport",
    "correct_gradients",
    "TransferMonitor",
    "InconsistentGradientWarning",
    "run_ode_check",
    "run_ode_transfer",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    interpolate_parameters,
    sample_parameters,
    oscillation_index,
    even_odd_ratios,
    highest_correction_order,
    layer_stencil,
    LayerStencil,
    layer_times,
    layer_spacing,
    TimeFunction,
    integrate_in_time,
    basis_weights,
    default_layout,
    transfer_verdicts,
    transfer_table,
    Variant,
    default_variants,
    ratios_by_variant,
    StepSpecificWarning,
    plateau_update,
    format_check_table,
)
