"""How the data's energy is spread over directions: POD energies and rank."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from .._errors import DataError

NEAR_EMPTY_SHARE = 1e-6
"""A direction with less than this share of the data's energy counts as near-empty."""

FULL_BASIS_FEATURES = 4096
"""Above this many features `energy_spectrum` uses at most this many evenly spaced frames and
`EnergySpectrum.directions` keeps only the directions with energy, not a full square basis
(16384 features would take 2 GiB and minutes); the complement stays implicit."""


@dataclasses.dataclass(frozen=True)
class EnergySpectrum:
    """POD (uncentred PCA) energies of snapshots, as the linear theory uses them.

    **Fields:**

    - `energies`: eigenvalues of C = X^T X / N, descending, one per feature.
    - `directions`: the eigenvectors as columns, `(features, features)`; above
        `FULL_BASIS_FEATURES` features with fewer samples than features, only
        the `rank` with energy (`project_out` removes them from a vector
        without forming a basis of the rest).
    - `rank`: numerical rank (energies above `tolerance`).
    - `tolerance`: the energy below which a direction counts as empty.
    - `fourier`: for periodic fields, the mean Fourier power spectrum per
        wavenumber shell `(channels, N // 2 + 1)` (Exponax), else None.
    - `samples`: how many snapshots the spectrum comes from (None: not said).
        The rank cannot exceed it: a rank equal to it is the sample's limit,
        not necessarily the data's.
    """

    energies: np.ndarray
    directions: np.ndarray
    rank: int
    tolerance: float
    fourier: np.ndarray | None = None
    samples: int | None = None

    @property
    def rank_limited_by_samples(self) -> bool:
        """Whether every sample is needed to span the data (more might span more)."""
        return self.samples is not None and self.rank >= self.samples

    @property
    def num_features(self) -> int:
        return int(self.energies.shape[0])

    @property
    def unlearnable_dimension(self) -> int:
        """Directions without energy: gradient descent never changes them."""
        return self.num_features - self.rank

    def near_empty(self, share: float = NEAR_EMPTY_SHARE) -> int:
        """Directions above the rank threshold that carry less than `share` of the energy
        (learnable in principle, hardly shaped in practice; counted apart from empty ones)."""
        total = float(self.energies.sum())
        if total <= 0:
            return 0
        return int((self.energies[: self.rank] < share * total).sum())

    @property
    def relative_tolerance(self) -> float:
        """The rank threshold as a share of the total energy."""
        total = float(self.energies.sum())
        return self.tolerance / total if total > 0 else 0.0

    @property
    def condition_number(self) -> float:
        """lambda_1 / lambda_r over the learnable directions (sets training time)."""
        return float(self.energies[0] / self.energies[self.rank - 1]) if self.rank else float("inf")

    @property
    def cumulative(self) -> np.ndarray:
        """Fraction of the total energy in the first k directions, k = 1..n."""
        total = self.energies.sum()
        return np.cumsum(self.energies) / total if total > 0 else np.zeros_like(self.energies)

    @property
    def learnable_basis(self) -> np.ndarray:
        """U_r: orthonormal basis of the data subspace, `(features, rank)`."""
        return self.directions[:, : self.rank]

    @property
    def complete(self) -> bool:
        """Whether `directions` is a full square basis (see `FULL_BASIS_FEATURES`)."""
        return self.directions.shape[1] == self.num_features

    @property
    def unlearnable_basis(self) -> np.ndarray:
        """U_perp: orthonormal basis of its complement, `(features, n - rank)` (completed
        here, at O(n^2) memory, where `directions` is not complete: prefer `project_out`)."""
        if self.complete:
            return self.directions[:, self.rank :]
        import scipy.linalg

        return scipy.linalg.null_space(self.learnable_basis.T)

    def project_out(self, vectors: Float[np.ndarray, "... features"]) -> np.ndarray:
        """`v - U_r U_r^T v` for each row: the part of each vector normal to the data."""
        u = self.learnable_basis
        v = np.asarray(vectors, np.float64)
        return v - (v @ u) @ u.T

    def projector(self) -> np.ndarray:
        """P = U_r U_r^T, the orthogonal projector onto the data subspace."""
        u = self.learnable_basis
        return u @ u.T

    def dimension_for(self, fraction: float) -> int:
        """The fewest directions holding `fraction` of the energy."""
        return int(np.searchsorted(self.cumulative, fraction - 1e-12) + 1)


