"""Training modalities: ONE, NOG and WIG as one unrolled loss.

All modalities share one code path: a window of ground-truth frames is
unrolled by the simulator inside `lax.scan`, each step wrapped in
`jax.checkpoint` so that only the states between steps are stored. The
modalities differ only in where `jax.lax.stop_gradient` sits:

- ONE (teacher forcing): every step starts from the ground-truth frame.
- NOG: the simulator's own output is the next input, behind a stop-gradient
  (`cut_every=1`): no gradient passes from one step to the next, so no
  derivative of the solver is ever needed.
- WIG: no stop-gradient (`cut_every=unroll`); `1 < cut_every < unroll` is
  truncated back-propagation.

With `unroll=1` all three give the same loss and gradient.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._errors import ConfigError
from .._training_config import ModalityConfig, check_unroll

sg = jax.lax.stop_gradient


class Unroll(eqx.Module):
    """An unrolled training loss on windows of `pushforward + unroll + 1` frames.

    Use the constructors `ONE`, `NOG` and `WIG` rather than this class.

    **Fields:**

    - `name`: `"ONE"`, `"NOG"`, `"WIG"` (or `"TBPTT"` for truncation).
    - `unroll`: number of loss steps m.
    - `teacher_forcing`: every step starts from ground truth (ONE).
    - `cut_every`: a stop-gradient on the input of every `cut_every`-th step
        (1: NOG, `unroll`: WIG). Must divide `unroll`.
    - `pushforward`: steps run first without loss and without gradient.
    - `weights`: per-step loss weights (default uniform); the loss is the
        weighted mean of the per-step mean squared errors.
    - `noise`: standard deviation of Gaussian noise added to every network
        input (the target stays the clean next frame).
    - `remat`: recompute each step in the backward pass (`jax.checkpoint`):
        memory flat in the unroll length, ~1.3x the work. The trainer sets it
        by `training.remat`.
    - `scan`: unroll with `lax.scan` (compile time independent of the length);
        False traces a Python loop, which XLA:CPU runs several times faster
        for convolutions (they are slow inside a while loop), and in which
        the backward pass of a NOG step overlaps the next forward pass (see
        `window_loss`). The trainer sets it by `training.unroll_loop`.

    Every choice of `remat` and `scan` gives the same loss and gradient (to
    float round-off; tested).
    """

    name: str = eqx.field(static=True)
    unroll: int = eqx.field(static=True)
    teacher_forcing: bool = eqx.field(static=True)
    cut_every: int = eqx.field(static=True)
    pushforward: int = eqx.field(static=True, default=0)
    weights: tuple[float, ...] | None = eqx.field(static=True, default=None)
    noise: float = eqx.field(static=True, default=0.0)
    remat: bool = eqx.field(static=True, default=True)
    scan: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        try:  # the rules are ModalityConfig's (one definition)
            check_unroll(unroll=self.unroll, pushforward=self.pushforward,
                         cut_every=self.cut_every, weights=self.weights, noise=self.noise,
                         unrolled=not self.teacher_forcing)
        except ValueError as err:
            raise ConfigError(f"{self.name}: {err}") from None

    @property
    def window_length(self) -> int:
        """Frames per training window: pushforward + unroll + 1."""
        return self.pushforward + self.unroll + 1

    @property
    def requires_differentiable_solver(self) -> bool:
        """Whether gradients must pass through the simulator's state input."""
        return not self.teacher_forcing and self.cut_every > 1

    def check_simulator(self, simulator) -> None:
        """Raise `ConfigError` if this modality cannot train this simulator."""
        if self.requires_differentiable_solver and not simulator.differentiable:
            raise ConfigError(
                f"{self.name} back-propagates through the solver, but the solver is external "
                "(not differentiable); use NOG or ONE, or a JAX solver"
            )

    def _step_weights(self, dtype) -> Float[Array, " m"]:
        w = jnp.ones(self.unroll, dtype) if self.weights is None else jnp.asarray(self.weights, dtype)
        return w / w.sum()

    def predictions(
        self,
        simulator,
        window: Float[Array, "L C *N"],
        params: Float[Array, " P"],
        noise: Float[Array, "S C *N"] | None = None,
    ) -> Float[Array, "m C *N"]:
        """The m predicted states of one window (after the pushforward).

        **Arguments:**

        - `simulator`: the simulator.
        - `window`: `pushforward + unroll + 1` ground-truth frames.
        - `params`: physical parameters of the window.
        - `noise`: input noise per step (`pushforward + unroll` states) or None.

        **Returns:**

        Predicted states for frames `pushforward+1 .. pushforward+unroll`.
        """
        step = self._step(simulator, params)
        if not self.scan:
            return jnp.stack(self._python_loop(step, window, noise))
        if noise is None:
            noise = jnp.zeros((self.pushforward + self.unroll,) + window.shape[1:], window.dtype)

        def warm(u, n):
            return sg(step(sg(u), n)), None

        start, _ = jax.lax.scan(warm, window[0], noise[: self.pushforward])
        k = self.cut_every
        chunks = self.unroll // k
        truth_in = window[self.pushforward : self.pushforward + self.unroll]
        xs = jax.tree_util.tree_map(
            lambda a: a.reshape((chunks, k) + a.shape[1:]), (truth_in, noise[self.pushforward :])
        )
        teacher = self.teacher_forcing

        def inner(u, x):
            truth, n = x
            nxt = step(truth if teacher else u, n)
            return nxt, nxt

        def outer(u, x):
            # The chunk's first step takes the stop-gradient input directly (not
            # through a scan carry, whose tangent the scan would make non-zero),
            # so a non-differentiable solver is never asked for a derivative.
            truth, n = x
            first = step(truth[0] if teacher else sg(u), n[0])
            if k == 1:  # NOG: nothing else in the chunk (an empty scan would still trace)
                return first, first[None]
            rest = jax.tree_util.tree_map(lambda a: a[1:], x)
            u, preds = jax.lax.scan(inner, first, rest)
            return u, jnp.concatenate([first[None], preds], axis=0)

        _, preds = jax.lax.scan(outer, start, xs)
        return preds.reshape((self.unroll,) + window.shape[1:])

    def _step(self, simulator, params):
        """One simulator step on a noisy input, recomputed in the backward pass if `remat`."""

        def step(u, n):
            return simulator(u if n is None else u + n, params)

        return jax.checkpoint(step) if self.remat else step

    def _python_loop(self, step, window, noise) -> list:
        """`predictions` as a traced Python loop (a list of states): the same stop-gradients."""
        if noise is None:
            noise = [None] * (self.pushforward + self.unroll)
        u = window[0]
        for i in range(self.pushforward):
            u = sg(step(sg(u), noise[i]))
        preds = []
        for s in range(self.unroll):
            t = self.pushforward + s
            if self.teacher_forcing:
                u_in = window[t]
            elif s % self.cut_every == 0:
                u_in = sg(u)
            else:
                u_in = u
            u = step(u_in, noise[t])
            preds.append(u)
        return preds

    def window_loss(self, simulator, window, params, noise=None, inverse_scale=None) -> Scalar:
        """Weighted mean over steps of the mean squared error of one window.

        `inverse_scale` (broadcast against one state) weighs each channel's
        error: the error in normalized units.
        """
        weights = self._step_weights(window.dtype)
        w = jnp.ones((), window.dtype) if inverse_scale is None else inverse_scale
        if self.scan:
            preds = self.predictions(simulator, window, params, noise)
            targets = window[self.pushforward + 1 :]
            per_step = jnp.mean(((preds - targets) * w) ** 2, axis=tuple(range(1, preds.ndim)))
            return jnp.sum(weights * per_step)
        # Each step's error is taken as soon as the step is computed, not from the stacked
        # states: then the backward pass of a step that the next one does not depend on (NOG,
        # ONE) needs nothing from later steps, and XLA runs it while the next step's forward
        # pass runs (measured: NOG-5 gradient 73 -> 36 ms on 2 CPU cores).
        states = self._python_loop(self._step(simulator, params), window, noise)
        loss = jnp.zeros((), window.dtype)
        for s, pred in enumerate(states):
            loss = loss + weights[s] * jnp.mean(((pred - window[self.pushforward + 1 + s]) * w) ** 2)
        return loss

    def loss(
        self,
        simulator,
        windows: Float[Array, "B L C *N"],
        params: Float[Array, "B P"],
        *,
        key: PRNGKeyArray | None = None,
        scale: tuple[float, ...] | None = None,
    ) -> Scalar:
        """Mean loss over a batch of windows; differentiate with `eqx.filter_grad`.

        **Arguments:**

        - `simulator`: the simulator being trained.
        - `windows`: `(batch, pushforward + unroll + 1, C, *N)` ground-truth frames.
        - `params`: `(batch, P)` physical parameters.
        - `key`: random key for input noise (required if `noise > 0`).
        - `scale`: one scale per channel (the normalization's standard
            deviations): errors are measured, and noise added, in units of
            it. None: the data's own units.

        **Returns:**

        The scalar loss.
        """
        self.check_simulator(simulator)
        if windows.ndim < 3 or windows.shape[1] != self.window_length:
            raise ConfigError(
                f"{self.name}: windows must be shaped (batch, {self.window_length}, C, *space), "
                f"got {windows.shape}"
            )
        noise, inverse = None, None
        if scale is not None:
            per_channel = jnp.asarray(scale, windows.dtype)
            per_channel = per_channel.reshape(per_channel.shape + (1,) * (windows.ndim - 3))
            inverse = 1 / per_channel
        if self.noise > 0:
            if key is None:
                raise ConfigError(f"{self.name}: noise injection needs a random key")
            shape = (windows.shape[0], self.pushforward + self.unroll) + windows.shape[2:]
            noise = self.noise * jax.random.normal(key, shape, windows.dtype)
            if inverse is not None:
                noise = noise / inverse
        losses = jax.vmap(self.window_loss, in_axes=(None, 0, 0, 0, None))(
            simulator, windows, params, noise, inverse)
        return jnp.mean(losses)


