"""The Fourier counterpart of the projection: remove the bands the data never had.

On a periodic grid, energy that a learned step puts into wavenumber bands
where the training data have (almost) none is unphysical by construction.
`BandFiltered` zeroes those bands after every step, so they cannot fill, the
way `Projected` removes the directions without data energy.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from ..simulators import AbstractSimulator
from ._mitigations import AfterStep


def kept_band_mask(band_share: np.ndarray, spatial_shape: tuple[int, ...],
                   empty_share: float) -> np.ndarray:
    """Which `rfftn` coefficients of a field of `spatial_shape` to keep: those whose radial
    band holds at least `empty_share` of the data's energy (bands beyond the data's: dropped).

    **Arguments:** the data's energy share per band (`DataStatistics.band_share`), the grid,
    the share below which a band counts as empty.

    **Returns:** a boolean mask shaped like `rfftn`'s output over the spatial axes.
    """
    from ..evaluation import radial_bands

    bands = radial_bands(spatial_shape, real=True)
    keep = np.zeros(bands.shape, bool)
    inside = bands < band_share.size
    keep[inside] = band_share[bands[inside]] >= empty_share
    return keep


class BandFiltered(AfterStep):
    """A simulator followed by zeroing the Fourier bands the data never had.

    **Arguments:**

    - `simulator`: the simulator to wrap (states `(C, *N)` on a periodic grid).
    - `keep`: `kept_band_mask` over the spatial axes (shared by every channel).
    """

    simulator: AbstractSimulator
    keep: Bool[Array, "*M"]

    def __init__(self, simulator: AbstractSimulator, keep):
        self.simulator = simulator
        self.keep = jnp.asarray(keep, bool)

    def after(self, out: Float[Array, " C *N"]) -> Float[Array, " C *N"]:
        axes = tuple(range(1, out.ndim))
        spectrum = jnp.fft.rfftn(out, axes=axes)
        filtered = jnp.where(self.keep, spectrum, 0)
        return jnp.fft.irfftn(filtered, s=out.shape[1:], axes=axes).astype(out.dtype)
