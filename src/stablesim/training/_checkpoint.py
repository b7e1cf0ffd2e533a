"""Checkpoint files: a JSON header plus the arrays of a PyTree, written atomically."""

from __future__ import annotations

import io
import json
import os
import pathlib
import struct
import tempfile
from typing import Any

import equinox as eqx

from .._errors import DataError

_MAGIC = b"STABLESIM-CHECKPOINT 1\n"


def save_checkpoint(path: str | os.PathLike, header: dict[str, Any], tree: Any) -> pathlib.Path:
    """Write `header` (JSON) and the arrays of `tree` to `path` atomically.

    The file is written next to the target, flushed to disk, then renamed
    over it: an interruption leaves either the old file or the new one.

    **Arguments:**

    - `path`: target file.
    - `header`: JSON-serialisable metadata (step, config, ...).
    - `tree`: a PyTree of arrays (model, optimizer state, keys, ...).

    **Returns:**

    The path written.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree)
    head = json.dumps(header).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(struct.pack("<Q", len(head)))
            f.write(head)
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _open(path: pathlib.Path):
    if not path.exists():
        raise DataError(f"{path}: no checkpoint file")
    f = open(path, "rb")
    if f.read(len(_MAGIC)) != _MAGIC:
        f.close()
        raise DataError(f"{path}: not a stablesim checkpoint")
    (size,) = struct.unpack("<Q", f.read(8))
    try:
        header = json.loads(f.read(size))
    except json.JSONDecodeError:
        f.close()
        raise DataError(f"{path}: corrupt checkpoint header") from None
    return f, header


def read_checkpoint_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a checkpoint, without reading its arrays."""
    f, header = _open(pathlib.Path(path))
    f.close()
    return header


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[dict[str, Any], Any]:
    """Read a checkpoint into a PyTree shaped like `like`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes.

    **Returns:**

    `(header, tree)`.
    """
    path = pathlib.Path(path)
    f, header = _open(path)
    with f:
        try:
            tree = eqx.tree_deserialise_leaves(f, like)
        except Exception as err:  # structure or shape mismatch
            raise DataError(f"{path}: checkpoint does not match the model ({err})") from None
    return header, tree
