"""The command line: thin, over the library.

Every user mistake ends in one line on stderr naming the problem and exit
status 2; no traceback.
"""

from ._commands import format_evaluation
from ._main import _use_compilation_cache, main
from ._parser import build_parser

__all__ = ["main"]

# Importable, but not the public API (tests and `python -m stablesim.cli` use them).
_INTERNAL = (build_parser, format_evaluation, _use_compilation_cache)
