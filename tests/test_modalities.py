"""ONE / NOG / WIG losses and gradients against a naive Python-loop oracle."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pdequinox as pdeqx
import pytest

from stablesim import ConfigError
from stablesim.models import ParametricNetwork
from stablesim.simulators import Correction, Prediction, external_solver, with_network
from stablesim.training import NOG, ONE, WIG

sg = jax.lax.stop_gradient
N = 12


def nonlinear_solver(u, p):
    """A differentiable, nonlinear toy solver (diffusion plus a cubic)."""
    lap = jnp.roll(u, 1, -1) - 2 * u + jnp.roll(u, -1, -1)
    return u + 0.1 * p[0] * lap - 0.05 * u**3


def make_simulator(setup, key):
    core = pdeqx.arch.ConvNet(1, 2, 1, hidden_channels=4, depth=1, activation=jnp.tanh, key=key)
    net = ParametricNetwork(core, (0.5,))
    if setup == "prediction":
        return Prediction(net, residual=True)
    return Correction(net, nonlinear_solver, mode=setup)


def make_batch(key, batch, length):
    k1, k2 = jax.random.split(key)
    windows = jax.random.normal(k1, (batch, length, 1, N))
    params = jax.random.uniform(k2, (batch, 1), minval=0.5, maxval=1.5)
    return windows, params


def oracle_loss(sim, windows, params, *, kind, steps, warmup=0, cut=None, weights=None, noise=None):
    """Independent reference: explicit Python loops over windows and steps."""
    w = np.ones(steps) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    total = 0.0
    for b in range(windows.shape[0]):
        p = params[b]
        eps = (lambda s: 0.0) if noise is None else (lambda s, b=b: noise[b, s])
        u = windows[b, 0]
        for s in range(warmup):
            u = sg(sim(sg(u) + eps(s), p))
        window_loss = 0.0
        for s in range(steps):
            t = warmup + s
            if kind == "ONE":
                x = windows[b, t]
            elif kind == "NOG":
                x = sg(u)
            else:  # WIG with truncation every `cut` steps
                x = sg(u) if (cut is not None and s % cut == 0) else u
            u = sim(x + eps(t), p)
            window_loss = window_loss + w[s] * jnp.mean((u - windows[b, t + 1]) ** 2)
        total = total + window_loss
    return total / windows.shape[0]


def loss_and_grad(fn, sim):
    def of_network(net):
        return fn(with_network(sim, net))

    return eqx.filter_value_and_grad(of_network)(sim.network)


def assert_trees_close(a, b, rtol=1e-9, atol=1e-12):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


CONSTRUCTORS = {"ONE": ONE, "NOG": NOG, "WIG": WIG}


def every_execution(modality):
    """The modality as a lax.scan with remat (its default) and as a traced Python loop."""
    return [modality, dataclasses.replace(modality, scan=False, remat=False)]


@pytest.mark.parametrize("setup", ["prediction", "parallel", "sequential"])
@pytest.mark.parametrize("kind", ["ONE", "NOG", "WIG"])
def test_loss_and_gradient_match_naive_loop(x64, setup, kind):
    sim = make_simulator(setup, jax.random.key(1))
    for steps in (1, 2, 5):  # one step, the shortest unroll, a longer odd one
        windows, params = make_batch(jax.random.key(steps), 3, steps + 1)
        modality = CONSTRUCTORS[kind](steps)
        ref_value, ref_grad = loss_and_grad(
            lambda s: oracle_loss(s, windows, params, kind=kind, steps=steps), sim
        )
        for execution in every_execution(modality) if steps == 5 else [modality]:
            value, grad = loss_and_grad(lambda s, m=execution: m.loss(s, windows, params), sim)
            np.testing.assert_allclose(value, ref_value, rtol=1e-10)
            assert_trees_close(grad, ref_grad)


def test_modalities_differ_for_longer_unrolls(x64):
    """The oracle comparison above would be vacuous if the three coincided."""
    sim = make_simulator("sequential", jax.random.key(1))
    windows, params = make_batch(jax.random.key(0), 3, 4)
    grads = {k: loss_and_grad(lambda s, k=k: CONSTRUCTORS[k](3).loss(s, windows, params), sim)
             for k in CONSTRUCTORS}
    assert not np.isclose(grads["ONE"][0], grads["NOG"][0])
    np.testing.assert_allclose(grads["NOG"][0], grads["WIG"][0])  # same forward pass
    g_nog = jax.tree_util.tree_leaves(grads["NOG"][1])
    g_wig = jax.tree_util.tree_leaves(grads["WIG"][1])
    assert max(float(jnp.abs(a - b).max()) for a, b in zip(g_nog, g_wig)) > 1e-6


@pytest.mark.parametrize("setup", ["prediction", "parallel", "sequential"])
def test_one_step_modalities_agree_to_the_bit(setup):
    sim = make_simulator(setup, jax.random.key(2))
    windows, params = make_batch(jax.random.key(3), 4, 2)
    results = [loss_and_grad(lambda s, m=m: m.loss(s, windows, params), sim)
               for m in (ONE(1), NOG(1), WIG(1))]
    for value, grad in results[1:]:
        np.testing.assert_array_equal(value, results[0][0])
        for a, b in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(results[0][1])):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "modality, oracle_kwargs",
    [
        (WIG(4, cut_every=2), dict(kind="WIG", steps=4, cut=2)),
        (WIG(6, cut_every=3), dict(kind="WIG", steps=6, cut=3)),
        (NOG(3, pushforward=2), dict(kind="NOG", steps=3, warmup=2)),
        (WIG(3, pushforward=1), dict(kind="WIG", steps=3, warmup=1)),
        (NOG(3, weights=[0.2, 1.0, 3.0]), dict(kind="NOG", steps=3, weights=[0.2, 1.0, 3.0])),
        (WIG(2, weights=[1.0, 0.0]), dict(kind="WIG", steps=2, weights=[1.0, 0.0])),
    ],
)
def test_warmup_truncation_and_weights_match_naive_loop(x64, modality, oracle_kwargs):
    sim = make_simulator("sequential", jax.random.key(4))
    windows, params = make_batch(jax.random.key(5), 2, modality.window_length)
    ref_value, ref_grad = loss_and_grad(
        lambda s: oracle_loss(s, windows, params, **oracle_kwargs), sim
    )
    for execution in every_execution(modality):
        value, grad = loss_and_grad(lambda s, m=execution: m.loss(s, windows, params), sim)
        np.testing.assert_allclose(value, ref_value, rtol=1e-10)
        assert_trees_close(grad, ref_grad)


@pytest.mark.parametrize("kind", ["ONE", "NOG", "WIG"])
def test_input_noise_matches_naive_loop_with_same_draws(x64, kind):
    sim = make_simulator("parallel", jax.random.key(6))
    steps, sigma, key = 3, 0.1, jax.random.key(7)
    modality = CONSTRUCTORS[kind](steps, noise=sigma)
    windows, params = make_batch(jax.random.key(8), 2, steps + 1)
    noise = sigma * jax.random.normal(key, (2, steps, 1, N), windows.dtype)
    ref_value, ref_grad = loss_and_grad(
        lambda s: oracle_loss(s, windows, params, kind=kind, steps=steps, noise=noise), sim
    )
    for execution in every_execution(modality):
        value, grad = loss_and_grad(lambda s, m=execution: m.loss(s, windows, params, key=key),
                                    sim)
        np.testing.assert_allclose(value, ref_value, rtol=1e-10)
        assert_trees_close(grad, ref_grad)
    clean = CONSTRUCTORS[kind](steps).loss(sim, windows, params)
    assert not np.isclose(value, clean)


def numpy_solver(u, p):
    """The same solver in NumPy; broadcasts over leading batch axes."""
    lap = np.roll(u, 1, -1) - 2 * u + np.roll(u, -1, -1)
    coef = p[..., 0][..., None, None]
    return u + 0.1 * coef * lap - 0.05 * u**3


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
@pytest.mark.parametrize("vectorized", [False, True])
def test_nog_with_external_numpy_solver_equals_jax_solver(mode, vectorized):
    sim = make_simulator(mode, jax.random.key(9))
    ext = Correction(sim.network, external_solver(numpy_solver, vectorized=vectorized), mode=mode)
    windows, params = make_batch(jax.random.key(10), 3, 5)
    for modality in (NOG(4), ONE(4), NOG(2, pushforward=2)):
        v1, g1 = loss_and_grad(lambda s: modality.loss(s, windows, params), sim)
        v2, g2 = loss_and_grad(lambda s: modality.loss(s, windows, params), ext)
        np.testing.assert_allclose(v1, v2, rtol=1e-6)
        assert_trees_close(g1, g2, rtol=1e-5, atol=1e-7)


def test_wig_with_external_solver_fails_clearly():
    sim = make_simulator("sequential", jax.random.key(11))
    ext = Correction(sim.network, external_solver(numpy_solver), mode="sequential")
    windows, params = make_batch(jax.random.key(12), 2, 4)
    for modality in (WIG(3), WIG(3, cut_every=3), WIG(4, cut_every=2)):
        w = windows if modality.window_length == 4 else make_batch(jax.random.key(1), 2, 5)[0]
        with pytest.raises(ConfigError, match="external"):
            modality.loss(ext, w, params)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: NOG(0), "unroll"),
        (lambda: WIG(4, cut_every=3), "divide"),
        (lambda: WIG(2, cut_every=5), "cut_every"),
        (lambda: NOG(2, pushforward=-1), "pushforward"),
        (lambda: NOG(2, weights=[1.0]), "weights"),
        (lambda: NOG(2, noise=-0.1), "noise"),
    ],
)
def test_invalid_modalities_raise_config_errors(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_wrong_window_length_is_named():
    sim = make_simulator("prediction", jax.random.key(0))
    windows, params = make_batch(jax.random.key(0), 2, 3)
    with pytest.raises(ConfigError, match="windows must be shaped"):
        NOG(4).loss(sim, windows, params)


def test_a_contracting_residual_step_is_c_u_plus_net_u():
    import stablesim
    from stablesim.config import load_run_config

    class Net(eqx.Module):
        w: jax.Array

        def __call__(self, u, p):
            return jnp.tanh(self.w * u) + p[0]

    net = Net(jnp.asarray(0.7))
    u, p = jnp.linspace(-1.0, 1.0, 8)[None], jnp.asarray([0.25])
    step = Prediction(net, residual=True, contraction=0.9)
    np.testing.assert_allclose(step(u, p), 0.9 * u + np.tanh(0.7 * np.asarray(u)) + 0.25,
                               rtol=1e-6)
    np.testing.assert_array_equal(Prediction(net, residual=True)(u, p), u + net(u, p))
    with pytest.raises(stablesim.ConfigError, match="residual step"):
        Prediction(net, residual=False, contraction=0.9)
    with pytest.raises(stablesim.ConfigError, match="simulator.contraction: applies to a "
                       "residual prediction"):
        load_run_config(overrides=["simulator.setup=correction", "simulator.contraction=0.9"])
