"""Which fixes `stabilize` tries, and how it ranks what they measured (the policy).

The candidates: the control (more training, no change), the projection onto
the data subspace where some directions carry no data energy, the band
filter, input noise at multiples of the horizon-aware recommended level (in
the units the run trains in), and unrolled training; then, while none is
stable within the tolerance, combinations (a leaky candidate with the band
filter, the projection fine-tuned with it on and the weakest noise). The
ranking: no divergence first, then the error where a reference exists, within
a tolerance of the run as trained. (A contracting residual,
`simulator.contraction`, was measured as a candidate and never won; it is a
config key, not offered: README, "Making a run stable".)
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
from typing import Any

import numpy as np

from ..config import RunConfig, changed, validate
from ..data import Normalization, TrajectoryDataset
from ..evaluation import DataStatistics
from ..stability import energy_spectrum, recommend_noise, spectrum_frames
from ._build import data_energy
from ._long_physics import data_statistics
from ._solver_build import correction_on_host

NOISE_FACTORS = (1.0, 3.0, 10.0, 30.0, 100.0)
"""Noise candidates: these multiples of the horizon-aware recommended sigma."""


@dataclasses.dataclass(frozen=True)
class Fix:
    """One candidate: a name, the config changes (dotted key -> value) and why.

    **Fields:**

    - `name`: short label for tables.
    - `changes`: dotted config keys and their new values.
    - `reason`: what it is meant to do, in one sentence.
    - `trains`: whether it fine-tunes (False: the trained weights with the
        change applied, e.g. a projection).
    """

    name: str
    changes: dict[str, Any]
    reason: str
    trains: bool = True


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The measured effect of a model on long rollouts and short-horizon error.

    **Fields:**

    - `name`: the fix's name ("as trained" for the run itself).
    - `changes`: its config changes.
    - `divergence_steps`: `(seeds, cases)` first divergence step over all
        validation set (`horizon + 1`: never).
    - `errors`: per measured set, the relative error at `evaluation.horizon`
        frames (mean over cases, then seeds).
    - `horizon`: the long-rollout horizon.
    - `updates`: fine-tuning updates (0 for the run itself).
    - `unphysical`: rollouts that stayed bounded but whose late statistics
        left the data's (`stablesim.evaluation.physical_verdict`).
    - `unphysical_reason`: the first such rollout's reason.
    """

    name: str
    changes: dict[str, Any]
    divergence_steps: np.ndarray
    errors: dict[str, float]
    horizon: int
    updates: int
    unphysical: int = 0
    unphysical_reason: str | None = None

    @property
    def diverged(self) -> int:
        return int((self.divergence_steps <= self.horizon).sum())

    @property
    def rollouts(self) -> int:
        return int(self.divergence_steps.size)

    @property
    def stable(self) -> bool:
        """Stable in the physical sense: no rollout diverges, none is bounded but unphysical."""
        return self.diverged == 0 and self.unphysical == 0

    @property
    def first_divergence(self) -> int | None:
        return int(self.divergence_steps.min()) if self.diverged else None

    @property
    def mean_error(self) -> float:
        return float(np.mean(list(self.errors.values())))

    def within(self, before: Outcome, tolerance: float) -> bool:
        """Error at most `1 + tolerance` times `before`'s on every measured set."""
        return all(self.errors[k] <= (1 + tolerance) * before.errors[k] for k in before.errors)

    def as_dict(self) -> dict:
        return {"name": self.name, "changes": self.changes, "updates": self.updates,
                "horizon": self.horizon, "diverged": self.diverged, "rollouts": self.rollouts,
                "first_divergence": self.first_divergence,
                "median_divergence_step": float(np.median(self.divergence_steps)),
                "unphysical": self.unphysical, "unphysical_reason": self.unphysical_reason,
                "errors": self.errors}