def _weights(weights: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if weights is None else tuple(float(w) for w in weights)


def ONE(unroll: int = 1, *, noise: float = 0.0, weights: Sequence[float] | None = None) -> Unroll:
    """One-step training: every step starts from the ground-truth frame.

    With `unroll > 1` each window gives `unroll` one-step pairs (matched data
    per update with an m-step unroll).

    **Arguments:**

    - `unroll`: one-step pairs per window.
    - `noise`: input-noise standard deviation.
    - `weights`: per-step loss weights.
    """
    return Unroll("ONE", unroll, True, 1, 0, _weights(weights), float(noise))


def NOG(
    unroll: int, *, pushforward: int = 0, noise: float = 0.0, weights: Sequence[float] | None = None
) -> Unroll:
    """Unrolled training without temporal gradients (stop-gradient every step).

    **Arguments:**

    - `unroll`: unroll length m.
    - `pushforward`: steps without loss or gradient before the unroll.
    - `noise`: input-noise standard deviation.
    - `weights`: per-step loss weights.
    """
    return Unroll("NOG", unroll, False, 1, pushforward, _weights(weights), float(noise))


def WIG(
    unroll: int,
    *,
    cut_every: int | None = None,
    pushforward: int = 0,
    noise: float = 0.0,
    weights: Sequence[float] | None = None,
) -> Unroll:
    """Fully differentiable unrolled training (back-propagation through time).

    **Arguments:**

    - `unroll`: unroll length m.
    - `cut_every`: truncate back-propagation every k steps (must divide m);
        None for full gradients.
    - `pushforward`: steps without loss or gradient before the unroll.
    - `noise`: input-noise standard deviation.
    - `weights`: per-step loss weights.
    """
    k = unroll if cut_every is None else cut_every
    name = "WIG" if k == unroll else "TBPTT"
    return Unroll(name, unroll, False, k, pushforward, _weights(weights), float(noise))


def build_modality(config: ModalityConfig, *, remat: bool = True, scan: bool = True) -> Unroll:
    """The `Unroll` loss a `ModalityConfig` describes.

    **Arguments:**

    - `config`: the modality's configuration.
    - `remat`, `scan`: how the unroll is computed (see `Unroll`); the loss
        and gradient are the same either way.

    **Returns:**

    `ONE`, `NOG` or `WIG` (truncated when `cut_every` is set).
    """
    if config.name == "ONE":
        modality = ONE(config.unroll, noise=config.noise, weights=config.weights)
    elif config.name == "NOG":
        modality = NOG(config.unroll, pushforward=config.pushforward, noise=config.noise,
                       weights=config.weights)
    else:
        modality = WIG(config.unroll, cut_every=config.cut_every, pushforward=config.pushforward,
                       noise=config.noise, weights=config.weights)
    return dataclasses.replace(modality, remat=remat, scan=scan)
