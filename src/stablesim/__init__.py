"""stablesim: neural simulators whose long rollouts stay accurate and stable."""

import importlib.metadata

from . import systems
from ._errors import ConfigError, DataError, StablesimError, TrainingError

__version__ = importlib.metadata.version("stablesim")

__all__ = ["systems", "StablesimError", "ConfigError", "DataError", "TrainingError", "__version__"]
