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
    "make_network",
    "ParametricNetwork",
    "FastConvNet",
    "FastResNet",
    "PeriodicConv",
    "ARCHITECTURES",
    "INITIALIZERS",
    "initialize",
    "count_parameters",
]

# Used by other stablesim packages; importable, but not the public API (they may
# change without notice).
_INTERNAL = (
    normalized_network,
    with_float_dtype,
    user_network,
    STABLE_INITIALIZERS,
    initial_weights,
    gershgorin_weights,
    dissipative_weights,
)