def spectrum_frames(snapshots) -> np.ndarray:
    """The frames `energy_spectrum` uses, `(1, samples, *state)` (trajectories) or
    `(samples, features)`: all of them, or above `FULL_BASIS_FEATURES` features at most
    that many evenly spaced (transform them first, e.g. normalize, to work on less)."""
    x = np.asarray(snapshots)
    trajectories = x.ndim >= 3
    rows = x.reshape((-1,) + x.shape[2:]) if trajectories else x
    features = int(np.prod(rows.shape[1:]))
    if features > FULL_BASIS_FEATURES and rows.shape[0] > FULL_BASIS_FEATURES:
        rows = rows[np.unique(np.linspace(0, rows.shape[0] - 1, FULL_BASIS_FEATURES).astype(int))]
    return rows[None] if trajectories else rows


def as_snapshot_matrix(snapshots) -> np.ndarray:
    """Flatten `(samples, features)` or `(trajectories, time, channels, *space)` to float64
    rows."""
    x = np.asarray(snapshots)
    if x.dtype.kind not in "fiu":
        raise DataError(f"snapshots must be numeric, got dtype {x.dtype}")
    if x.ndim == 2:
        rows = x
    elif x.ndim >= 3:
        rows = x.reshape(x.shape[0] * x.shape[1], -1)
    else:
        raise DataError("snapshots must be shaped (samples, features) or (trajectories, time, "
                        f"*state), got shape {x.shape}")
    if not np.isfinite(rows).all():
        raise DataError("snapshots contain non-finite values")
    return rows.astype(np.float64)


