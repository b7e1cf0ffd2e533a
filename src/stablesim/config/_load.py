"""YAML in, typed configs out: loading, `--set` overrides, one-line errors."""

from __future__ import annotations

import copy
import os
import pathlib
from collections.abc import Sequence
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .._atomic import atomic_write_text
from .._errors import ConfigError
from ._schema import RunConfig

M = TypeVar("M", bound=BaseModel)


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[", "list[", "constrained-")):
            text += f".{part}" if text else str(part)
    return text


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line naming the first problem of a pydantic error by dotted key."""
    first = err.errors()[0]
    key = _location(first["loc"])
    if prefix:
        key = f"{prefix}.{key}" if key else prefix
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        text = f"unknown key {key}"
    elif not key:  # a cross-section check: its message starts with the key
        text = message
    else:
        shown = first.get("input")
        got = ("" if first["type"] == "value_error" or isinstance(shown, dict | list)
               or shown is None else f" (got {shown!r})")
        text = f"{key}: {message}{got}"
    more = len(err.errors()) - 1
    return text + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def validate(model: type[M], raw: Any, *, source: str = "config", prefix: str = "") -> M:
    """Validate a mapping into `model`, turning errors into one `ConfigError` line."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{source}: {describe_validation_error(err, prefix)}") from None


def read_yaml(path: str | os.PathLike) -> Any:
    """Parse a YAML file, with one-line errors for missing or malformed files."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None


def parse_override(text: str) -> tuple[str, Any]:
    """Split `KEY=VALUE` of `--set`; the value is parsed as YAML (`200`, `[1, 2]`, `null`)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE with a dotted key")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: empty key or key part")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, str):  # YAML 1.1 reads 3e-4 as a string
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key, parsed


def set_dotted(raw: dict, key: str, value: Any) -> dict:
    """A copy of `raw` with `a.b.c` set to `value` (intermediate mappings created)."""
    out = copy.deepcopy(raw)
    node = out
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is not a section")
        node = child
    node[parts[-1]] = value
    return out


def apply_overrides(raw: dict | None, overrides: Sequence[str | tuple[str, Any]]) -> dict:
    """Apply `--set` overrides (strings `KEY=VALUE` or pairs) to a raw mapping."""
    out = dict(raw or {})
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        out = set_dotted(out, key, value)
    return out


def load_run_config(path: str | os.PathLike | None = None,
                    overrides: Sequence[str | tuple[str, Any]] = ()) -> RunConfig:
    """Read a run config (None: the built-in default) and apply `--set` overrides.

    **Arguments:**

    - `path`: a YAML file, or None for the defaults.
    - `overrides`: `KEY=VALUE` strings or `(key, value)` pairs.

    **Returns:**

    The validated `RunConfig`. Every problem is a one-line `ConfigError`
    naming the file and the dotted key.
    """
    raw = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    return validate(RunConfig, apply_overrides(raw or {}, overrides), source=source)


def to_yaml(config: BaseModel) -> str:
    """The YAML text of a config (every field, resolved)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def write_yaml(config: BaseModel, path: str | os.PathLike) -> pathlib.Path:
    """Write a config as YAML atomically (temporary file, then rename)."""
    return atomic_write_text(path, to_yaml(config))
