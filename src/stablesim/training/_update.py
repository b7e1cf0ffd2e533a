"""The compiled updates: one step of every seed (pure, vmapped), chunks of them.

The update skips a step whose loss or gradient norm is not finite or whose
gradient norm exceeds `skip_factor` times a decaying running maximum
(`skip_rule`, also an Optax transformation: `skip_outlier_updates`); the
training data enter as an argument (a sampler on device, or windows a
`WindowStream` read), never as a captured constant.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._training_config import StageConfig, TrainConfig
from ..data import WindowSampler, WindowStream
from ..simulators import AbstractSimulator, with_network
from ._execution import Execution
from ._modalities import build_modality
from ._skipping import skip_rule
from ._state import SeedState


def _tree_where(cond, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def shuffle_key(state: SeedState):
    return jax.random.fold_in(jax.random.wrap_key_data(state.key), 0)


def make_chunk(template: AbstractSimulator, static_net, stage: StageConfig,
                config: TrainConfig, optimizer, data: WindowSampler | WindowStream,
                execution: Execution):
    """A function running `n` updates for all seeds: `chunk(states, first_step, n)`.

    With `execution.loop == "scan"` one jitted `lax.scan` over the `n` updates
    (vmapped over seeds); with `"step"` one jitted update (vmapped over seeds,
    the state buffers donated) called `n` times from the host. Both return the
    new states and `(loss, grad_norm, skipped, consecutive_skips)`, each
    shaped `(seeds, n)`. The training data are an argument of the compiled
    function, never a constant captured in it: a `WindowSampler` (the data on
    device, batches drawn inside) or, for data streamed from disk, the windows
    a `WindowStream` read for these updates (pieces of `piece_steps` updates,
    the next read while the current one runs).
    """
    modality = build_modality(stage.modality, remat=execution.remat, scan=execution.scan)
    loss_scale = _loss_scale(template)

    def loss_fn(weights, windows, params, key):
        sim = with_network(template, eqx.combine(weights, static_net))
        return modality.loss(sim, windows, params, key=key, scale=loss_scale)

    def update(state: SeedState, step, windows, params):
        key = jax.random.wrap_key_data(state.key)
        noise_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
        windows, params = execution.constrain_batch((windows, params))
        loss, grads = jax.value_and_grad(loss_fn)(state.weights, windows, params, noise_key)
        gnorm = optax.tree.norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(gnorm)
        log_norm = jnp.log(jnp.maximum(gnorm, 1e-30))
        ok, new_reference = skip_rule(log_norm, finite, state.norm_average, state.accepted,
                                      skip_factor=config.skip_factor, grace=config.skip_grace)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.weights)
        weights = optax.apply_updates(state.weights, updates)
        new = SeedState(
            weights=_tree_where(ok, weights, state.weights),
            opt_state=_tree_where(ok, opt_state, state.opt_state),
            key=state.key,
            norm_average=new_reference,
            accepted=state.accepted + ok,
            consecutive_skips=jnp.where(ok, 0, state.consecutive_skips + 1),
            skipped=state.skipped + (~ok),
        )
        return new, (loss, gnorm, ~ok, new.consecutive_skips)

    def sampled_update(state: SeedState, step, sampler: WindowSampler):
        return update(state, step, *sampler.batch(shuffle_key(state), step))

    if isinstance(data, WindowStream):
        return _streamed_chunk(update, data, execution)
    if execution.loop == "scan":
        @eqx.filter_jit
        def scanned(states: SeedState, first_step, n: int, sampler: WindowSampler):
            steps = first_step + jnp.arange(n)
            run = lambda s: jax.lax.scan(  # noqa: E731
                lambda st, k: sampled_update(st, k, sampler), s, steps)
            return jax.vmap(run)(states)

        return lambda states, first_step, n: scanned(states, jnp.asarray(first_step), n, data)

    one_update = jax.jit(jax.vmap(sampled_update, in_axes=(0, None, None)), donate_argnums=0)

    def chunk_of_steps(states: SeedState, first_step, n: int):
        outputs = []
        for i in range(n):
            states, out = one_update(states, np.int32(first_step + i), data)
            outputs.append(out)
        return states, tuple(jnp.stack(column, axis=1) for column in zip(*outputs))

    return chunk_of_steps


def _streamed_chunk(update, stream: WindowStream, execution: Execution):
    """`chunk(states, first_step, n)` on windows read by `stream`, a piece ahead."""
    @eqx.filter_jit
    def scanned(states: SeedState, steps, windows, params):
        run = lambda s, w, p: jax.lax.scan(  # noqa: E731
            lambda st, xs: update(st, *xs), s, (steps, w, p))
        return jax.vmap(run)(states, windows, params)

    one_update = jax.jit(jax.vmap(update, in_axes=(0, None, 0, 0)), donate_argnums=0)

    def chunk(states: SeedState, first_step: int, n: int):
        outputs, step, end = [], int(first_step), int(first_step) + n
        while step < end:
            k = min(stream.piece_steps, end - step)
            windows, params = stream.take(step, k)
            # read ahead while this piece runs (the next chunk is as long as this one)
            stream.prefetch(step + k, min(stream.piece_steps, n))
            if execution.loop == "scan":
                states, out = scanned(states, jnp.arange(step, step + k), windows, params)
                outputs.append(out)
            else:
                for i in range(k):
                    states, out = one_update(states, np.int32(step + i), windows[:, i],
                                             params[:, i])
                    outputs.append(tuple(o[:, None] for o in out))
            step += k
        return states, tuple(jnp.concatenate(column, axis=1) for column in zip(*outputs))

    return chunk


def _loss_scale(template: AbstractSimulator):
    """Per-channel scale of the loss: the normalization's (None: the data's own units)."""
    scale = getattr(template.network, "state_scale", ())
    return None if not scale else tuple(scale)
