"""A user's coarse solver for stablesim's Kolmogorov data: vorticity on [0, 2 pi]^2, forced by
sin(4 y) in x, linear drag 0.1, viscosity 1/Re; first-order IMEX Euler, 8 steps per frame
(0.08 time units), pseudo-spectral on the 32 x 32 data grid.

`imex_jax(w, p)` and `imex_numpy(w, p)`: `w` one state `(1, N, N)` or a batch
`(B, 1, N, N)`, `p` its parameters `(1,)` or `(B, 1)` (Re).
"""

import jax.numpy as jnp
import numpy as np


def _imex(xp, w, p, steps=8, dt=0.01, forcing_mode=4, drag=-0.1):
    n = w.shape[-1]
    kx = (xp.fft.fftfreq(n) * n)[:, None]  # axis -2: x
    ky = (xp.fft.rfftfreq(n) * n)[None, :]  # axis -1: y
    k2 = kx**2 + ky**2
    inverse_k2 = xp.where(k2 > 0, 1.0 / xp.where(k2 > 0, k2, 1.0), 0.0)
    viscosity = 1.0 / p[..., :1, None, None]  # (..., 1, 1, 1)
    linear = -viscosity * k2 + drag
    y = xp.arange(n) * (2 * np.pi / n)
    forcing = xp.fft.rfft2(-forcing_mode * xp.cos(forcing_mode * y)[None, :] + 0 * w[..., :, :])
    w_hat = xp.fft.rfft2(w)
    for _ in range(steps):  # diffusion and drag implicit, advection and forcing explicit
        psi_hat = w_hat * inverse_k2  # the stream function (Exponax's sign convention)
        u = xp.fft.irfft2(-1j * ky * psi_hat, s=(n, n))
        v = xp.fft.irfft2(1j * kx * psi_hat, s=(n, n))
        w_x = xp.fft.irfft2(1j * kx * w_hat, s=(n, n))
        w_y = xp.fft.irfft2(1j * ky * w_hat, s=(n, n))
        explicit = -xp.fft.rfft2(u * w_x + v * w_y) + forcing
        w_hat = (w_hat + dt * explicit) / (1 - dt * linear)
    return xp.fft.irfft2(w_hat, s=(n, n))


def imex_jax(w, p):
    """The scheme in jax.numpy."""
    return _imex(jnp, w, p)


def imex_numpy(w, p):
    """The same scheme in NumPy (float32 in, float32 out)."""
    return _imex(np, np.asarray(w), np.asarray(p)).astype(np.float32)
