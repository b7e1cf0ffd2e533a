"""Neural ODE integrators whose per-layer gradients are consistent with the continuous ones."""

from ._diagnostics import (
    LayerGradient, TransferReport, consistency_check, even_odd_ratios, layer_gradient,
    oscillation_index, refinement_check, transfer_check,
)
from ._correction import LayerStencil, correct_gradients, layer_stencil
from ._integrate import InconsistentGradientWarning, Solution, integrate
from ._layout import layer_spacing, layer_times
from ._reference import ContinuousGradient, continuous_gradient, interpolate_parameters, sample_parameters
from ._methods import INTEGRATORS, Integrator, Multistep, RungeKutta, get_integrator

__all__ = [
    "INTEGRATORS", "Integrator", "RungeKutta", "Multistep", "get_integrator",
    "integrate", "Solution", "InconsistentGradientWarning",
    "continuous_gradient", "ContinuousGradient", "interpolate_parameters", "sample_parameters",
    "oscillation_index", "even_odd_ratios", "layer_gradient", "LayerGradient",
    "consistency_check", "refinement_check", "transfer_check", "TransferReport",
    "correct_gradients", "layer_stencil", "LayerStencil", "layer_times", "layer_spacing",
]