def candidate_fixes(config: RunConfig, train: TrajectoryDataset, *,
                    tolerated_bias: float = 0.05,
                    normalization: Normalization | None = None,
                    noise_floor: float = 0.0,
                    statistics: DataStatistics | None = None) -> list[Fix]:
    """The fixes worth measuring for a run, none of which it already uses.

    **Arguments:**

    - `config`: the trained run's config.
    - `train`: its training set (energy spectrum, window length).
    - `tolerated_bias`: the compounded noise bias at `evaluation.horizon`
        that the base noise level allows (`recommend_noise`).
    - `normalization`: the run's, if it normalizes: noise levels are then in
        its units (the units the input noise is added in).
    - `noise_floor`: where the noise ladder starts at the least (the model's
        measured one-step error, `one_step_error`): noise far below the error
        the model already makes on its own inputs changes nothing, so no rung
        is a no-op.
    - `statistics`: the training data's (`data_statistics`; computed if None).

    **Returns:**

    The candidates, the control ("more training", no change) first.
    """
    fixes = [Fix("more training", {}, "the same config trained longer: the control")]
    sample = train.sampled()
    energy = data_energy(train, sample)  # the states' directions: what a projection keeps
    noisy = energy if normalization is None else energy_spectrum(  # the noise's units
        normalization.trajectories(spectrum_frames(sample)), fourier=False)
    if energy.unlearnable_dimension and not config.simulator.projection:
        fixes.append(Fix("projection", {"simulator.projection": True},
                         f"{energy.unlearnable_dimension} of {energy.num_features} directions "
                         "have no data energy; the trained weights, every step projected onto "
                         "the data subspace", trains=False))
    statistics = statistics or data_statistics(train)
    if _has_empty_bands(train, statistics) and not config.simulator.band_filter:
        fixes.append(Fix("band filter", {"simulator.band_filter": True},
                         "the Fourier bands without data energy zeroed after every step: the "
                         "trained weights, no training", trains=False))
    if not config.simulator.energy_cap:
        fixes.append(Fix("energy cap", {"simulator.energy_cap": True},
                         "every state scaled back onto the largest energy of the training "
                         "data: the trained weights, no training", trains=False))
    modality = _final_modality(config)
    sigma = recommend_noise(noisy.energies, tolerated_bias=tolerated_bias, rank=noisy.rank,
                            horizon=config.evaluation.horizon)
    base, why = (sigma, f"the sigma whose bias compounded over {config.evaluation.horizon} "
                        f"steps is {tolerated_bias:.0%}")
    if noise_floor > sigma:
        base, why = noise_floor, "the model's one-step error (less noise changes nothing)"
    for factor in NOISE_FACTORS:
        value = float(f"{factor * base:.3g}")
        if value > modality["noise"]:
            fixes.append(Fix(f"noise {value:g}", {"modality.noise": value},
                             f"{factor:g}x {why}: damps every direction, most those without "
                             "data"))
    unroll = 2 * modality["unroll"] if modality["name"] != "ONE" else 8
    if modality["pushforward"] + unroll + 1 <= train.num_frames:
        host = correction_on_host(config, train)
        name = "NOG" if modality["name"] in ("ONE", "NOG") or host else "WIG"
        fixes.append(Fix(f"{name} m={unroll}", {"modality.name": name, "modality.unroll": unroll},
                         "unrolled training sees its own rollout errors"))
    return fixes


def _has_empty_bands(train: TrajectoryDataset, statistics: DataStatistics) -> bool:
    """Whether the data are periodic fields with Fourier bands (almost) without energy."""
    periodic_fields = len(train.state_shape) > 1 and set(train.boundary) == {"periodic"}
    return periodic_fields and bool(statistics.empty_bands.any())


def _final_modality(config: RunConfig) -> dict:
    return config.stages[-1].modality.model_dump(mode="json")


def with_changes(config: RunConfig, fix: Fix) -> RunConfig:
    """`config` with the fix's changes applied and validated (no training changes)."""
    return changed(config, fix.changes, source=f"fix {fix.name!r}")


def fine_tune_config(config: RunConfig, source: str | os.PathLike, fix: Fix,
                     updates: int, learning_rate: float) -> RunConfig:
    """The config of a fine-tune of `source` with `fix` applied (curriculum: its last stage),
    at a constant learning rate; without training (`fix.trains` False) the source's config
    with the change (`with_changes`)."""
    if not fix.trains:
        return with_changes(config, fix)
    raw = config.model_dump(mode="json")
    raw["modality"] = _final_modality(config)
    raw["training"].pop("curriculum", None)
    raw["training"]["updates"] = int(updates)
    raw["training"]["ramp"] = 0
    raw["training"]["learning_rate"] = float(learning_rate)
    raw["training"]["schedule"] = "constant"
    # log and checkpoint at a divisor of 100 that divides the updates
    raw["training"]["checkpoint_every"] = raw["training"]["log_every"] = math.gcd(updates, 100)
    raw["model"]["init_from"] = str(pathlib.Path(source).resolve())
    return with_changes(validate(RunConfig, raw, source=f"fix {fix.name!r}"), fix)


def choose(before: Outcome, outcomes: list[Outcome], tolerance: float) -> Outcome | None:
    """The best verified fix: stable on every rollout, error within the tolerance if any is,
    then the smallest mean error (None: no candidate is stable)."""
    stable = [o for o in outcomes if o.stable]
    within = [o for o in stable if o.within(before, tolerance)]
    pool = within or stable
    return min(pool, key=lambda o: o.mean_error) if pool else None


def combined_fix(before: Outcome, outcomes: list[Outcome], tolerance: float, *,
                 band_filter_offered: bool) -> Fix | None:
    """The most accurate bounded candidate whose only fault is energy in empty bands, with
    the band filter added (fine-tuned with both), while no candidate is stable within the
    tolerance; None otherwise.

    Noise or unrolling can stop divergence yet leak energy into bands the data lack; the
    filter removes exactly that, and fine-tuning with it on lets the network adapt.
    """
    if not band_filter_offered:
        return None
    return _with_remedy(before, outcomes, tolerance, "bands where the data have none",
                        "simulator.band_filter", "band filter", "leaked energy into bands the "
                        "data lack; the same with those bands zeroed after every step, "
                        "fine-tuned with the filter on", always_trains=True)


