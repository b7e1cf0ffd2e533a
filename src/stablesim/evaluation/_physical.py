"""Is a long rollout physical, not only finite? Its statistics against the data's own.

A rollout that stays bounded can still be wrong in kind: energy in Fourier
bands the data never had, an amplitude several times the true one, values
distributed unlike the data's. Each is measured on the late part of a long
rollout (no reference that long is needed) against statistics of the data:

- `band_energy`: energy per radial Fourier wavenumber band (periodic grids);
  the **empty bands** are those holding less than `EMPTY_BAND_SHARE` of the
  data's energy, and a rollout's **empty-band fraction** is the share of its
  energy there; on other data (vectors, walls, open boundaries) the bands are
  the data's POD modes, and the empty ones everything outside the modes that
  hold at least that share (the directions the projection removes);
- **rms ratio**: the rollout's late root-mean-square value over the largest
  the reference trajectory reaches (only excess is judged: a decaying system's
  truth may fall below the data's range);
- **Wasserstein-1** distance of the late values from the data's values, in
  units of the data's standard deviation (The Well's W1, via SciPy).

`physical_verdict` turns them into "diverges", "bounded but unphysical"
(naming the statistic) or "stable", with the tolerances of `PhysicalTolerances`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

EMPTY_BAND_SHARE = 1e-6
"""A band holding less than this share of the data's energy counts as empty."""

MAX_POD_FEATURES = 16_384
"""Non-periodic states larger than this get no POD spectrum (its SVD would not be cheap)."""

MAX_POD_FRAMES = 2000
"""At most this many evenly spaced frames enter the POD."""


@dataclasses.dataclass(frozen=True)
class PhysicalTolerances:
    """What a bounded rollout may show and still be called stable.

    **Fields:**

    - `empty_band_fraction`: the most of its energy allowed in the data's empty bands.
    - `rms_ratio`: the most its late rms may exceed the reference's largest, as a factor.
    - `wasserstein`: the largest W1 distance of its values from the data's, in data stds.
    """

    empty_band_fraction: float = 0.01
    rms_ratio: float = 1.5
    wasserstein: float = 1.0


BAND_CHUNK_BYTES = 64 << 20  # complex transform of the states per piece of `band_energy`


