"""Stability theory against training actually run (float64): energy, GD, spectra, noise, FD."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg

from stablesim.models import dissipative_weights, gershgorin_weights, initialize
from stablesim.simulators import Prediction
from stablesim.stability import (
    Projected,
    classify,
    discrete_to_continuous,
    energy_spectrum,
    finite_difference,
    implied_eigenvalue,
    implied_generator,
    linear_training,
    noise_bias,
    recommend_noise,
    residual_noise_limit,
    spectrum,
)


def subspace_data(n=8, r=3, samples=200, seed=0, mu=(0.95, 0.8, 0.5)):
    """Exact pairs y = A x with x confined to an r-dimensional invariant subspace."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    ur = q[:, :r]
    block = np.diag(mu[:r]) + np.triu(0.1 * rng.normal(size=(r, r)), 1)
    a = ur @ block @ ur.T + q[:, r:] @ np.diag(rng.uniform(-0.5, 0.5, n - r)) @ q[:, r:].T
    x = (rng.normal(size=(samples, r)) * np.array([3.0, 1.0, 0.3])[:r]) @ ur.T
    return x, x @ a.T, a, ur


def gd(x, y, w0, *, lr, steps, optimizer=None, noise=0.0, key=None, copies=1):
    """Plain training with Optax on the mean over samples of 0.5 |y - W x|^2."""
    opt = optimizer or optax.sgd(lr)
    w = jnp.asarray(w0)
    state = opt.init(w)
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(w, k):
        if noise:
            eps = noise * jax.random.normal(k, (copies,) + x.shape, x.dtype)
            pred = jnp.einsum("ij,csj->csi", w, x[None] + eps)
            return 0.5 * jnp.mean(jnp.sum((y[None] - pred) ** 2, -1))
        return 0.5 * jnp.mean(jnp.sum((y - x @ w.T) ** 2, -1))

    @jax.jit
    def step(carry, k):
        w, state = carry
        g = jax.grad(loss)(w, k)
        upd, state = opt.update(g, state, w)
        return (optax.apply_updates(w, upd), state), None

    keys = jax.random.split(key if key is not None else jax.random.key(0), steps)
    (w, _), _ = jax.lax.scan(step, (w, state), keys)
    return np.asarray(w)


