"""Studies: sweeps over configurations and seeds, tables and reports."""

from ._default import run_default_study

__all__ = ["run_default_study"]