def energy_spectrum(
    snapshots: Float[np.ndarray, "samples features"] | Float[np.ndarray, "B T C *N"],
    *,
    rtol: float | None = None,
    fourier: bool | None = None,
) -> EnergySpectrum:
    """POD energies, directions, rank and (for fields) the Fourier spectrum of data.

    The energies are the eigenvalues of C = X^T X / N (not mean-centred: the
    linear theory's covariance), in float64: with at least as many samples
    as features from C itself, accumulated in blocks (memory O(features^2),
    however many samples), otherwise from the SVD of X. Above
    `FULL_BASIS_FEATURES` features at most that many evenly spaced samples
    are used, from their Gram matrix X X^T / N, and only the directions with
    energy are kept.

    **Arguments:**

    - `snapshots`: `(samples, features)`, or trajectories
        `(trajectories, time, *state)` whose frames are the samples.
    - `rtol`: relative tolerance of the rank (default: `max(N, n)` times the
        epsilon of the data's dtype on singular values, as
        `numpy.linalg.matrix_rank`: float32 data have float32 round-off).
    - `fourier`: also compute the Fourier power spectrum (default: for
        fields with one to three equal spatial axes).

    **Returns:**

    An `EnergySpectrum`.
    """
    raw = np.asarray(snapshots)
    # above FULL_BASIS_FEATURES no n x n problem is formed: at most as many frames as that,
    # evenly spaced, and their Gram matrix; the rank is then capped by the frames, and
    # `rank_limited_by_samples` says when that binds
    x = as_snapshot_matrix(spectrum_frames(raw))
    n_samples, n_features = x.shape
    thin = n_samples < n_features and n_features > FULL_BASIS_FEATURES
    gram_vectors = None
    if n_samples >= n_features:
        energies, directions = covariance_eigh(x)
        s = np.sqrt(energies)
    elif thin:  # the N x N Gram matrix G = X X^T / N has C's nonzero eigenvalues (time
        # O(N^2 n), memory O(N n), and 4-5x faster than the SVD); C's direction i is
        # X^T g_i / (sqrt(N) s_i), kept only where s_i is above the rank threshold
        values, gram_vectors = np.linalg.eigh(x @ x.T / n_samples)
        order = np.argsort(values)[::-1]
        values, gram_vectors = np.clip(values[order], 0.0, None), gram_vectors[:, order]
        s = np.sqrt(values)
        energies = np.zeros(n_features)
        energies[:n_samples] = values
    else:  # fewer samples than features: the SVD of X is the smaller problem
        _, s, vt = np.linalg.svd(x / np.sqrt(n_samples), full_matrices=True)
        energies = np.zeros(n_features)
        energies[: s.size] = s**2
        directions = vt.T
    if rtol is None:
        precision = raw.dtype if raw.dtype.kind == "f" else np.dtype(np.float64)
        rtol = max(x.shape) * np.finfo(precision).eps
    if n_samples >= n_features or thin:  # C's own round-off: below ~n eps lambda_1
        rtol = max(rtol, float(np.sqrt(10 * min(x.shape) * np.finfo(np.float64).eps)))
    tol_sv = rtol * (s[0] if s.size else 0.0)
    rank = int((s > tol_sv).sum())
    if gram_vectors is not None:
        directions = (x.T @ gram_vectors[:, :rank]) / (np.sqrt(n_samples) * s[:rank])
    spectrum = None
    field = np.asarray(snapshots)
    is_field = field.ndim >= 4 and 1 <= field.ndim - 3 <= 3 and len(set(field.shape[3:])) == 1
    if fourier if fourier is not None else is_field:
        if not is_field:
            raise DataError("a Fourier spectrum needs fields (trajectories, time, channels, *space) "
                            "with equal spatial axes")
        spectrum = fourier_spectrum(field)
    return EnergySpectrum(energies, directions, rank, float(tol_sv**2), spectrum, n_samples)


COVARIANCE_CHUNK = 8192  # samples per block of the accumulated X^T X


def covariance_eigh(rows: Float[np.ndarray, "samples features"]) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending, >= 0) and eigenvectors of C = X^T X / N in float64.

    C is accumulated over blocks of `COVARIANCE_CHUNK` samples, so the memory
    is O(features^2) whatever the number of samples (no N x N or N x n
    factor is ever formed).
    """
    n_samples, n_features = rows.shape
    c = np.zeros((n_features, n_features))
    for start in range(0, n_samples, COVARIANCE_CHUNK):
        block = np.asarray(rows[start : start + COVARIANCE_CHUNK], np.float64)
        c += block.T @ block
    values, vectors = np.linalg.eigh(c / n_samples)
    order = np.argsort(values)[::-1]
    return np.clip(values[order], 0.0, None), vectors[:, order]


FOURIER_CHUNK_BYTES = 64 << 20  # frames per batch of the Fourier spectrum: about this much


def fourier_spectrum(trajectories: Float[np.ndarray, "B T C *N"]) -> np.ndarray:
    """Mean Fourier power per wavenumber shell over all frames (Exponax's spectrum), in
    batches of about `FOURIER_CHUNK_BYTES` of frames (no transform of all at once)."""
    import exponax as ex
    import jax

    frames = np.asarray(trajectories).reshape((-1,) + trajectories.shape[2:])
    per_frame = max(1, frames[0].nbytes)
    chunk = max(1, FOURIER_CHUNK_BYTES // per_frame)
    spectra = jax.jit(jax.vmap(ex.get_spectrum))
    sums = [np.asarray(spectra(frames[start : start + chunk]), np.float64).sum(axis=0)
            for start in range(0, frames.shape[0], chunk)]
    return np.sum(sums, axis=0) / frames.shape[0]
