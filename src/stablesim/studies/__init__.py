"""Studies: sweeps over configurations and seeds, tables and reports."""

from ._default import run_default_study
from ._ode_zigzag import run_ode_zigzag_study

__all__ = ["run_default_study", "run_ode_zigzag_study"]