def test_energy_spectrum_rank_energies_and_complement(x64):
    x, _, _, ur = subspace_data()
    e = energy_spectrum(x)
    c = x.T @ x / x.shape[0]
    np.testing.assert_allclose(e.energies, np.sort(np.linalg.eigvalsh(c))[::-1], atol=1e-10)
    assert e.rank == 3 and e.unlearnable_dimension == 5
    np.testing.assert_allclose(e.directions.T @ e.directions, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(e.projector(), ur @ ur.T, atol=1e-10)  # the data subspace
    assert e.condition_number == pytest.approx(e.energies[0] / e.energies[2])
    assert e.cumulative[2] == pytest.approx(1.0) and e.dimension_for(0.999999) <= 3
    # trajectories (B, T, C, N): frames are samples; a single Fourier mode k = 3
    grid = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    traj = np.stack([[np.sin(3 * grid + t)[None] for t in range(5)] for _ in range(2)])
    field = energy_spectrum(traj)
    assert field.rank == 2  # sin and cos of mode 3
    assert field.fourier.shape == (1, 9) and int(np.argmax(field.fourier[0])) == 3
    assert field.fourier[0, 3] > 1e6 * np.delete(field.fourier[0], 3).max()


def test_gradient_descent_trajectory_complement_and_limit_match_the_closed_form(x64):
    x, y, a, ur = subspace_data()
    w0 = np.random.default_rng(1).normal(size=(8, 8)) * 0.3
    lr = 0.05
    for steps in (1, 7, 60):
        theory = linear_training(x, y, w0, lr=lr, updates=steps)
        trained = gd(x, y, w0, lr=lr, steps=steps)
        np.testing.assert_allclose(trained, theory.weights, atol=1e-11)
    up = theory.energy.unlearnable_basis
    np.testing.assert_allclose(trained @ up, w0 @ up, atol=1e-12)  # untouched complement
    # per-direction error factors (data directions), measured on 7 trained steps
    lam, u = theory.energy.energies, theory.energy.directions
    seven, trained7 = linear_training(x, y, w0, lr=lr, updates=7), gd(x, y, w0, lr=lr, steps=7)
    shrink = np.linalg.norm((trained7 - seven.limit) @ u[:, :3], axis=0) / np.linalg.norm(
        (w0 - seven.limit) @ u[:, :3], axis=0)
    np.testing.assert_allclose(shrink, np.abs(seven.direction_factors[:3]), rtol=1e-6)
    np.testing.assert_allclose(seven.direction_factors[:3], (1 - lr * lam[:3]) ** 7)
    np.testing.assert_array_equal(seven.direction_factors[3:], 1.0)  # no energy: no change
    # the converged limit: A P + W0 P_perp (exact data), reached by long training
    np.testing.assert_allclose(theory.limit, a @ ur @ ur.T + w0 @ up @ up.T, atol=1e-10)
    long = gd(x, y, w0, lr=lr, steps=20000)
    np.testing.assert_allclose(long, theory.limit, atol=1e-8)
    assert theory.step_limit == pytest.approx(2 / lam[0])


def test_step_size_limit_separates_convergence_from_divergence(x64):
    x, y, _, _ = subspace_data()
    w0 = np.zeros((8, 8))
    limit = linear_training(x, y, w0, lr=0.01, updates=1).step_limit
    ok = gd(x, y, w0, lr=0.95 * limit, steps=400)
    bad = gd(x, y, w0, lr=1.05 * limit, steps=400)
    th = linear_training(x, y, w0, lr=1.05 * limit, updates=400)
    assert np.abs(th.direction_factors[0]) > 1e3
    np.testing.assert_allclose(bad, th.weights, rtol=1e-8)
    assert np.linalg.norm(bad) > 1e3 * np.linalg.norm(ok)


def test_spectrum_split_into_learned_and_initial_blocks(x64):
    x, y, a, ur = subspace_data()
    w0 = np.random.default_rng(2).normal(size=(8, 8)) * np.sqrt(2 / 8)  # He
    theory = linear_training(x, y, w0, lr=0.05, updates=1)
    learned, initial = theory.block_spectra(theory.limit)
    union = np.concatenate([learned, initial])
    full = spectrum(theory.limit)
    key = lambda z: (np.round(z.real, 8), np.round(z.imag, 8))  # noqa: E731
    np.testing.assert_allclose(sorted(full, key=key), sorted(union, key=key), atol=1e-8)
    np.testing.assert_allclose(sorted(learned.real), sorted(np.linalg.eigvals(ur.T @ a @ ur).real),
                               atol=1e-8)
    up = theory.energy.unlearnable_basis
    np.testing.assert_allclose(sorted(initial, key=key),
                               sorted(np.linalg.eigvals(up.T @ w0 @ up), key=key), atol=1e-8)
    # the compression is exactly the spectrum of the map on the complement
    np.testing.assert_allclose(sorted(spectrum(theory.limit, basis=up), key=key),
                               sorted(initial, key=key), atol=1e-8)


def test_spectrum_of_simulators_dense_jacobian_and_arnoldi(x64):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(12, 12)) / np.sqrt(12)

    class Lin(eqx.Module):
        w: jax.Array

        def __call__(self, u, p):
            return self.w @ u

    sim = Prediction(Lin(jnp.asarray(w)), residual=False)
    exact = np.linalg.eigvals(w)
    got = spectrum(sim, np.zeros((1, 12)))[0]
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(exact), atol=1e-10)
    top = spectrum(sim, np.zeros((1, 12)), k=3)[0]
    np.testing.assert_allclose(np.sort(np.abs(top)), np.sort(np.abs(exact))[-3:], rtol=1e-8)
    # nonlinear: tanh(W u); Jacobian diag(1 - tanh^2(W u)) W at each state
    states = rng.normal(size=(2, 12))
    nonlin = lambda u: jnp.tanh(jnp.asarray(w) @ u)  # noqa: E731
    got = spectrum(nonlin, states)
    for s, ev in zip(states, got):
        jac = np.diag(1 - np.tanh(w @ s) ** 2) @ w
        np.testing.assert_allclose(np.sort_complex(ev), np.sort_complex(np.linalg.eigvals(jac)),
                                   atol=1e-10)
    report = classify(exact, time="discrete")
    assert report.bound == pytest.approx(np.abs(exact).max())
    assert classify([-0.1 + 2j, 0.3], time="continuous").unstable_count == 1


