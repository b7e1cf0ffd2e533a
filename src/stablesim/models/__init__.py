"""Network architectures (PDEquinox and Equinox) and initializers by name."""

from .._options import INITIALIZERS, STABLE_INITIALIZERS
from ._fast_conv import FastConvNet, FastResNet, PeriodicConv
from ._initializers import (
    dissipative_weights,
    gershgorin_weights,
    initial_weights,
    initialize,
)
from ._networks import (
    ARCHITECTURES,
    ParametricNetwork,
    count_parameters,
    make_network,
    normalized_network,
    with_float_dtype,
)
from ._user_network import user_network

__all__ = [
    "FastConvNet", "FastResNet", "PeriodicConv", "ARCHITECTURES", "ParametricNetwork",
    "count_parameters", "make_network", "normalized_network", "with_float_dtype", "user_network",
    "INITIALIZERS",
    "STABLE_INITIALIZERS", "initialize", "initial_weights",
    "gershgorin_weights", "dissipative_weights",
]
