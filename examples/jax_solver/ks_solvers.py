"""A user's coarse Kuramoto-Sivashinsky solvers for stablesim's KS data (u_t + u u_x + u_xx +
u_xxxx = 0 on [0, 2 pi ds), 48 points, one frame = 1 time unit = two steps of 0.5).

Each is `step(u, p)`: `u` one state `(1, 48)`, `p` its parameters `(1,)` (ds).
`imex_jax` and `imex_numpy` also take a batch `(B, 1, 48)`, `(B, 1)`.
"""

import exponax as ex
import jax.numpy as jnp
import numpy as np


def exponax_coarse(u, p):
    """Exponax's first-order exponential Euler, as stablesim's built-in coarse solver.

    The stepper is built from the parameter inside the traced function: once
    per compilation (the parameter is a tracer), never once per call.
    """
    stepper = ex.stepper.KuramotoSivashinskyConservative(
        1, 2 * jnp.pi * p[..., 0], u.shape[-1], 0.5, order=1, dealiasing_fraction=1.0)
    return ex.RepeatedStepper(stepper, 2)(u)


def _imex(xp, u, p):
    n = u.shape[-1]
    ds = p[..., :1, None]  # (..., 1, 1): broadcasts over channels and grid points
    k = xp.arange(n // 2 + 1) / ds  # angular wavenumbers on [0, 2 pi ds)
    linear, dt = k**2 - k**4, 0.5
    for _ in range(2):  # linear terms implicit, the nonlinear one explicit
        nonlinear = -0.5j * k * xp.fft.rfft(u**2, axis=-1)
        u = xp.fft.irfft((xp.fft.rfft(u, axis=-1) + dt * nonlinear) / (1 - dt * linear),
                         n=n, axis=-1)
    return u


def imex_jax(u, p):
    """First-order IMEX Euler (pseudo-spectral) in jax.numpy."""
    return _imex(jnp, u, p)


def imex_numpy(u, p):
    """The same scheme in NumPy (float32 in, float32 out)."""
    return _imex(np, np.asarray(u), np.asarray(p)).astype(np.float32)