def test_noise_limit_is_the_ridge_solution_and_training_with_noise_reaches_it(x64):
    x, y, a, _ = subspace_data(samples=100)
    sigma = 0.3
    w0 = np.random.default_rng(4).normal(size=(8, 8))
    theory = linear_training(x, y, w0, lr=0.05, updates=1, noise=sigma)
    n = x.shape[0]
    ridge = np.linalg.solve(x.T @ x + n * sigma**2 * np.eye(8), x.T @ y).T
    np.testing.assert_allclose(theory.limit, ridge, atol=1e-10)
    # the expected-loss gradient descent path equals Optax on the ridge loss
    ridge_gd = gd(x, y, w0, lr=0.05, steps=50, optimizer=optax.chain(
        optax.add_decayed_weights(sigma**2), optax.sgd(0.05)))
    np.testing.assert_allclose(linear_training(x, y, w0, lr=0.05, updates=50, noise=sigma).weights,
                               ridge_gd, atol=1e-10)
    # actual input noise (fresh draws each step): converges near the ridge limit,
    # and the unlearnable block forgets its initialization
    noisy = gd(x, y, w0, lr=0.05, steps=3000, noise=sigma, copies=16, key=jax.random.key(5))
    assert np.linalg.norm(noisy - ridge) / np.linalg.norm(ridge) < 0.05
    up = theory.energy.unlearnable_basis
    assert np.abs(noisy @ up).max() < 0.05 * np.abs(w0 @ up).max()
    # shrinkage of each data direction: lambda / (lambda + sigma^2)
    lam, u = theory.energy.energies, theory.energy.directions
    exact_part = a @ u[:, :3]
    np.testing.assert_allclose(ridge @ u[:, :3], exact_part * noise_bias(lam[:3], sigma), atol=1e-10)


def test_noise_bias_and_recommended_noise():
    lam = np.array([4.0, 1.0, 0.25, 0.0])
    np.testing.assert_allclose(noise_bias(lam, 0.5), [4 / 4.25, 1 / 1.25, 0.5, 0.0])
    sigma = recommend_noise(lam, tolerated_bias=0.1)
    assert noise_bias(lam[2:3], sigma)[0] == pytest.approx(0.9)
    assert recommend_noise(lam, tolerated_bias=0.1, keep=1) > sigma


@pytest.mark.parametrize("horizon", [1, 12, 10_000])
def test_horizon_aware_noise_keeps_the_compounded_bias_within_tolerance(horizon):
    """(lambda/(lambda + sigma^2))^H = 1 - tol for the weakest kept direction, exactly;
    a naive product of H per-step factors agrees; H = 1 is the per-step rule."""
    lam = np.array([4.0, 1.0, 0.25, 0.0])
    sigma = recommend_noise(lam, tolerated_bias=0.05, horizon=horizon)
    factor = noise_bias(lam[2:3], sigma)[0]
    kept = 1.0
    for _ in range(horizon):  # the shrinkage applied once per rollout step
        kept *= factor
    assert kept == pytest.approx(0.95, rel=1e-9)
    assert np.all(noise_bias(lam[:3], sigma) ** horizon >= 0.95 - 1e-12)
    if horizon == 1:
        assert sigma == pytest.approx(np.sqrt(0.25 * 0.05 / 0.95))
    else:  # a longer horizon asks for less noise
        assert sigma < recommend_noise(lam, tolerated_bias=0.05)


def oscillator(omega=2.0, dt=0.1, frames=40, count=3, seed=0):
    L = np.array([[0.0, omega], [-omega, 0.0]])
    prop = scipy.linalg.expm(L * dt)
    rng = np.random.default_rng(seed)
    traj = []
    for _ in range(count):
        x, rows = rng.normal(size=2), []
        for _ in range(frames):
            rows.append(x)
            x = prop @ x
        traj.append(rows)
    return L, np.asarray(traj)


