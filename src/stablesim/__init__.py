"""stablesim: neural simulators whose long rollouts stay accurate and stable.

Subpackages (imported on first use, so the command line starts quickly):
`systems`, `data`, `models`, `simulators`, `training`, `evaluation`,
`stability`, `ode`, `runs`, `studies`, `config`.
"""

import importlib
import importlib.metadata

from ._errors import ConfigError, DataError, StablesimError, TrainingError

__version__ = importlib.metadata.version("stablesim")

_SUBPACKAGES = ("systems", "data", "models", "simulators", "training", "evaluation",
                "stability", "ode", "runs", "studies", "config", "reporting")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'stablesim' has no attribute {name!r}")


__all__ = ["systems", "StablesimError", "ConfigError", "DataError", "TrainingError", "__version__"]
