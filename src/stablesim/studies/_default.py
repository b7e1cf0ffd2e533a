"""The main job on its built-in default: the unrolling study in small.

Kuramoto-Sivashinsky as in the study (48 points, ds in the study's lists);
ONE, NOG and WIG (m = 4) in prediction and in sequential correction on the
ETD1 solver, two seeds each, 1500 updates; relative error over 12 frames on
the interpolation and extrapolation test domains. The run defaults of
`RunConfig` are chosen for this study, so the study only sets its grid.
"""

from __future__ import annotations

from ._study import StudyConfig

DEFAULT_STUDY = {
    "name": "the unrolling study in small (Kuramoto-Sivashinsky)",
    "grid": {"simulator.setup": ["prediction", "correction"],
             "modality.name": ["ONE", "NOG", "WIG"]},
}


def default_study() -> StudyConfig:
    """The built-in default study of `stablesim run` (see the module docstring)."""
    return StudyConfig.model_validate(DEFAULT_STUDY)