@pytest.mark.parametrize("scheme", ["forward", "backward", "central"])
def test_finite_difference_biases_on_an_oscillator(x64, scheme):
    omega, dt = 2.0, 0.1
    L, traj = oscillator(omega, dt)
    states, deriv = finite_difference(traj, dt, scheme=scheme)
    theory = linear_training(states, deriv, np.zeros((2, 2)), lr=0.1, updates=1)
    learned = theory.limit  # least squares, what training converges to
    np.testing.assert_allclose(learned, implied_generator(L, dt, scheme=scheme), atol=1e-9)
    ev = np.linalg.eigvals(learned)
    expect = implied_eigenvalue(1j * omega, dt, scheme=scheme)
    np.testing.assert_allclose(np.sort(ev.imag)[-1], abs(expect.imag), rtol=1e-9)
    growth = ev.real.max()
    if scheme == "forward":
        assert growth < -0.01  # spurious damping
    elif scheme == "backward":
        assert growth > 0.01  # spurious growth: the oscillation becomes unstable
    else:
        assert abs(growth) < 1e-9  # neutral, with a frequency error
        assert abs(ev.imag).max() == pytest.approx(np.sin(omega * dt) / dt)
    # discrete view: the one-step map's eigenvalues give back the true rates
    prop = scipy.linalg.expm(L * dt)
    np.testing.assert_allclose(np.sort(discrete_to_continuous(np.linalg.eigvals(prop), dt).imag),
                               [-omega, omega], atol=1e-12)


def test_gershgorin_bounds_hold_where_row_only_bounds_fail(x64):
    n, rho = 12, 0.9
    # Row sums <= rho bound the eigenvalues but not the compressions: every row (rho, 0, ...).
    w = np.zeros((n, n))
    w[:, 0] = rho
    assert np.abs(w).sum(axis=1).max() <= rho and np.abs(np.linalg.eigvals(w)).max() <= rho + 1e-12
    x = np.full(n, 1.0) + 2.0 * np.eye(n)[0]
    x /= np.linalg.norm(x)  # a one-dimensional "unlearnable subspace"
    assert x @ w @ x > 1.5  # its compression is far outside the unit disc
    for seed in range(5):
        key = jax.random.key(seed)
        rows = np.asarray(gershgorin_weights(key, (n, n), radius=rho, columns=False,
                                             dtype=jnp.float64))
        both = np.asarray(gershgorin_weights(key, (n, n), radius=rho, dtype=jnp.float64))
        assert np.abs(np.linalg.eigvals(rows)).max() <= rho + 1e-12
        assert np.linalg.norm(both, 2) <= rho + 1e-12
        q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, 5)))
        assert np.abs(np.linalg.eigvals(q.T @ both @ q)).max() <= rho + 1e-12
    # convolution weights (out, in, k) as a periodic operator: the same bound
    conv = np.asarray(gershgorin_weights(jax.random.key(9), (3, 3, 5), radius=rho,
                                         dtype=jnp.float64))
    op = periodic_operator(conv, 16)
    assert np.linalg.norm(op, 2) <= rho + 1e-12


def periodic_operator(kernel, n):
    """The matrix of a periodic 1D convolution (cross-correlation) with weights (out, in, k)."""
    out_c, in_c, k = kernel.shape
    op = np.zeros((out_c * n, in_c * n))
    for o in range(out_c):
        for i in range(in_c):
            for j in range(k):
                for x in range(n):
                    op[o * n + x, i * n + (x + j - k // 2) % n] += kernel[o, i, j]
    return op


def test_dissipative_initializer_makes_every_compression_decay(x64):
    for shape in [(10, 10), (3, 3, 5)]:
        w = np.asarray(dissipative_weights(jax.random.key(0), shape, margin=0.2, scale=1.0,
                                           dtype=jnp.float64))
        op = w if w.ndim == 2 else periodic_operator(w, 12)
        sym = 0.5 * (op + op.T)
        assert np.linalg.eigvalsh(sym).max() <= -0.2 + 1e-12
        q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(op.shape[0], 4)))
        assert np.linalg.eigvals(q.T @ op @ q).real.max() <= -0.2 + 1e-12
    # a zero-mean random (He) continuous-time model is unstable in some direction
    he = np.random.default_rng(1).normal(size=(10, 10)) * np.sqrt(2 / 10)
    assert np.linalg.eigvals(he).real.max() > 0