def band_energy(states: Float[np.ndarray, "K C *N"]) -> Float[np.ndarray, " bands"]:
    """Mean energy per radial Fourier wavenumber band of periodic fields, channels summed.

    Band `b` holds the wavenumbers `k` (integers per axis) with `round(|k|) == b`;
    Parseval-scaled so that the bands sum to the mean squared value per point.

    **Arguments:**

    - `states`: `K` states `(C, *N)` (for vector states `(K, n)` the one band is the total).

    **Returns:**

    `(bands,)` energies.
    """
    raw = np.asarray(states)
    if raw.ndim == 2:  # vectors: no spatial axis, one band
        return np.array([np.mean(np.asarray(raw, np.float64) ** 2)])
    axes = tuple(range(2, raw.ndim))
    shape = raw.shape[2:]
    chunk = max(1, BAND_CHUNK_BYTES // max(1, int(np.prod(raw.shape[1:])) * 16))
    power = np.zeros(raw.shape[2:])
    for start in range(0, raw.shape[0], chunk):  # in pieces: no K-frame complex transform
        x = np.asarray(raw[start : start + chunk], np.float64)
        power += (np.abs(np.fft.fftn(x, axes=axes)) ** 2).sum(axis=(0, 1))
    power /= raw.shape[0] * np.prod(shape) ** 2  # channels summed, states averaged
    return np.bincount(radial_bands(shape).ravel(), weights=power.ravel())


def radial_bands(spatial_shape: tuple[int, ...], *, real: bool = False) -> np.ndarray:
    """The radial band `round(|k|)` of every Fourier coefficient of a grid (integer
    wavenumbers per axis), shaped like `numpy.fft.fftn`'s output, or `rfftn`'s with `real`."""
    freqs = [np.fft.fftfreq(n) * n for n in spatial_shape]
    if real:
        freqs[-1] = np.fft.rfftfreq(spatial_shape[-1]) * spatial_shape[-1]
    grids = np.meshgrid(*freqs, indexing="ij")
    return np.rint(np.sqrt(sum(g**2 for g in grids))).astype(int)


@dataclasses.dataclass(frozen=True)
class DataStatistics:
    """What a physical long rollout of these data should look like.

    **Fields:**

    - `band_share`: the data's share of energy per band.
    - `values`: a sample of the data's values (for W1).
    - `std`: the data's standard deviation.
    - `pod_basis`: for data that are not periodic fields, the orthonormal POD
        modes `(n, r)` holding at least `EMPTY_BAND_SHARE` of the data's energy
        (a rollout's energy outside them is in "empty bands"); None for
        periodic fields (Fourier bands) or states over `MAX_POD_FEATURES`.
    """

    band_share: np.ndarray
    values: np.ndarray
    std: float
    pod_basis: np.ndarray | None = None

    @property
    def empty_bands(self) -> np.ndarray:
        """Bands with less than `EMPTY_BAND_SHARE` of the data's energy."""
        return self.band_share < EMPTY_BAND_SHARE

    @classmethod
    def of(cls, frames: Float[np.ndarray, "K C *N"], *, periodic: bool = True,
           max_values: int = 100_000, seed: int = 0) -> DataStatistics:
        """Statistics of data frames `(K, C, *N)` (e.g. every training frame); `periodic`:
        fields on a periodic grid (Fourier bands), else POD modes."""
        energy = band_energy(frames)
        share = energy / max(energy.sum(), 1e-300)
        values = np.asarray(frames).ravel()
        if values.size > max_values:  # the same draw as choosing from the values themselves
            values = values[np.random.default_rng(seed).choice(values.size, max_values,
                                                               replace=False)]
        values = np.asarray(values, np.float64)
        return cls(share, values, float(values.std()) or 1.0,
                   None if periodic else pod_modes(frames))

    @classmethod
    def of_trajectories(cls, trajectories: Float[np.ndarray, "B T C *N"], *,
                        periodic: bool = True, max_frames: int = 4000) -> DataStatistics:
        """Statistics of trajectories' frames, at most `max_frames` evenly spaced ones."""
        frames = np.asarray(trajectories).reshape((-1,) + trajectories.shape[2:])
        if frames.shape[0] > max_frames:
            frames = frames[np.linspace(0, frames.shape[0] - 1, max_frames).astype(int)]
        return cls.of(frames, periodic=periodic)


def pod_modes(frames: Float[np.ndarray, "K ..."]) -> np.ndarray | None:
    """The data's POD modes (uncentred SVD of the frames) holding at least
    `EMPTY_BAND_SHARE` of their energy, as orthonormal columns `(n, r)`; None for states
    over `MAX_POD_FEATURES` values."""
    x = np.asarray(frames, np.float64).reshape(len(frames), -1)
    if x.shape[1] > MAX_POD_FEATURES:
        return None
    if x.shape[0] > MAX_POD_FRAMES:
        x = x[np.linspace(0, x.shape[0] - 1, MAX_POD_FRAMES).astype(int)]
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    share = s**2 / max(float((s**2).sum()), 1e-300)
    return vt[share >= EMPTY_BAND_SHARE].T


def empty_band_fraction(states: Float[np.ndarray, "K C *N"], data: DataStatistics) -> float:
    """The share of the states' energy in the data's empty bands (its POD: outside the
    modes that carry the data's energy)."""
    if data.pod_basis is not None:
        x = np.asarray(states, np.float64).reshape(len(states), -1)
        total = float((x**2).sum())
        kept = float(((x @ data.pod_basis) ** 2).sum())
        return max(0.0, 1.0 - kept / total) if total > 0 else 0.0
    energy = band_energy(states)
    bands = min(energy.size, data.band_share.size)
    empty = np.zeros(energy.size, bool)
    empty[:bands] = data.empty_bands[:bands]
    empty[bands:] = True  # beyond the data's bands: no data energy at all
    total = energy.sum()
    return float(energy[empty].sum() / total) if total > 0 else 0.0


def wasserstein_to_data(states: Float[np.ndarray, "K C *N"], data: DataStatistics, *,
                        max_values: int = 100_000, seed: int = 0) -> float:
    """W1 distance of the states' values from the data's, in data standard deviations."""
    from scipy.stats import wasserstein_distance

    values = np.asarray(states, np.float64).ravel()
    if values.size > max_values:
        values = np.random.default_rng(seed).choice(values, max_values, replace=False)
    return float(wasserstein_distance(values, data.values) / data.std)


@dataclasses.dataclass(frozen=True)
class RolloutPhysics:
    """The late statistics of one long rollout and its verdict.

    **Fields:** `diverged_at` (step, or None), `empty_band_fraction`,
    `rms_ratio` (late rms over the reference's largest), `wasserstein` (in data
    stds), `verdict` ("diverges", "bounded but unphysical", "stable") and
    `reason` (which statistic, by how much; empty when stable).
    """

    diverged_at: int | None
    empty_band_fraction: float | None
    rms_ratio: float | None
    wasserstein: float | None
    verdict: str
    reason: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def physical_verdict(diverged_at: int | None, late: Float[np.ndarray, "K C *N"] | None,
                     reference_rms: float, data: DataStatistics,
                     tolerances: PhysicalTolerances = PhysicalTolerances()) -> RolloutPhysics:
    """Judge one long rollout: diverges, bounded but unphysical (and why), or stable.

    **Arguments:**

    - `diverged_at`: the step it left its bounds, or None.
    - `late`: states from the late part of the rollout (None if it diverged).
    - `reference_rms`: the largest rms of its reference trajectory's frames.
    - `data`: the data's statistics.
    - `tolerances`: the limits.

    **Returns:**

    A `RolloutPhysics`.
    """
    if diverged_at is not None or late is None:
        return RolloutPhysics(diverged_at, None, None, None, "diverges",
                              f"left the data's range at step {diverged_at}")
    empty = empty_band_fraction(late, data)
    rms = float(np.sqrt(np.mean(np.asarray(late, np.float64) ** 2)))
    ratio = rms / max(reference_rms, 1e-300)
    w1 = wasserstein_to_data(late, data)
    reasons = []
    if empty > tolerances.empty_band_fraction:
        where = ("bands" if data.pod_basis is None else
                 "directions (POD modes)")
        reasons.append(f"{empty:.1%} of its energy in {where} where the data have none "
                       f"(allowed {tolerances.empty_band_fraction:.0%})")
    if ratio > tolerances.rms_ratio:
        reasons.append(f"rms {ratio:.2f}x the reference's largest "
                       f"(allowed {tolerances.rms_ratio:g}x)")
    if w1 > tolerances.wasserstein:
        reasons.append(f"values {w1:.2f} data stds (W1) from the data's "
                       f"(allowed {tolerances.wasserstein:g})")
    verdict = "bounded but unphysical" if reasons else "stable"
    return RolloutPhysics(None, empty, ratio, w1, verdict, "; ".join(reasons))
