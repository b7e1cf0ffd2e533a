"""The main job on its built-in default: the unrolling study in small.

Kuramoto-Sivashinsky as in the study (48 points, ds in the study's lists);
ONE, NOG and WIG (m = 4) in prediction and in sequential correction on the
ETD1 solver, three seeds each (vmapped), 5000 updates; relative error over
12 frames on the interpolation and extrapolation test domains. The other run
settings are `RunConfig`'s defaults. About 9 minutes on 2 CPU cores.
"""

from __future__ import annotations

from ._config import StudyConfig

DEFAULT_STUDY = {
    "name": "the unrolling study in small (Kuramoto-Sivashinsky)",
    "config": {"training": {"updates": 5000, "seeds": [0, 1, 2]},
               "evaluation": {"gradient_unrolls": [1, 2, 4, 8, 16]}},
    "grid": {"simulator.setup": ["prediction", "correction"],
             "modality.name": ["ONE", "NOG", "WIG"]},
}


def default_study() -> StudyConfig:
    """The built-in default study of `stablesim run` (see the module docstring)."""
    return StudyConfig.model_validate(DEFAULT_STUDY)