def test_initializers_apply_to_a_model_by_name(x64):
    mlp = eqx.nn.MLP(6, 6, 6, 1, key=jax.random.key(0))
    stable = initialize(mlp, "gershgorin", key=jax.random.key(1))
    for layer in stable.layers:
        assert np.linalg.norm(np.asarray(layer.weight), 2) <= 0.9 + 1e-6


def test_first_layer_complement_is_invariant_under_gd_and_momentum_not_adam(x64):
    x, y, _, _ = subspace_data(n=6, r=2, samples=64, mu=(0.9, 0.7))
    e = energy_spectrum(x)
    up = e.unlearnable_basis
    mlp = eqx.nn.MLP(6, 6, 16, 2, activation=jnp.tanh, key=jax.random.key(0))
    mlp = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a, mlp)
    params, static = eqx.partition(mlp, eqx.is_array)

    def loss(p):
        model = eqx.combine(p, static)
        return 0.5 * jnp.mean(jnp.sum((jax.vmap(model)(jnp.asarray(x)) - jnp.asarray(y)) ** 2, -1))

    def run(opt, steps=200):
        p, state = params, opt.init(params)
        for _ in range(steps):
            g = jax.grad(loss)(p)
            upd, state = opt.update(g, state, p)
            p = optax.apply_updates(p, upd)
        return p

    w_init = np.asarray(params.layers[0].weight)
    for opt in (optax.sgd(0.05), optax.sgd(0.05, momentum=0.9)):
        trained = run(opt)
        w = np.asarray(trained.layers[0].weight)
        assert np.abs(w - w_init).max() > 1e-3  # the layer did learn
        np.testing.assert_allclose(w @ up, w_init @ up, atol=1e-12)
    adam = np.asarray(run(optax.adam(1e-2)).layers[0].weight)
    assert np.abs(adam @ up - w_init @ up).max() > 1e-3  # Adam breaks the invariance


def test_projection_removes_growth_off_the_data_subspace(x64):
    x, y, a, ur = subspace_data()
    w0 = np.random.default_rng(6).normal(size=(8, 8)) * np.sqrt(2 / 8) * 2.0  # unstable block
    theory = linear_training(x, y, w0, lr=0.05, updates=1)
    assert classify(spectrum(theory.limit)).stable is False

    class Lin(eqx.Module):
        w: jax.Array

        def __call__(self, u, p):
            return self.w @ u

    sim = Prediction(Lin(jnp.asarray(theory.limit)), residual=False)
    start = x[0] + 1e-6 * np.random.default_rng(7).normal(size=8)  # slightly off the data
    free, proj = jnp.asarray(start), jnp.asarray(start)
    projected = Projected(sim, theory.energy.learnable_basis)
    for _ in range(200):
        free, proj = sim(free, jnp.zeros(0)), projected(proj, jnp.zeros(0))
    exact = np.linalg.matrix_power(a, 200) @ (ur @ ur.T @ start)
    assert np.linalg.norm(free) > 1e3 * np.linalg.norm(start)
    np.testing.assert_allclose(np.asarray(proj), exact, atol=1e-5)  # one O(1e-6) leak, then stable


