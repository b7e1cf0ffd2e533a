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


SYSTEMS = {
    "ks": SystemFacts("KuramotoSivashinsky", "ds", 4.0, 16.0),
    "burgers": SystemFacts("Burgers", "nu", 0.005, 0.5),
    "kolmogorov": SystemFacts("KolmogorovFlow", "Re", 10.0, 5000.0),
}
SYSTEM_NAMES = tuple(SYSTEMS)
