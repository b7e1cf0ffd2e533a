"""The KS coarse solver with jax-cfd (`pip install jax-cfd`): first-order IMEX Euler.

jax-cfd builds its grid from a concrete domain length, so the parameter ds
cannot be a tracer: the stepper is built once per parameter value of the
data, at import, and `jax.lax.switch` picks it inside the compiled step.
Under `vmap` a switch on a batched index evaluates every branch: keep the
list to the values the data hold.
"""

import math

import jax
import jax.numpy as jnp
from jax_cfd.base import grids
from jax_cfd.spectral import equations, time_stepping

VALUES = (6.8, 7.2, 7.44, 7.6, 8.0, 8.4, 8.8, 9.2, 9.6, 10.0, 10.4, 11.2)  # ds in the KS data


def _stepper(ds: float, n: int = 48):
    grid = grids.Grid((n,), domain=((0.0, 2 * math.pi * ds),))
    euler = time_stepping.backward_forward_euler(
        equations.KuramotoSivashinsky(grid, smooth=False), 0.5)

    def advance(u):
        uhat = jnp.fft.rfft(u, axis=-1)
        for _ in range(2):
            uhat = euler(uhat)
        return jnp.fft.irfft(uhat, n=n, axis=-1)

    return advance


STEPPERS = [_stepper(ds) for ds in VALUES]  # built once per parameter value


def step(u, p):
    """One frame (two steps of 0.5) at the nearest ds in VALUES."""
    index = jnp.argmin(jnp.abs(jnp.asarray(VALUES) - p[0]))
    return jax.lax.switch(index, STEPPERS, u)
