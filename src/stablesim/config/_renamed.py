"""Old config key names: renamed once, here, wherever a config is read."""

from __future__ import annotations

import copy
import sys
from typing import Any

RENAMED_KEYS = {
    "training.steps": "training.updates",
    "modality.warmup": "modality.pushforward",
    "data.warmup": "data.transient",
    "evaluation.steps": "evaluation.rollout_steps",
}
"""Old dotted keys and their names now (one name per concept); the old ones still read."""

_RENAMED_IN_STAGE = {"steps": "updates", "modality.warmup": "modality.pushforward"}
_told: set[str] = set()


def _deprecated(old: str, new: str) -> None:
    if old not in _told:
        _told.add(old)
        print(f"stablesim: config key {old} is now {new} (read as {new}; please rename it)",
              file=sys.stderr)


def current_key(key: str) -> str:
    """The current name of a dotted key (an old name is reported once on stderr)."""
    new = RENAMED_KEYS.get(key)
    if new is None:
        return key
    _deprecated(key, new)
    return new


def _move(node: dict, old: str, new: str, old_key: str, new_key: str) -> None:
    if new in node:
        raise ValueError(f"{new_key}: also given under its old name {old_key}; keep one")
    node[new] = node.pop(old)
    _deprecated(old_key, new_key)


def upgrade_renamed_keys(raw: Any) -> Any:
    """A copy of a raw run config with old key names (`RENAMED_KEYS`) renamed.

    **Arguments:**

    - `raw`: the raw mapping of sections (anything else is returned as is).

    **Returns:**

    The mapping under the current names; each old name is reported once on
    stderr. A key given under both names is a `ValueError`.
    """
    if not isinstance(raw, dict):
        return raw
    out = copy.deepcopy(raw)
    for old_key, new_key in RENAMED_KEYS.items():
        section, old = old_key.split(".")
        node = out.get(section)
        if isinstance(node, dict) and old in node:
            _move(node, old, new_key.split(".")[1], old_key, new_key)
    training = out.get("training")
    curriculum = training.get("curriculum") if isinstance(training, dict) else None
    for i, stage in enumerate(curriculum if isinstance(curriculum, list) else []):
        for old_key, new_key in _RENAMED_IN_STAGE.items():
            *path, old = old_key.split(".")
            node = stage.get(path[0]) if path and isinstance(stage, dict) else stage
            if isinstance(node, dict) and old in node:
                where = f"training.curriculum[{i}]."
                _move(node, old, new_key.split(".")[-1], where + old_key, where + new_key)
    return out
