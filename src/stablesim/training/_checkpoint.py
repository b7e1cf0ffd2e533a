"""Checkpoint files: a JSON header plus the arrays of a PyTree, written atomically.

Layout: a magic line, the header length (8 bytes), the JSON header, then the
serialised arrays. The header records the payload's size and SHA-256, so a
truncated or damaged file is recognised before anything is resumed from it.
Each save keeps the file it replaces as `<name>.prev` (one step of history to
recover from if the newest file is damaged on disk).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import struct
from typing import Any

import equinox as eqx

from .._atomic import atomic_write_bytes
from .._errors import DataError

_MAGIC = b"STABLESIM-CHECKPOINT 1\n"
FORMAT = 2


def previous_path(path: str | os.PathLike) -> pathlib.Path:
    """Where the checkpoint replaced by the last save is kept (`RunDir.previous_checkpoint`
    for a run's checkpoint)."""
    path = pathlib.Path(path)
    return path.with_name(path.name + ".prev")


def save_checkpoint(path: str | os.PathLike, header: dict[str, Any], tree: Any) -> pathlib.Path:
    """Write `header` (JSON) and the arrays of `tree` to `path` atomically.

    The file is written next to the target, flushed to disk, then renamed
    over it: an interruption leaves either the old file or the new one. The
    old file stays available as `previous_path(path)`.

    **Arguments:**

    - `path`: target file.
    - `header`: JSON-serialisable metadata (step, config, ...).
    - `tree`: a PyTree of arrays (model, optimizer state, keys, ...).

    **Returns:**

    The path written.
    """
    path = pathlib.Path(path)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree)
    payload = buffer.getvalue()
    header = dict(header, format=FORMAT, payload_bytes=len(payload),
                  payload_sha256=hashlib.sha256(payload).hexdigest())
    head = json.dumps(header).encode()
    if path.exists():
        prev = previous_path(path)
        tmp_link = prev.with_name(prev.name + ".link")
        if tmp_link.exists():
            tmp_link.unlink()
        os.link(path, tmp_link)
        os.replace(tmp_link, prev)
    return atomic_write_bytes(path, _MAGIC + struct.pack("<Q", len(head)) + head + payload)


def _damaged(path: pathlib.Path, why: str) -> DataError:
    prev = previous_path(path)
    hint = (f"; the one before it is kept: `mv {prev} {path}` restores it"
            if prev.exists() else "; delete the run directory and train again")
    return DataError(f"{path}: damaged checkpoint ({why}){hint}")


def _open(path: pathlib.Path):
    if not path.exists():
        raise DataError(f"{path}: no checkpoint file")
    f = open(path, "rb")
    try:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise DataError(f"{path}: not a stablesim checkpoint")
        raw = f.read(8)
        if len(raw) != 8:
            raise _damaged(path, "truncated header")
        (size,) = struct.unpack("<Q", raw)
        text = f.read(size)
        try:
            header = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _damaged(path, "truncated" if len(text) < size else "corrupt header") from None
        expected = header.get("payload_bytes")
        if expected is not None:
            actual = path.stat().st_size - len(_MAGIC) - 8 - size
            if actual != expected:
                raise _damaged(path, f"truncated: {actual} of {expected} payload bytes")
    except BaseException:
        f.close()
        raise
    return f, header


def _verified(path: pathlib.Path) -> tuple[dict[str, Any], bytes]:
    """Header and payload of a checkpoint whose payload matches its checksum."""
    f, header = _open(path)
    with f:
        payload = f.read()
    digest = header.get("payload_sha256")
    if digest is not None and hashlib.sha256(payload).hexdigest() != digest:
        raise _damaged(path, "checksum mismatch")
    return header, payload


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], bytes]:
    """`(header, arrays as bytes)` of a checkpoint, its checksum verified: one read."""
    return _verified(pathlib.Path(path))


def load_checkpoint_payload(path: str | os.PathLike, payload: bytes, like: Any) -> Any:
    """The arrays of a checkpoint read by `read_checkpoint`, as a PyTree shaped like `like`."""
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    except Exception as err:  # structure or shape mismatch
        raise DataError(f"{path}: checkpoint does not match the model ({err})") from None


def read_checkpoint_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a checkpoint, without reading its arrays (sizes checked)."""
    f, header = _open(pathlib.Path(path))
    f.close()
    return header


def load_checkpoint(path: str | os.PathLike, like: Any) -> tuple[dict[str, Any], Any]:
    """Read a checkpoint into a PyTree shaped like `like`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a PyTree with the same structure, shapes and dtypes.

    **Returns:**

    `(header, tree)`. A file whose payload fails its checksum raises
    `DataError` saying how to recover.
    """
    header, payload = _verified(pathlib.Path(path))
    return header, load_checkpoint_payload(path, payload, like)


def copy_checkpoint(source: str | os.PathLike, target: str | os.PathLike,
                    **header_changes: Any) -> pathlib.Path:
    """Copy a checkpoint with some header entries replaced (the arrays unchanged, checked).

    **Arguments:**

    - `source`: the checkpoint to copy (its checksum is verified).
    - `target`: the new file (written atomically).
    - `header_changes`: header entries to set, e.g. `run_config=...`.

    **Returns:**

    The path written.
    """
    header, payload = _verified(pathlib.Path(source))
    header = dict(header, **header_changes)
    head = json.dumps(header).encode()
    return atomic_write_bytes(target, _MAGIC + struct.pack("<Q", len(head)) + head + payload)
