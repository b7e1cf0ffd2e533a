"""YAML in, typed configs out: loading, `--set` overrides, one-line errors."""

from __future__ import annotations

import copy
import difflib
import os
import pathlib
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .._atomic import atomic_write_text
from .._errors import ConfigError
from ._renamed import RENAMED_KEYS
from ._schema import RunConfig, check_lengths

M = TypeVar("M", bound=BaseModel)


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[", "list[", "constrained-")):
            text += f".{part}" if text else str(part)
    return text


def _known_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The field names of the section that holds the key at `loc`."""
    node: Any = model
    for part in list(loc)[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(node, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        args = [a for a in typing.get_args(annotation) if isinstance(a, type)]
        candidates = [annotation] + args
        node = next((c for c in candidates if isinstance(c, type)
                     and issubclass(c, BaseModel)), None)
        if node is None:
            return []
    return list(getattr(node, "model_fields", {}))


def _names_a_field(message: str) -> bool:
    head = message.split(":", 1)[0]
    return ":" in message and head.isidentifier()


def error_key(err: ValidationError) -> str:
    """The dotted key of the first problem of a pydantic error ('' if cross-section)."""
    first = err.errors()[0]
    key = _location(first["loc"])
    if first["type"] == "value_error":
        message = first["msg"].removeprefix("Value error, ")
        head = message.split(":", 1)[0]
        if not key and " " not in head:
            key = head
        elif key and _names_a_field(message):
            key = f"{key}.{head}"
    return key


def describe_validation_error(err: ValidationError, prefix: str = "",
                              model: type[BaseModel] | None = None) -> str:
    """One line naming the first problem of a pydantic error by dotted key."""
    first = err.errors()[0]
    key = _location(first["loc"])
    if prefix:
        key = f"{prefix}.{key}" if key else prefix
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        text = f"unknown key {key}"
        if model is not None:
            name = str(first["loc"][-1])
            section = _location(first["loc"][:-1])
            old_names = {old.rsplit(".", 1)[1]: new.rsplit(".", 1)[1]
                         for old, new in RENAMED_KEYS.items() if old.rsplit(".", 1)[0] == section}
            close = difflib.get_close_matches(
                name, _known_keys(model, first["loc"]) + list(old_names), n=1)
            close = [old_names.get(c, c) for c in close]  # a typo of an old name: the new one
            if close:
                text += f" (did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?)"
    elif not key:  # a cross-section check: its message starts with the key
        text = message
    elif first["type"] == "value_error" and _names_a_field(message):
        # a section's own check: "field: problem" becomes "section.field: problem"
        text = f"{key}.{message}"
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
        raise ConfigError(f"{source}: {describe_validation_error(err, prefix, model)}") from None


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


def check_against_data(config: RunConfig, source: str = "config") -> None:
    """Check a config against its data file without loading the trajectories.

    Windows (`modality.pushforward` + `unroll` + 1) and the rollout
    (`evaluation.rollout_steps` + 1) must fit in the file's trajectories; with
    several physical parameters, `data.split_parameter` must say which one
    the split values refer to. Raises a one-line `ConfigError` naming the key.
    """
    d = config.data
    if d.file is None:
        return
    from .._errors import DataError
    from .._file_formats import peek_dataset

    try:
        peeked = peek_dataset(d.file, d.format, d.fields)
    except DataError as err:
        raise ConfigError(f"{source}: data.file: {err}") from None
    shape, names = peeked.shape, peeked.parameter_names
    try:
        check_lengths(config, shape[1], d.file)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    if d.test_trajectories is not None:
        if d.test_trajectories >= shape[0]:
            raise ConfigError(f"{source}: data.test_trajectories: {d.test_trajectories} of the "
                              f"{shape[0]} trajectories of {d.file} would leave none to train on")
        return
    if config.system.name is None and d.train_values is None:
        if "train" not in peeked.splits:
            raise ConfigError(f"{source}: data.train_values: needed to split {d.file} (it carries "
                              "no train/valid/test split of its own); or hold out trajectories "
                              "with data.test_trajectories")
        return
    try:
        split_parameter_column(d.split_parameter, names, d.file)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def split_parameter_column(which: str | int | None, names: Sequence[str], where: str) -> int:
    """The column `data.split_parameter` names among a dataset's parameter `names`.

    **Arguments:**

    - `which`: a parameter name, a column index, or None (only one parameter).
    - `names`: the dataset's parameter names.
    - `where`: how to name the dataset in errors.

    **Returns:**

    The column index; a one-line `ConfigError` naming the key otherwise.
    """
    if which is None:
        if len(names) > 1:
            raise ConfigError(f"data.split_parameter: {where} has {len(names)} parameters "
                              f"({', '.join(names)}); say which one the split values refer to")
        return 0
    if isinstance(which, int):
        if not 0 <= which < len(names):
            raise ConfigError(f"data.split_parameter: column {which} does not exist ({where} "
                              f"has {len(names)} parameters)")
        return which
    if which not in names:
        raise ConfigError(f"data.split_parameter: {which!r} is not a parameter of {where} "
                          f"(it has: {', '.join(names) or 'none'})")
    return list(names).index(which)


def to_yaml(config: BaseModel) -> str:
    """The YAML text of a config (every field, resolved)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def to_commented_yaml(config: BaseModel) -> str:
    """The YAML of a config with each key's description as a comment (for `config show`).

    Parses back to the same mapping as `to_yaml`.
    """
    lines: list[str] = []
    for section in type(config).model_fields:
        value = getattr(config, section)
        doc = (type(value).__doc__ or "").strip().splitlines()[0] if isinstance(
            value, BaseModel) else ""
        lines.append(f"{section}:" + (f"  # {doc}" if doc else ""))
        for key, field in type(value).model_fields.items():
            dumped = yaml.safe_dump({key: getattr(value, key)} if not isinstance(
                getattr(value, key), BaseModel | list) else
                {key: value.model_dump(mode="json")[key]}, sort_keys=False,
                default_flow_style=True, width=10**6).strip()
            text = dumped[1:-1] if dumped.startswith("{") else dumped
            comment = f"  # {field.description}" if field.description else ""
            lines.append(f"  {text}{comment}")
    return "\n".join(lines) + "\n"


def write_yaml(config: BaseModel, path: str | os.PathLike) -> pathlib.Path:
    """Write a config as YAML atomically (temporary file, then rename)."""
    return atomic_write_text(path, to_yaml(config))
