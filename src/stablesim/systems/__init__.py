"""Built-in dynamical systems: reference and coarse steppers, initial conditions."""

from collections.abc import Callable

from ._base import System
from ._burgers import Burgers
from ._kolmogorov import KolmogorovFlow
from ._ks import KuramotoSivashinsky
from ._linear import LinearSystem

SYSTEMS: dict[str, Callable[..., System]] = {
    "ks": KuramotoSivashinsky,
    "burgers": Burgers,
    "kolmogorov": KolmogorovFlow,
}

__all__ = ["System", "KuramotoSivashinsky", "Burgers", "KolmogorovFlow", "LinearSystem", "SYSTEMS"]