def test_residual_models_need_the_clean_target_under_noise(x64):
    """x + W x with input noise: clean targets damp the empty directions, noisy ones do not."""
    x, y, _, _ = subspace_data(samples=100)
    sigma = 0.3
    up = energy_spectrum(x).unlearnable_basis
    rng = jax.random.key(8)
    w0 = np.zeros((8, 8))
    opt = optax.sgd(0.05)

    def train(clean):
        def loss(w, k):
            eps = sigma * jax.random.normal(k, (16,) + x.shape)
            noisy = jnp.asarray(x)[None] + eps
            pred = noisy + jnp.einsum("ij,csj->csi", w, noisy)
            target = jnp.asarray(y)[None] if clean else jnp.asarray(y)[None] + eps
            return 0.5 * jnp.mean(jnp.sum((target - pred) ** 2, -1))

        @jax.jit
        def step(carry, k):
            w, s = carry
            upd, s = opt.update(jax.grad(loss)(w, k), s, w)
            return (optax.apply_updates(w, upd), s), None

        (w, _), _ = jax.lax.scan(step, (jnp.asarray(w0), opt.init(jnp.asarray(w0))),
                                 jax.random.split(rng, 3000))
        return np.asarray(w)

    for clean in (True, False):
        w = train(clean)
        theory = residual_noise_limit(x, y, noise=sigma, clean_target=clean)
        assert np.linalg.norm(w - theory) / np.linalg.norm(theory) < 0.05
        block = up.T @ (np.eye(8) + theory) @ up  # the residual map on the empty directions
        np.testing.assert_allclose(block, 0.0 if clean else np.eye(5), atol=1e-10)


def test_gradient_flow_is_the_small_step_limit_of_descent(x64):
    x, y, _, _ = subspace_data()
    w0 = np.random.default_rng(10).normal(size=(8, 8))
    flow = linear_training(x, y, w0, lr=1e-3, updates=2000, flow=True)  # time 2
    fine = gd(x, y, w0, lr=1e-4, steps=20000)  # the same time in ten times smaller steps
    assert np.abs(fine - flow.weights).max() < 2e-3 * np.abs(w0).max()
    lam = flow.energy.energies
    np.testing.assert_allclose(flow.direction_factors[:3], np.exp(-2.0 * lam[:3]))
    coarse = linear_training(x, y, w0, lr=1e-3, updates=2000).weights
    assert np.abs(fine - flow.weights).max() < np.abs(coarse - flow.weights).max()


def test_pod_coordinates_round_trip_on_the_data_subspace(x64):
    from stablesim.stability import from_pod, to_pod

    x, _, _, _ = subspace_data()
    e = energy_spectrum(x)
    coords = to_pod(jnp.asarray(x), e.learnable_basis)
    assert coords.shape == (x.shape[0], 3)
    np.testing.assert_allclose(from_pod(coords, e.learnable_basis, (8,)), x, atol=1e-10)
    np.testing.assert_allclose(np.sum(np.asarray(coords) ** 2) / x.shape[0], e.energies.sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_energy_spectrum_from_the_covariance_matches_the_svd(dtype):
    """Many samples: C = X^T X / N accumulated in blocks gives the SVD's energies, rank and
    subspace (float32 and float64 data confined to a 5-dim subspace of R^12)."""
    from stablesim.stability import energy_spectrum

    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    x = (rng.normal(size=(20_000, 5)) * [3.0, 2.0, 1.0, 0.5, 0.1]) @ q[:, :5].T
    x = x.astype(dtype)
    e = energy_spectrum(x)
    _, sv, vt = np.linalg.svd(x.astype(np.float64) / np.sqrt(len(x)), full_matrices=False)
    np.testing.assert_allclose(e.energies[:5], sv[:5] ** 2, rtol=1e-6)
    assert e.rank == 5 == np.linalg.matrix_rank(x)
    p_svd = vt[:5].T @ vt[:5]
    np.testing.assert_allclose(e.projector(), p_svd, atol=1e-6)


def test_energy_spectrum_of_more_samples_than_a_full_factor_could_hold():
    """400,000 samples of 8 features: the full SVD factor would be 1.28 TB; the spectrum
    needs memory of the order of the data (no N x N or extra N x n factor)."""
    import tracemalloc

    from stablesim.stability import energy_spectrum

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400_000, 8)).astype(np.float32) * np.arange(1, 9, dtype=np.float32)
    tracemalloc.start()
    e = energy_spectrum(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.5 * x.size * 8  # one float64 copy of the data, plus O(features^2)
    np.testing.assert_allclose(e.energies, np.arange(8, 0, -1) ** 2, rtol=0.02)
    assert e.rank == 8
