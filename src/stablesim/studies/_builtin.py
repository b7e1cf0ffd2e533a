"""The built-in studies of `stablesim run [STUDY]` (importable without JAX).

- `ks` (the default): the unrolling study in small on Kuramoto-Sivashinsky
  (48 points, ds in the study's lists); ONE, NOG and WIG (m = 4) in prediction
  and in sequential correction on the ETD1 solver, several seeds each
  (vmapped); the paper's protocol: ONE trains 5000 updates, NOG and WIG
  fine-tune 5000 more from the trained ONE network of the same setup and
  seed, and ONE is continued for the same 5000 (the matched control).
- `ks-scratch`: the same cells, every one 5000 updates from scratch (the
  regime in which short unrolled training can lose to ONE).
- `ks-unroll`: NOG and WIG in both setups over m = 2, 4, 8, 16, each
  fine-tuning the ONE model trained on the same m-step windows; the report
  plots error and the WIG/NOG gradient ratio and cosine against m.
- `kolmogorov`: the paper's 2D case, Kolmogorov flow (Re 300-900 for
  training, 600 and 1000 for tests; reference 128^2, coarse solver 32^2 with a
  4x larger step); ONE, NOG and WIG in both setups.

Every study's expected wall time on 2 CPU cores is a measurement (the
command and date are in the README); `None` where it was not measured.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._errors import ConfigError
from ._config import StudyConfig

_SETUP_BY_MODALITY = {"simulator.setup": ["prediction", "correction"],
                      "modality.name": ["ONE", "NOG", "WIG"]}


@dataclasses.dataclass(frozen=True)
class BuiltinStudy:
    """A named study that ships with stablesim.

    **Fields:**

    - `name`: what `stablesim run NAME` takes.
    - `summary`: one line for `stablesim run --list`.
    - `study`: the study as a mapping (what a study YAML file would hold).
    - `cpu_minutes`: measured wall time on 2 CPU cores (None: not measured).
    - `gpu_minutes`: measured wall time on one GPU (None: not measured).
    """

    name: str
    summary: str
    study: dict[str, Any]
    cpu_minutes: float | None = None
    gpu_minutes: float | None = None

    def config(self) -> StudyConfig:
        return StudyConfig.model_validate(self.study)

    def expected_time(self) -> str:
        def say(minutes, where):
            return (f"about {math.ceil(minutes)} min on {where}" if minutes is not None
                    else f"not measured on {where}")
        return f"{say(self.cpu_minutes, '2 CPU cores')}, {say(self.gpu_minutes, 'a GPU')}"


BUILTIN_STUDIES: dict[str, BuiltinStudy] = {s.name: s for s in (
    BuiltinStudy(
        "ks", "the unrolling study in small, KS, the paper's protocol (NOG/WIG fine-tune ONE, "
        "ONE continued as the matched control), 5 seeds",
        {"name": "the unrolling study in small (Kuramoto-Sivashinsky, fine-tuning)",
         # 5 seeds: 3 took 6 min 49 s, 5 took 9 min 07 s, 8 took 12 min 23 s (README)
         "config": {"training": {"updates": 5000, "seeds": [0, 1, 2, 3, 4]},
                    "evaluation": {"gradient_unrolls": [1, 2, 4, 8, 16]}},
         "grid": _SETUP_BY_MODALITY,
         "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 5000}},
        cpu_minutes=10.0),
    BuiltinStudy(
        "ks-scratch", "the same cells, each 5000 updates from scratch",
        {"name": "the unrolling study in small (Kuramoto-Sivashinsky, from scratch)",
         "config": {"training": {"updates": 5000, "seeds": [0, 1, 2]},
                    "evaluation": {"gradient_unrolls": [1, 2, 4, 8, 16]}},
         "grid": _SETUP_BY_MODALITY},
        cpu_minutes=9.0),
    BuiltinStudy(
        "ks-unroll", "unroll length m = 2, 4, 8, 16 for NOG and WIG (fine-tuning ONE) in both "
        "setups, KS",
        {"name": "unroll length (Kuramoto-Sivashinsky)",
         "config": {"training": {"updates": 2000, "seeds": [0, 1]},
                    "evaluation": {"gradient_unrolls": [2, 4, 8, 16]}},
         "grid": {"simulator.setup": ["prediction", "correction"],
                  "modality.name": ["ONE", "NOG", "WIG"], "modality.unroll": [2, 4, 8, 16]},
         # From scratch, NOG-correction at m = 8 on KS's diverging solver skipped its
         # first 100 updates (non-finite losses): the unrolled cells fine-tune ONE.
         "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 2000}},
        cpu_minutes=18.0),
    BuiltinStudy(
        "kolmogorov", "the paper's 2D case: Kolmogorov flow, Re as parameter",
        {"name": "the unrolling study on Kolmogorov flow",
         "config": {"system": {"name": "kolmogorov"},
                    "data": {"trajectories_per_value": 2, "frames": 40, "transient": 50},
                    "model": {"architecture": "resnet", "width": 16, "depth": 3},
                    "training": {"updates": 1000, "seeds": [0, 1], "batch_size": 4},
                    "evaluation": {"rollout_steps": 30, "horizon": 12,
                                   "gradient_unrolls": [1, 4]}},
         "grid": _SETUP_BY_MODALITY,
         "fine_tune": {"start_from": {"modality.name": "ONE"}, "updates": 500}},
        cpu_minutes=9.5),
)}
DEFAULT_STUDY_NAME = "ks"
DEFAULT_STUDY = BUILTIN_STUDIES[DEFAULT_STUDY_NAME].study


def builtin_study(name: str = DEFAULT_STUDY_NAME) -> BuiltinStudy:
    """The built-in study called `name` (see the module docstring)."""
    if name not in BUILTIN_STUDIES:
        raise ConfigError(f"no built-in study {name!r}; choose from "
                          f"{', '.join(BUILTIN_STUDIES)} (stablesim run --list)")
    return BUILTIN_STUDIES[name]


def default_study() -> StudyConfig:
    """The built-in default study of `stablesim run` (see the module docstring)."""
    return builtin_study().config()
