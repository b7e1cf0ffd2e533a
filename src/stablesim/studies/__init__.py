"""Studies: sweeps over configurations and seeds, tables and reports.

The study schema and the built-in studies import without JAX; the runner and
the report load on first use.
"""

import importlib

from ._builtin import (
    BUILTIN_STUDIES,
    DEFAULT_STUDY,
    DEFAULT_STUDY_NAME,
    BuiltinStudy,
    builtin_study,
    default_study,
)
from ._config import FineTune, StudyConfig

_LAZY = {
    "load_study": "._study", "read_study": "._study", "resolve_study": "._study",
    "run_study": "._runner", "Finding": "._findings", "CellErrors": "._findings",
    "check_findings": "._findings", "findings_paragraph": "._findings",
    "summarize_findings": "._findings",
    "write_results": "._study", "build_report": "._report",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "StudyConfig",
    "FineTune",
    "load_study",
    "run_study",
    "build_report",
    "builtin_study",
    "BUILTIN_STUDIES",
    "DEFAULT_STUDY_NAME",
    "Finding",
]

# Importable, but not the public API (they may change without notice): `read_study`,
# `resolve_study`, `write_results`, `CellErrors`, `check_findings`, `findings_paragraph`,
# `summarize_findings` (lazy, above) and:
_INTERNAL = (default_study, DEFAULT_STUDY, BuiltinStudy)
