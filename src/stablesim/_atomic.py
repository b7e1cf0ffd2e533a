"""Atomic file writes: a temporary file next to the target, flushed, then renamed.

Readers see the old file or the new one, never a half-written one. Files get
the permissions the user's umask allows (0644 under the usual 022), not the
0600 of `tempfile.mkstemp`, so colleagues on a shared machine can read them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
import typing
from collections.abc import Iterator
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A temporary path to write to; on success it replaces `path` atomically.

    **Arguments:**

    - `path`: the target file (its folder is created).

    **Returns:**

    A context manager yielding the temporary path. If the block raises, the
    target is untouched and the temporary file removed.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield pathlib.Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
    """Write `data` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return pathlib.Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Write `text` (UTF-8) to `path` atomically (see `atomic_path`)."""
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """`atomic_write_text` of `obj` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=1))


def finite_or_none(x: typing.SupportsFloat) -> float | None:
    """`x` as a float, or None (JSON null) where it is not finite."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None
