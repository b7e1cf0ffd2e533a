"""The names of the choices a user makes, importable without JAX.

The command line and the config schema need these to parse and to print
`--help` quickly; the modules that implement the choices import them from
here (architectures, initializers) or are checked against them in the tests
(systems, integrators).
"""

from __future__ import annotations

import typing

ARCHITECTURES = ("conv", "resnet", "dilated_resnet", "unet", "fno", "mlp", "linear",
                 "pdeqx_conv", "pdeqx_resnet")
VARIANCE_SCALING_INITIALIZERS = ("he", "glorot", "lecun", "orthogonal")
STABLE_INITIALIZERS = ("gershgorin_rows", "gershgorin", "dissipative")
INITIALIZERS = ("default", "zeros", "small", *VARIANCE_SCALING_INITIALIZERS,
                *STABLE_INITIALIZERS)
INTEGRATOR_NAMES = ("euler", "heun", "midpoint", "ralston", "rk4", "ab2", "ab3", "leapfrog",
                    "nystrom3")


class SystemFacts(typing.NamedTuple):
    """What a config check needs to know of a built-in system."""

    class_name: str
    parameter: str
    low: float
    high: float
    train_values: tuple[float, ...] = ()
    interpolation_values: tuple[float, ...] = ()
    extrapolation_values: tuple[float, ...] = ()
    validation_values: tuple[float, ...] = ()


SYSTEMS = {
    "ks": SystemFacts("KuramotoSivashinsky", "ds", 4.0, 16.0, (7.2, 7.6, 8.0, 8.8, 9.6, 10.4),
                      (9.2, 7.44), (11.2, 6.8), (8.4, 10.0)),
    "burgers": SystemFacts("Burgers", "nu", 0.005, 0.5, (0.02, 0.03, 0.04, 0.05), (0.035,),
                           (0.015, 0.06), (0.025, 0.045)),
    "kolmogorov": SystemFacts("KolmogorovFlow", "Re", 10.0, 5000.0,
                              (300.0, 400.0, 500.0, 700.0, 800.0, 900.0), (600.0,), (1000.0,),
                              (450.0, 750.0)),
}
SYSTEM_NAMES = tuple(SYSTEMS)
