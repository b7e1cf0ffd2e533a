"""Atomic small-file writes: a temporary file next to the target, then rename."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Write `text` to `path` so that readers see the old file or the new one."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """`atomic_write_text` of `obj` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=1))


def finite_or_none(x: float) -> float | None:
    """`x` as a float, or None (JSON null) where it is not finite."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None
