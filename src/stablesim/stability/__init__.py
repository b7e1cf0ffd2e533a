"""Why learned simulators go unstable: data energy, linear theory, spectra, mitigations."""

from ._band_filter import BandFiltered, kept_band_mask
from ._continuous import (
    SCHEMES,
    continuous_to_discrete,
    discrete_to_continuous,
    finite_difference,
    implied_eigenvalue,
    implied_generator,
)
from ._diagnose import (
    ADVICE_STATUS,
    UNTESTED,
    linearized_spectra,
    off_data_growth,
    recommendations,
)
from ._energy import EnergySpectrum, energy_spectrum, fourier_spectrum, spectrum_frames
from ._energy_cap import EnergyCapped, largest_mean_square
from ._linear import LinearTraining, linear_training
from ._mitigations import (
    Projected,
    from_pod,
    noise_bias,
    recommend_noise,
    residual_noise_limit,
    to_pod,
)
from ._spectrum import (
    StabilitySummary,
    classify,
    jacobian,
    max_real_part,
    spectral_radius,
    spectrum,
    uses_finite_differences,
)
from ._transient import k_step_amplification, transient_growth, transient_sentence

__all__ = [
    "energy_spectrum",
    "EnergySpectrum",
    "spectrum",
    "jacobian",
    "spectral_radius",
    "classify",
    "StabilitySummary",
    "transient_growth",
    "linear_training",
    "LinearTraining",
    "noise_bias",
    "recommend_noise",
    "Projected",
    "EnergyCapped",
    "BandFiltered",
    "implied_generator",
    "discrete_to_continuous",
    "continuous_to_discrete",
    "linearized_spectra",
    "off_data_growth",
    "recommendations",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    largest_mean_square,
    kept_band_mask,
    k_step_amplification,
    transient_sentence,
    fourier_spectrum,
    spectrum_frames,
    max_real_part,
    residual_noise_limit,
    to_pod,
    from_pod,
    finite_difference,
    implied_eigenvalue,
    SCHEMES,
    ADVICE_STATUS,
    UNTESTED,
    uses_finite_differences,
)
