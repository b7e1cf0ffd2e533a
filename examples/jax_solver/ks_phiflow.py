"""The KS coarse solver with PhiFlow on its JAX backend (`pip install phiflow`).

Importing `phi.jax` turns on `jax_enable_x64`; stablesim keeps the data's
float32 (the solver's result is cast back to the state's dtype).
"""

from phi import math
from phi.jax import flow  # noqa: F401  (selects PhiFlow's JAX backend)


def step(u, p):
    """First-order IMEX Euler, pseudo-spectral, with PhiFlow's named-dimension tensors."""
    n = u.shape[-1]
    x = math.tensor(u[0], math.spatial("x"))
    k = math.fftfreq(math.spatial(x=n)).vector[0] * n / p[0]  # angular wavenumbers on 2 pi ds
    linear, dt = k**2 - k**4, 0.5
    for _ in range(2):
        x = math.real(math.ifft((math.fft(x) - dt * 0.5j * k * math.fft(x**2)) / (1 - dt * linear)))
    return x.native("x")[None]
