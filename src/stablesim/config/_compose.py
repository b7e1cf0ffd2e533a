"""One way to build a run config from its sources: files, a study's sections, grid cells, `--set`.

Every run config is a stack of `Layer`s merged in order (a later layer's keys
win): a run file and its `--set` overrides; a study's base file, its `config:`
section, `--set`, then a grid cell's values; a trained run's config and the
changes of a fix, a tuning variant or an evaluation override. Each layer
upgrades old key names, resolves its relative paths against its own folder,
and a problem in a key of a layer given on the command line is blamed on
`--set KEY`. `compose` is the only place where this happens.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .._errors import ConfigError
from ._load import (
    check_against_data,
    describe_validation_error,
    error_key,
    parse_override,
    read_yaml,
    set_dotted,
)
from ._renamed import current_key, upgrade_renamed_keys
from ._schema import RunConfig

Override = str | tuple[str, Any]
"""`KEY=VALUE` text as `--set` takes it, or a `(dotted key, value)` pair."""


@dataclasses.dataclass(frozen=True)
class Layer:
    """One source of config keys.

    **Fields:**

    - `values`: a mapping of sections (nested, as in a file).
    - `base_dir`: the folder its relative paths resolve against (None: the
        working directory).
    - `command_line`: its keys were given with `--set` (a problem in one of
        them is reported as `--set KEY: ...`).
    """

    values: Mapping[str, Any]
    base_dir: pathlib.Path | None = None
    command_line: bool = False

    @classmethod
    def file(cls, path: str | os.PathLike) -> Layer:
        """A YAML run file (its paths: against its folder)."""
        raw = read_yaml(path)
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
        return cls(raw or {}, pathlib.Path(path).parent)

    @classmethod
    def settings(cls, items: Sequence[Override] | Mapping[str, Any], *,
                 base_dir: str | os.PathLike | None = None, command_line: bool = False) -> Layer:
        """Dotted keys and values: `--set` texts, pairs, or a mapping (nested sections,
        dotted keys, or both, as a study's `config:` section may mix them)."""
        pairs = _flatten(items) if isinstance(items, Mapping) else items
        nested: dict = {}
        for item in pairs:
            key, value = parse_override(item) if isinstance(item, str) else item
            nested = set_dotted(nested, current_key(key), value)
        return cls(nested, None if base_dir is None else pathlib.Path(base_dir), command_line)

    @classmethod
    def of(cls, config: BaseModel) -> Layer:
        """A validated config (its paths are absolute already)."""
        return cls(config.model_dump(mode="json"))

    def keys(self) -> list[str]:
        """The dotted keys it sets."""
        return [key for key, _ in _flatten(self.values)]


def compose(layers: Sequence[Layer], *, source: str = "config",
            check_data: bool = False) -> RunConfig:
    """The `RunConfig` of layers merged in order (see the module's docstring).

    **Arguments:**

    - `layers`: the sources, the last one winning.
    - `source`: what a problem is blamed on (a file, `study: cell NAME`).
    - `check_data`: also check it against its data file (windows and the
        rollout fit in its trajectories, the split parameter exists).

    **Returns:**

    The validated config; every problem is one `ConfigError` line naming the
    dotted key and the file, or `--set KEY`.
    """
    raw: dict = {}
    blamed: list[str] = []
    for layer in layers:
        try:
            values = upgrade_renamed_keys(dict(layer.values))
        except ValueError as err:
            raise ConfigError(f"{source}: {err}") from None
        raw = _merge(raw, resolve_paths(values, layer.base_dir))
        if layer.command_line:
            blamed += layer.keys()
    config = _validate_blaming(raw, source, blamed)
    if check_data:
        check_against_data(config, source)
    return config


def changed(config: RunConfig, changes: Sequence[Override] | Mapping[str, Any], *,
            source: str, command_line: bool = False) -> RunConfig:
    """`config` with dotted-key changes (a fix, a tuning variant, an evaluation override)."""
    return compose([Layer.of(config), Layer.settings(changes, command_line=command_line)],
                   source=source)


def load_run_config(path: str | os.PathLike | dict | None = None,
                    overrides: Sequence[Override] = (), *, check_data: bool = True) -> RunConfig:
    """Read a run config (None: the built-in default) and apply `--set` overrides.

    Relative paths in the file resolve against its folder, those given with
    `--set` against the working directory. A problem in an override is blamed
    on `--set KEY`, one in the file on the file.

    **Arguments:**

    - `path`: a YAML file, a mapping of sections built in Python (its paths
        resolve against the working directory), or None for the defaults.
    - `overrides`: `KEY=VALUE` strings or `(key, value)` pairs.
    - `check_data`: also check the config against its data file (unroll and
        rollout lengths against the trajectories, the split parameter).

    **Returns:**

    The validated `RunConfig`. Every problem is a one-line `ConfigError`
    naming the file (or `--set`) and the dotted key.
    """
    if isinstance(path, dict):
        first, source = Layer(path), "config"
    elif path is None:
        first, source = Layer({}), "config"
    else:
        first, source = Layer.file(path), str(path)
    return compose([first, Layer.settings(overrides, command_line=True)], source=source,
                   check_data=check_data)


def resolve_paths(raw: dict, base_dir: str | os.PathLike | None) -> dict:
    """A copy of a raw run config with its relative paths resolved against `base_dir`.

    One rule for every path a config names (`data.file`, the files of
    `simulator.solver_function` and `model.architecture`, `model.init_from`):
    relative to the folder of the file that names it; given with `--set` on
    the command line, relative to the working directory (`base_dir=None`).
    """
    from .._paths import resolve_data_path, resolve_solver_spec

    out = copy.deepcopy(raw)
    data, sim, model = out.get("data"), out.get("simulator"), out.get("model")
    if isinstance(data, dict) and isinstance(data.get("file"), str):
        data["file"] = resolve_data_path(data["file"], base_dir)
    if isinstance(sim, dict) and isinstance(sim.get("solver_function"), str):
        sim["solver_function"] = resolve_solver_spec(sim["solver_function"], base_dir)
    if isinstance(model, dict) and ":" in str(model.get("architecture", "")):
        model["architecture"] = resolve_solver_spec(model["architecture"], base_dir,
                                                    "model.architecture")
    if isinstance(model, dict) and isinstance(model.get("init_from"), str):
        model["init_from"] = resolve_data_path(model["init_from"], base_dir)
    return out


def _merge(base: dict, top: Mapping) -> dict:
    """`base` with `top`'s keys: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _flatten(raw: Mapping, prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            items += _flatten(value, dotted)
        else:
            items.append((dotted, value))
    return items


def _validate_blaming(raw: dict, source: str, blamed_keys: Sequence[str]) -> RunConfig:
    """Validate; a problem in a key given with `--set` is blamed on `--set KEY`."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        key = error_key(err)
        blamed = next((k for k in blamed_keys
                       if key and (key == k or key.startswith(k + ".") or k.startswith(key + ".")
                                   or k.startswith(key + "["))), None)
        text = describe_validation_error(err, model=RunConfig)
        if not blamed:
            raise ConfigError(f"{source}: {text}") from None
        if text.startswith(f"{blamed}: "):  # the key is named once
            text = text[len(blamed) + 2:]
        elif text.startswith(f"unknown key {blamed}"):
            text = "unknown key" + text[len(f"unknown key {blamed}"):]
        raise ConfigError(f"--set {blamed}: {text}") from None
