"""Network architectures (PDEquinox and Equinox) and initializers by name."""

from ._fast_conv import FastConvNet, FastResNet, PeriodicConv
from ._initializers import INITIALIZERS, initialize
from ._networks import ARCHITECTURES, ParametricNetwork, count_parameters, make_network

__all__ = ["FastConvNet", "FastResNet", "PeriodicConv", "ARCHITECTURES", "INITIALIZERS", "ParametricNetwork", "count_parameters", "initialize", "make_network"]
