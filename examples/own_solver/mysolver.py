"""A user's own coarse solver for 1D viscous Burgers, in plain NumPy.

u_t + u u_x = nu u_xx on a periodic grid of [0, 2 pi): first-order upwind
advection and explicit central diffusion, a few forward-Euler substeps per
frame. Cheap and diffusive: what a learned correction should fix.
"""

import numpy as np

FRAME_DT = 0.05
SUBSTEPS = 2


def _substep(u, nu, dx, dt):
    forward = (np.roll(u, -1, axis=-1) - u) / dx
    backward = (u - np.roll(u, 1, axis=-1)) / dx
    advection = np.where(u > 0, u * backward, u * forward)
    diffusion = (np.roll(u, -1, axis=-1) - 2 * u + np.roll(u, 1, axis=-1)) / dx**2
    return u + dt * (-advection + nu * diffusion)


def step(state, params):
    """One frame for one state: `state` (1, N), `params` (P,) with nu first."""
    u = np.asarray(state, np.float64)
    nu = float(params[0])
    dx = 2 * np.pi / u.shape[-1]
    for _ in range(SUBSTEPS):
        u = _substep(u, nu, dx, FRAME_DT / SUBSTEPS)
    return u.astype(state.dtype)


def step_batch(states, params):
    """One frame for a batch: `states` (B, 1, N), `params` (B, P) with nu first
    (simulator.solver_batched)."""
    u = np.asarray(states, np.float64)
    nu = np.asarray(params, np.float64)[:, 0].reshape((-1,) + (1,) * (u.ndim - 1))
    dx = 2 * np.pi / u.shape[-1]
    for _ in range(SUBSTEPS):
        u = _substep(u, nu, dx, FRAME_DT / SUBSTEPS)
    return u.astype(states.dtype)
