"""Studies: sweeps over configurations and seeds, tables and reports."""

from ._default import DEFAULT_STUDY, default_study
from ._ode_zigzag import run_ode_zigzag_study
from ._report import build_report
from ._stability_example import run_stability_study
from ._study import StudyConfig, load_study, read_study, resolve_study, run_study, write_results

__all__ = [
    "StudyConfig", "load_study", "read_study", "resolve_study", "run_study", "build_report",
    "write_results", "default_study", "DEFAULT_STUDY", "run_ode_zigzag_study",
    "run_stability_study",
]