def capped_fix(before: Outcome, outcomes: list[Outcome], tolerance: float) -> Fix | None:
    """The most accurate bounded candidate whose only fault is its energy (rms above the
    rule), with the energy cap added, while no candidate is stable within the tolerance;
    None otherwise. It fine-tunes only where that candidate did.

    A model that gains a little energy per step stays bounded and accurate over the
    horizon yet drifts past the data's energy over long rollouts (KdV: 1.5x); the cap
    (`simulator.energy_cap`) scales each state back onto the data's largest energy and
    leaves states inside it untouched.
    """
    return _with_remedy(before, outcomes, tolerance, "rms ", "simulator.energy_cap",
                        "energy cap", "drifted above the data's energy; the same with every "
                        "state scaled back onto the largest energy of the training data")


def _with_remedy(before: Outcome, outcomes: list[Outcome], tolerance: float, fault: str,
                 key: str, label: str, why: str, *, always_trains: bool = False) -> Fix | None:
    """The most accurate bounded candidate whose one fault names `fault`, with `key` on."""
    if any(o.stable and o.within(before, tolerance) for o in outcomes):
        return None
    faulty = [o for o in outcomes if o.diverged == 0 and o.unphysical and o.changes
              and fault in (o.unphysical_reason or "") and key not in o.changes
              and not (o.unphysical_reason or "").count(";")]  # that fault its only one
    if not faulty:
        return None
    best = min(faulty, key=lambda o: o.mean_error)
    return Fix(f"{best.name} + {label}", {**best.changes, key: True}, f"{best.name} stayed "
               f"bounded but {why}", trains=always_trains or best.updates > 0)


def projected_fine_tune(before: Outcome, outcomes: list[Outcome], tolerance: float
                        ) -> Fix | None:
    """The projection fine-tuned with it on and with the weakest noise of the ladder, when
    the projection alone (no training) was measured and is not stable while no candidate is
    stable within the tolerance; else None.

    The projection removes the directions without data energy, but the dynamics learned
    inside the data subspace may still grow slowly (a truth on the unit circle leaves no
    margin). Trained with every step projected, the network fits the map it will run as;
    the noise (the horizon-aware level: at most 5% bias over the horizon) damps the
    directions inside the subspace, which the projection alone cannot.
    """
    if any(o.stable and o.within(before, tolerance) for o in outcomes):
        return None
    alone = [o for o in outcomes if o.changes == {"simulator.projection": True}
             and o.updates == 0]
    if not alone or alone[0].stable:
        return None
    noises = [o.changes["modality.noise"] for o in outcomes
              if list(o.changes) == ["modality.noise"]]
    changes: dict[str, Any] = {"simulator.projection": True}
    name = "projection + fine-tuning"
    if noises:
        changes["modality.noise"] = min(noises)
        name = f"projection + noise {min(noises):g}"
    return Fix(name, changes,
               "the projection alone did not stop every divergence; fine-tuned with every step "
               "projected (the dynamics inside the data subspace trained as they run) and the "
               "weakest noise (damping inside the subspace)")


def refined_noise(outcomes: list[Outcome], before: Outcome, tolerance: float) -> Fix | None:
    """The next noise level to try, or None when a candidate already meets the tolerance.

    Noise trades stability (damping) for bias: between the strongest noise
    that still diverges and the weakest that stays bounded (stable but too
    biased, or bounded but unphysical: a remedy such as the band filter is
    added to that afterwards, `combined_fix`) lies the best compromise; the
    geometric mean of the two is tried next.
    """
    if any(o.stable and o.within(before, tolerance) for o in outcomes):
        return None
    noisy = [(o.changes["modality.noise"], o) for o in outcomes
             if list(o.changes) == ["modality.noise"]]
    bounded = [v for v, o in noisy if o.diverged == 0]
    if not bounded:
        return None
    hi = min(bounded)
    below = [v for v, o in noisy if o.diverged and v < hi]
    if not below:
        return None
    value = float(f"{np.sqrt(max(below) * hi):.3g}")
    if value in [v for v, _ in noisy]:
        return None
    return Fix(f"noise {value:g}", {"modality.noise": value},
               f"between {max(below):g} (diverges) and {hi:g} (bounded, error "
               f"{dict(noisy)[hi].mean_error / before.mean_error:.2f}x before)")


def ranked(before: Outcome, outcomes: list[Outcome], tolerance: float) -> list[Outcome]:
    """Best first: stable within the tolerance, stable, fewest divergences; then smallest error."""
    return sorted(outcomes, key=lambda o: (not (o.stable and o.within(before, tolerance)),
                                           not o.stable, o.diverged, o.mean_error))
