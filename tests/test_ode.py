"""Neural ODE integrators and corrected gradients, pinned against closed forms,
SciPy, a hand-written leapfrog loop and the continuous adjoint (diffrax)."""

import contextlib
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from stablesim import ConfigError
from stablesim.ode import (
    INTEGRATORS,
    InconsistentGradientWarning,
    consistency_check,
    continuous_gradient,
    correct_gradients,
    even_odd_ratios,
    get_integrator,
    integrate,
    interpolate_parameters,
    layer_gradient,
    layer_stencil,
    layer_times,
    oscillation_index,
    refinement_check,
    sample_parameters,
    transfer_check,
)
from stablesim.ode._check import check_field, check_loss, check_theta

T1 = 2.0


@contextlib.contextmanager
def _quiet():
    """Plain autodiff on purpose: silence the inconsistency warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconsistentGradientWarning)
        yield


@pytest.fixture
def quiet():
    with _quiet():
        yield


# ---------------------------------------------------------------- integrators


def test_butcher_tables_are_consistent():
    for integrator in INTEGRATORS.values():
        if integrator.kind != "runge_kutta":
            continue
        b, c = np.asarray(integrator.b), np.asarray(integrator.c)
        assert b.sum() == pytest.approx(1.0)
        for i, row in enumerate(integrator.a):
            assert sum(row) == pytest.approx(c[i])
        if integrator.order >= 2:
            assert b @ c == pytest.approx(0.5)


def test_multistep_polynomials_and_roots():
    for name in ("ab2", "ab3", "leapfrog", "nystrom3"):
        ms = get_integrator(name)
        assert np.polyval(ms.rho, 1.0) == pytest.approx(0.0)
        # consistency: rho'(1) = sigma(1)
        assert np.polyval(np.polyder(ms.rho), 1.0) == pytest.approx(np.polyval(ms.sigma, 1.0))
    assert get_integrator("leapfrog").weakly_stable
    assert get_integrator("nystrom3").weakly_stable
    assert not get_integrator("ab2").weakly_stable
    assert not get_integrator("ab3").weakly_stable
    np.testing.assert_allclose(np.abs(get_integrator("ab3").parasitic_roots), 0.0, atol=1e-12)


EXPECTED_FORWARD_ORDER = {"euler": 1, "heun": 2, "midpoint": 2, "ralston": 2, "rk4": 4,
                          "ab2": 2, "leapfrog": 2,
                          # the Euler start (one evaluation per layer) limits these to 2
                          "ab3": 2, "nystrom3": 2}


def test_forward_convergence_orders_against_scipy(x64):
    def field(x, th):
        return th[0] * x + th[1] * jnp.sin(x[::-1])

    theta = jnp.array([-0.5, 0.8])
    x0 = jnp.array([1.0, -0.3])
    exact = solve_ivp(lambda t, x: np.asarray(field(jnp.asarray(x), theta)), (0, T1),
                      np.asarray(x0), method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    for name, expected in EXPECTED_FORWARD_ORDER.items():
        errors = [float(jnp.max(jnp.abs(
            integrate(field, theta, x0, t1=T1, steps=n, method=name).x1 - exact)))
            for n in (40, 80)]
        observed = np.log2(errors[0] / errors[1])
        assert abs(observed - expected) < 0.25, (name, observed)


def test_layouts_agree_when_layers_are_equal(x64, quiet):
    theta = check_theta(0.3)
    x0 = jnp.array([0.5, -0.8])
    for name in ("leapfrog", "ralston", "rk4"):
        integrator = get_integrator(name)
        shared = integrate(check_field, theta, x0, t1=T1, steps=8, method=name)
        per_step = integrate(check_field, jax.tree.map(lambda a: jnp.stack([a] * 8), theta), x0,
                             t1=T1, steps=8, method=name, layout="per_step")
        np.testing.assert_allclose(shared.x1, per_step.x1, rtol=1e-13)
        if integrator.kind == "runge_kutta":
            stages = jax.tree.map(lambda a: jnp.broadcast_to(a, (8, integrator.stages) + a.shape),
                                  theta)
            per_stage = integrate(check_field, stages, x0, t1=T1, steps=8, method=name,
                                  layout="per_stage")
            np.testing.assert_allclose(shared.x1, per_stage.x1, rtol=1e-13)


def test_trajectory_and_pytree_states(x64):
    def field(state, th):
        return {"q": state["p"], "p": -th * state["q"]}

    solution = integrate(field, jnp.asarray(1.0), {"q": jnp.asarray(1.0), "p": jnp.asarray(0.0)},
                         t1=1.0, steps=200, method="rk4", trajectory=True)
    assert solution.trajectory["q"].shape == (201,)
    np.testing.assert_allclose(solution.trajectory["q"], np.cos(np.asarray(solution.ts)),
                               atol=1e-10)


# ------------------------------------------------ closed forms: df/dx = 0


def _constant_field(x, th):
    return th


@pytest.mark.parametrize("steps", [6, 7])
def test_leapfrog_raw_gradient_alternates_exactly(x64, quiet, steps):
    """f(x; theta) = theta, loss = x_N: the raw pattern is exactly 2G, 0, 2G, 0 from the end."""
    h = 1.0 / steps
    params = jnp.ones((steps, 1))

    def objective(p, mode, order=1):
        return integrate(_constant_field, p, jnp.zeros(1), t1=1.0, steps=steps,
                         method="leapfrog", layout="per_step", gradients=mode,
                         order=order).x1.sum()

    raw = jax.grad(objective)(params, "autodiff")[:, 0] / h
    expected = np.array([2.0 if (steps - 1 - n) % 2 == 0 else 0.0 for n in range(steps)])
    if steps % 2 == 1:
        expected[0] = 1.0  # the Euler start gives theta_0 weight 1
    np.testing.assert_array_equal(raw, expected)
    np.testing.assert_array_equal(raw, get_integrator("leapfrog").degenerate_weights(steps))
    # the continuous gradient of x(1) = int theta dt is G(t) = 1 exactly
    for order in (1, 2):
        corrected = jax.grad(objective)(params, "corrected", order)[:, 0] / h
        if order == 1:
            np.testing.assert_allclose(corrected, 1.0, rtol=1e-14)
        else:
            np.testing.assert_allclose(corrected[1:], 1.0, rtol=1e-14)


def test_degenerate_weights_match_autodiff_for_every_multistep_method(x64, quiet):
    steps = 9
    for name in ("ab2", "ab3", "leapfrog", "nystrom3"):
        grads = jax.grad(lambda p: integrate(_constant_field, p, jnp.zeros(1), t1=1.0,
                                             steps=steps, method=name,
                                             layout="per_step").x1.sum())(jnp.ones((steps, 1)))
        np.testing.assert_allclose(grads[:, 0] * steps,
                                   get_integrator(name).degenerate_weights(steps), atol=1e-13)


def test_adams_bashforth_end_weights(x64):
    np.testing.assert_allclose(get_integrator("ab2").parameter_weights(6),
                               [0.5, 1, 1, 1, 1, 1.5])
    np.testing.assert_allclose(get_integrator("ab3").parameter_weights(7),
                               [11 / 12, 7 / 12, 1, 1, 1, 7 / 12, 23 / 12])
    for name in ("ab2", "ab3"):
        grads = jax.grad(lambda p: integrate(_constant_field, p, jnp.zeros(1), t1=1.0, steps=7,
                                             method=name, layout="per_step",
                                             gradients="corrected").x1.sum())(jnp.ones((7, 1)))
        np.testing.assert_allclose(grads[:, 0] * 7, 1.0, rtol=1e-13)


# ------------------------------------------------ the continuous reference


def test_continuous_gradient_closed_form(x64):
    """x' = theta(t) x: x(T) = x0 exp(int theta), so for l = x(T), G(t) = x(T), dl/dx0 = x(T)/x0."""
    def theta(t):
        return 0.3 + 0.2 * jnp.sin(t)

    times = np.linspace(0.0, T1, 5)
    result = continuous_gradient(lambda x, th: th * x, theta, jnp.asarray(1.5),
                                 lambda x: x, t1=T1, times=times)
    integral = 0.3 * T1 + 0.2 * (1 - np.cos(T1))
    x1 = 1.5 * np.exp(integral)
    assert float(result.x1) == pytest.approx(x1, rel=1e-9)
    np.testing.assert_allclose(result.rate, x1, rtol=1e-8)
    assert float(result.x0) == pytest.approx(np.exp(integral), rel=1e-8)
    assert float(result.total) == pytest.approx(x1 * T1, rel=1e-8)


# ------------------------------------------------ convergence on a nonlinear problem


def _flat_rate(tree, count):
    return np.concatenate([np.asarray(tree[k]).reshape(count, -1) for k in ("W", "b")], axis=1)


@functools.cache
def _reference_rate(method, kind, steps):
    with jax.enable_x64(True):
        times = layer_times(method, steps=steps, t1=T1, kind=kind)
        reference = continuous_gradient(check_field, check_theta, jnp.array([0.5, -0.8]),
                                        check_loss, t1=T1, times=times)
        return _flat_rate(reference.rate, len(times))


def _rate_error(method, kind, steps, mode, order=1, interior=False):
    """max |g_n - G(t_n)| / max |G| for the built-in problem."""
    params = sample_parameters(check_theta, method=method, steps=steps, t1=T1, layout=kind)
    got = layer_gradient(check_field, params, jnp.array([0.5, -0.8]), check_loss, t1=T1,
                         steps=steps, method=method, layout=kind, gradients=mode, order=order)
    G = _reference_rate(method, kind, steps)
    g = _flat_rate(got.rate, G.shape[0])
    cut = slice(1, -1) if interior else slice(None)
    return float(np.max(np.abs(g[cut] - G[cut])) / np.max(np.abs(G)))


def test_leapfrog_corrected_converges_first_and_second_order_raw_does_not(x64):
    sizes = (16, 32, 64)
    raw = [_rate_error("leapfrog", "per_step", n, "autodiff") for n in sizes]
    first = [_rate_error("leapfrog", "per_step", n, "corrected", 1) for n in sizes]
    second = [_rate_error("leapfrog", "per_step", n, "corrected", 2, interior=True)
              for n in sizes]
    assert min(raw) > 1.0 and raw[-1] > raw[0] * 0.9  # O(1), not shrinking
    first_orders = np.log2(np.array(first[:-1]) / np.array(first[1:]))
    second_orders = np.log2(np.array(second[:-1]) / np.array(second[1:]))
    assert np.all(np.abs(first_orders - 1.0) < 0.2), first_orders
    assert np.all(second_orders > 1.7), second_orders
    print("leapfrog errors raw", raw, "first", first, "second", second)
    assert first[-1] < 0.08 and second[-1] < 0.01


def test_two_stage_runge_kutta_stage_ratios_and_correction(x64):
    theta = check_theta
    x0 = jnp.array([0.5, -0.8])
    for name, ratio in (("midpoint", 0.0), ("ralston", 1.0 / 3.0), ("heun", 1.0)):
        params = sample_parameters(theta, method=name, steps=32, t1=T1, layout="per_stage")
        with _quiet():
            raw = layer_gradient(check_field, params, x0, check_loss, t1=T1, steps=32,
                                 method=name, layout="per_stage").rate
        fixed = layer_gradient(check_field, params, x0, check_loss, t1=T1, steps=32,
                               method=name, layout="per_stage", gradients="corrected").rate
        flat = lambda g: np.asarray(g["b"]).reshape(64, -1)  # noqa: E731
        # stage 1 / stage 2 of each step: b1 / b2 up to O(h)
        assert np.median(even_odd_ratios(flat(raw))) == pytest.approx(ratio, abs=0.05)
        assert np.median(even_odd_ratios(flat(fixed))) == pytest.approx(1.0, abs=0.05)
    # the stencil: midpoint's weightless first stage interpolates the neighbouring stage 2
    matrix = layer_stencil("midpoint", steps=4, kind="per_stage").matrix()
    np.testing.assert_allclose(matrix[2, [1, 3]], [0.25, 0.25])
    np.testing.assert_allclose(matrix[0, [1, 3]], [0.75, -0.25])  # extrapolated at t0
    np.testing.assert_allclose(np.diag(matrix)[1::2], 0.5)
    for name in ("midpoint", "ralston"):
        errors = [_rate_error(name, "per_stage", n, "corrected") for n in (16, 32)]
        raw_errors = [_rate_error(name, "per_stage", n, "autodiff") for n in (16, 32)]
        assert np.log2(errors[0] / errors[1]) > 0.85
        assert min(raw_errors) > 0.45


def test_adams_bashforth_corrected_converges(x64):
    for name in ("ab2", "ab3"):
        raw = [_rate_error(name, "per_step", n, "autodiff") for n in (16, 32)]
        fixed = [_rate_error(name, "per_step", n, "corrected") for n in (16, 32)]
        assert min(raw) > 0.4  # the last layers carry the wrong weight
        assert np.log2(fixed[0] / fixed[1]) > 0.85


# ------------------------------------------------ what must not change


def test_shared_and_initial_state_gradients_unchanged(x64):
    steps = 12
    one = check_theta(0.0)
    params = {"W": jnp.stack([check_theta(t)["W"] for t in np.linspace(0, T1, steps)]),
              "b": one["b"]}
    layout = {"W": "per_step", "b": "shared"}

    def objective(p, x0, mode):
        return check_loss(integrate(check_field, p, x0, t1=T1, steps=steps, method="leapfrog",
                                    layout=layout, gradients=mode, order=1).x1)

    x0 = jnp.array([0.5, -0.8])
    with _quiet():
        raw = jax.grad(objective, argnums=(0, 1))(params, x0, "autodiff")
    fixed = jax.grad(objective, argnums=(0, 1))(params, x0, "corrected")
    np.testing.assert_array_equal(raw[1], fixed[1])
    np.testing.assert_array_equal(raw[0]["b"], fixed[0]["b"])
    assert not np.allclose(raw[0]["W"], fixed[0]["W"])
    # the first-order leapfrog correction keeps the layer sum exactly
    np.testing.assert_allclose(raw[0]["W"].sum(0), fixed[0]["W"].sum(0), rtol=1e-12)
    # the pure function gives the same as the custom VJP
    np.testing.assert_allclose(correct_gradients(raw[0], method="leapfrog", steps=steps,
                                                 layout=layout, order=1)["W"], fixed[0]["W"],
                               rtol=1e-14)


def test_correct_gradients_on_a_hand_written_leapfrog(x64):
    """Gradients from an independent Python loop (as from another integrator library)."""
    steps, h = 10, T1 / 10
    params = sample_parameters(check_theta, method="leapfrog", steps=steps, t1=T1)
    x0 = jnp.array([0.5, -0.8])

    def loop(p):
        layer = lambda n: jax.tree.map(lambda a: a[n], p)  # noqa: E731
        previous, current = x0, x0 + h * check_field(x0, layer(0))
        for n in range(1, steps):
            previous, current = current, previous + 2 * h * check_field(current, layer(n))
        return check_loss(current)

    raw = jax.grad(loop)(params)
    fixed = jax.grad(lambda p: check_loss(integrate(
        check_field, p, x0, t1=T1, steps=steps, method="leapfrog", layout="per_step",
        gradients="corrected", order=2).x1))(params)
    again = correct_gradients(raw, method="leapfrog", steps=steps, order=2)
    for key in ("W", "b"):
        np.testing.assert_allclose(again[key], fixed[key], rtol=1e-11, atol=1e-14)
    rate = correct_gradients(raw, method="leapfrog", steps=steps, order=2, t1=T1, units="rate")
    np.testing.assert_allclose(rate["b"], again["b"] / h, rtol=1e-13)


# ------------------------------------------------ warnings and errors


def test_warning_for_inconsistent_layouts():
    x0 = jnp.array([0.5, -0.8])
    cases = [("leapfrog", "per_step", True), ("nystrom3", "per_step", True),
             ("ralston", "per_stage", True), ("midpoint", "per_stage", True),
             ("heun", "per_stage", False), ("leapfrog", "shared", False),
             ("ab2", "per_step", False)]
    for name, kind, warns in cases:
        params = check_theta(0.0) if kind == "shared" else sample_parameters(
            check_theta, method=name, steps=4, t1=T1, layout=kind)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            integrate(check_field, params, x0, t1=T1, steps=4, method=name, layout=kind)
        flagged = any(issubclass(w.category, InconsistentGradientWarning) for w in caught)
        assert flagged == warns, (name, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        integrate(check_field, sample_parameters(check_theta, method="leapfrog", steps=4, t1=T1),
                  x0, t1=T1, steps=4, method="leapfrog", layout="per_step",
                  gradients="corrected")
    assert not caught


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "rk5"}, "unknown integrator"),
    ({"method": "leapfrog", "layout": "per_stage"}, "multistep"),
    ({"method": "rk4", "layout": "per_step", "steps": 5}, "leading axis of length steps=5"),
    ({"method": "ralston", "gradients": "corrected", "order": 2}, "leapfrog only"),
    ({"method": "nystrom3", "gradients": "corrected"}, "no consistent correction"),
    ({"method": "euler", "gradients": "adjoint"}, "gradients must be"),
    ({"method": "euler", "layout": "per_layer"}, "per_layer"),
    ({"method": "euler", "steps": 0}, "positive integer"),
])
def test_configuration_errors(kwargs, message):
    params = sample_parameters(check_theta, method="euler", steps=4, t1=T1)
    options = {"t1": T1, "steps": 4, "layout": "per_step", **kwargs}

    def run(p):
        return check_loss(integrate(check_field, p, jnp.array([0.5, -0.8]), **options).x1)

    with pytest.raises(ConfigError, match=message):
        with _quiet():
            jax.grad(run)(params)
    with pytest.raises(ConfigError, match=message):  # already in the forward call
        with _quiet():
            run(params)


# ------------------------------------------------ diagnostics


def test_oscillation_index_and_even_odd_ratios():
    for n in (16, 32):
        t = np.linspace(0, 1, n)
        smooth = np.stack([np.sin(2 * t), np.cos(3 * t)], axis=1)
        if n == 16:
            coarse = oscillation_index(smooth)
        else:
            assert coarse / oscillation_index(smooth) == pytest.approx(4.0, rel=0.15)
    zigzag = np.ones((10, 1)) + 0.5 * (-1.0) ** np.arange(10)[:, None]
    assert oscillation_index(zigzag) == pytest.approx(1.0 / 1.5)
    np.testing.assert_allclose(even_odd_ratios(np.array([[1.0], [3.0], [2.0], [6.0]])), 1 / 3)


def test_refinement_and_consistency_checks(x64):
    x0 = jnp.array([0.5, -0.8])
    common = dict(t1=T1, steps=16, method="leapfrog")
    raw = refinement_check(check_field, check_theta, x0, check_loss, **common)
    fixed = refinement_check(check_field, check_theta, x0, check_loss, gradients="corrected",
                             **common)
    assert raw > 1.0 and fixed < 0.35
    consistency = consistency_check(check_field, check_theta, x0, check_loss,
                                    gradients="corrected", order=2, interior=True, **common)
    assert consistency < 0.05


def test_transfer_check_separates_smooth_from_zigzag(x64):
    x0 = jnp.array([0.5, -0.8])
    steps = 32
    smooth = sample_parameters(check_theta, method="leapfrog", steps=steps, t1=T1)
    zigzag = jax.tree.map(lambda a: a + 0.3 * (-1.0) ** jnp.arange(steps).reshape(
        (steps,) + (1,) * (a.ndim - 1)), smooth)
    good = transfer_check(check_field, smooth, x0, check_loss, t1=T1, steps=steps,
                          method="leapfrog")
    bad = transfer_check(check_field, zigzag, x0, check_loss, t1=T1, steps=steps,
                         method="leapfrog")
    assert abs(good.ratio - 1.0) < 0.01
    assert abs(bad.ratio - 1.0) > 0.1


def test_interpolate_and_sample_round_trip(x64):
    for name, kind in (("leapfrog", "per_step"), ("heun", "per_stage"), ("ralston", "per_stage")):
        params = sample_parameters(check_theta, method=name, steps=6, t1=T1, layout=kind)
        theta = interpolate_parameters(params, method=name, steps=6, t1=T1, layout=kind)
        times = layer_times(name, steps=6, t1=T1, kind=kind)
        for t in times[1:-1]:
            np.testing.assert_allclose(theta(jnp.asarray(t))["b"], check_theta(t)["b"],
                                       atol=1e-12)


def test_equinox_layers_as_per_step_parameters(x64, quiet):
    """A stack of eqx.nn.Linear layers (one per step) as the parameters of a vector field."""
    import equinox as eqx

    steps = 8
    keys = jax.random.split(jax.random.PRNGKey(0), steps)
    layers = eqx.filter_vmap(lambda k: eqx.nn.Linear(2, 2, key=k))(keys)

    def field(x, layer):
        return jnp.tanh(layer(x))

    def objective(p, mode):
        return check_loss(integrate(field, p, jnp.array([0.5, -0.8]), t1=T1, steps=steps,
                                    method="leapfrog", layout="per_step", gradients=mode).x1)

    raw = eqx.filter_grad(lambda p: objective(p, "autodiff"))(layers)
    fixed = eqx.filter_grad(lambda p: objective(p, "corrected"))(layers)
    again = correct_gradients(raw, method="leapfrog", steps=steps)
    np.testing.assert_allclose(again.weight, fixed.weight, rtol=1e-12)
    np.testing.assert_allclose(again.bias, fixed.bias, rtol=1e-12)
    assert not np.allclose(raw.weight, fixed.weight)


def test_the_highest_correction_order_is_the_default_everywhere(capsys):
    """leapfrog defaults to its second-order correction, every other method to first order,
    in `layer_stencil`, `integrate`, `correct_gradients` and `stablesim ode check` (one run
    with per-method orders)."""
    from stablesim.cli import main
    from stablesim.ode import highest_correction_order

    assert {name: highest_correction_order(name) for name in INTEGRATORS} == {
        name: 2 if name == "leapfrog" else 1 for name in INTEGRATORS}
    steps = 12
    for name in ("leapfrog", "ralston", "euler"):
        kind = "per_stage" if get_integrator(name).stages > 1 else "per_step"
        best = highest_correction_order(name)
        np.testing.assert_array_equal(
            layer_stencil(name, steps=steps, kind=kind).matrix(),
            layer_stencil(name, steps=steps, kind=kind, order=best).matrix())
    first, second = (layer_stencil("leapfrog", steps=steps, order=o).matrix() for o in (1, 2))
    assert not np.allclose(first, second)
    params = sample_parameters(check_theta, method="leapfrog", steps=steps, t1=T1,
                               layout="per_step")

    def grad(**kw):
        return jax.grad(lambda p: check_loss(integrate(
            check_field, p, jnp.array([0.5, -0.8]), t1=T1, steps=steps, method="leapfrog",
            layout="per_step", gradients="corrected", **kw).x1))(params)

    np.testing.assert_allclose(grad()["b"], grad(order=2)["b"])
    assert not np.allclose(grad()["b"], grad(order=1)["b"])
    with _quiet():
        raw = jax.grad(lambda p: check_loss(integrate(
            check_field, p, jnp.array([0.5, -0.8]), t1=T1, steps=steps, method="leapfrog",
            layout="per_step").x1))(params)
    np.testing.assert_allclose(correct_gradients(raw, method="leapfrog", steps=steps)["b"],
                               correct_gradients(raw, method="leapfrog", steps=steps,
                                                 order=2)["b"])
    code = main(["ode", "check", "--method", "leapfrog", "ralston", "--steps", "8"])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if "corrected" in line}
    assert rows["leapfrog"][3] == "2" and rows["ralston"][3] == "1"


def test_time_function_at_stage_times_by_hand():
    """Piecewise linear through knots (0, 1, 4) on [0, 2] and Chebyshev (1, 2, 3), evaluated
    at the stage times of Heun and midpoint with N = 2, against values computed by hand."""
    from stablesim.ode import TimeFunction, sample_parameters

    linear = TimeFunction({"a": jnp.array([0.0, 1.0, 4.0])}, basis="linear", t0=0.0, t1=2.0)
    heun = sample_parameters(linear, method="heun", steps=2, t1=2.0, layout="per_stage")
    np.testing.assert_allclose(heun["a"], [[0.0, 1.0], [1.0, 4.0]])  # stages at t_n, t_n + h
    mid = sample_parameters(linear, method="midpoint", steps=2, t1=2.0, layout="per_stage")
    np.testing.assert_allclose(mid["a"], [[0.0, 0.5], [1.0, 2.5]])  # t_n, t_n + h/2
    cheb = TimeFunction({"a": jnp.array([1.0, 2.0, 3.0])}, basis="chebyshev", t0=0.0, t1=2.0)
    # t = 0.5 -> x = -0.5: 1 * 1 + 2 * x + 3 * (2 x^2 - 1) = 1 - 1 - 1.5
    np.testing.assert_allclose(cheb(0.5)["a"], -1.5)
    leap = sample_parameters(cheb, method="leapfrog", steps=4, t1=2.0)
    x = np.array([-1.0, -0.5, 0.0, 0.5])  # leapfrog nodes t_0..t_3 = 0, 0.5, 1, 1.5
    np.testing.assert_allclose(leap["a"], 1 + 2 * x + 3 * (2 * x**2 - 1), rtol=1e-6)
    const = TimeFunction.constant({"a": jnp.array([2.0, 3.0])}, knots=5, basis="chebyshev")
    np.testing.assert_allclose(const(0.3)["a"], [2.0, 3.0])
    with pytest.raises(ConfigError, match="same leading axis"):
        TimeFunction({"a": jnp.zeros(3), "b": jnp.zeros(4)})


def test_a_smooth_in_time_model_trained_through_rk4_transfers(x64):
    """Trained with RK4 at N = 4 (K = 4 linear knots), the model's loss under RK4 at 2N and
    at 64 steps stays within 10% of its own training loss: it can be re-discretised."""
    import optax

    from stablesim.ode import TimeFunction, integrate_in_time

    def field(x, th):
        return jnp.tanh(th["W"] @ x + th["b"])

    teacher = TimeFunction({"W": 1.5 * jax.random.normal(jax.random.key(0), (3, 2, 2)),
                            "b": jax.random.normal(jax.random.key(1), (3, 2))})
    x0 = jax.random.normal(jax.random.key(2), (32, 2))
    y = jax.vmap(lambda x: integrate_in_time(field, teacher, x, t1=1.0, steps=128).x1)(x0)

    def loss(th, steps, method="rk4"):
        pred = jax.vmap(lambda x: integrate_in_time(field, th, x, t1=1.0, steps=steps,
                                                    method=method).x1)(x0)
        return jnp.mean(jnp.sum((pred - y) ** 2, axis=-1))

    opt = optax.adam(1e-2)
    th = TimeFunction.constant({"W": jnp.zeros((2, 2)), "b": jnp.zeros(2)}, knots=4)

    def update(carry, _):
        p, state = carry
        value, grads = jax.value_and_grad(loss)(p, 4)
        changes, state = opt.update(grads, state, p)
        return (optax.apply_updates(p, changes), state), value

    (th, _), losses = jax.jit(lambda p: jax.lax.scan(update, (p, opt.init(p)), None,
                                                     length=1000))(th)
    own = float(loss(th, 4))
    assert own < 0.05 * float(losses[0])  # it learned
    for steps, method in ((8, "rk4"), (64, "rk4"), (64, "leapfrog")):
        assert abs(float(loss(th, steps, method)) / own - 1) < 0.10, (steps, method)


def test_ode_transfer_pins_raw_against_corrected_and_smooth(tmp_path, capsys):
    """`stablesim ode transfer` on a small run: raw autodiff per-layer leapfrog becomes
    step-specific (ratio > 5x the corrected one at every logged point, growing), the smooth
    variants keep every ratio within 10%, the files and the recommendation follow."""
    from stablesim.cli import main

    code = main(["ode", "transfer", "--out", str(tmp_path), "--steps", "8", "--updates", "100",
                 "--log-every", "50", "--plateau-window", "50", "--plateau", "0.2",
                 "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    import csv

    rows = list(csv.DictReader((tmp_path / "ode_transfer.csv").open()))
    by, plateaued = {}, {}
    for r in rows:
        ratios = [float(r["finer"]), float(r["other"]), float(r["adaptive"])]
        by.setdefault(r["variant"], []).append(max(abs(v - 1) for v in ratios))
        plateaued[r["variant"]] = r["plateaued"] == "True"
    assert len(rows) == 12 and len(by) == 6
    final = {r["variant"]: float(r["own"]) for r in rows if r["updates"] == "100"}
    keepers = [n for n in by if max(by[n]) <= 0.10 and plateaued[n]]
    assert keepers, "some smooth variant plateaued at 20% per 50 updates"
    assert f"Recommended: {min(keepers, key=final.get)}: its loss plateaued" in out  # by hand
    raw, corrected = by["per-layer leapfrog x 8, autodiff"], by["per-layer leapfrog x 8, corrected"]
    assert all(r > 5 * c for r, c in zip(raw, corrected)) and raw[1] > raw[0]  # it drifts
    assert max(corrected) < 0.05
    for name in ("smooth, leapfrog x 8", "smooth, leapfrog x 8 and x 16", "smooth, RK4 x 2",
                 "smooth, RK4 x 8"):
        assert max(by[name]) < 0.10, name
    assert "warning: per-layer leapfrog x 8, autodiff: step-specific from update 50" in out
    assert (tmp_path / "ode_transfer.png").stat().st_size > 10_000
    assert "| per-layer leapfrog x 8, corrected | 100 |" in (tmp_path / "ode_transfer.md").read_text()


def test_plateau_update_by_hand():
    from stablesim.ode import plateau_update

    history = [(100, 1.0), (200, 0.5), (300, 0.45), (400, 0.449), (500, 0.30)]
    assert plateau_update(history, window=100, plateau=0.01) == 400   # 0.45 -> 0.449
    assert plateau_update(history, window=100, plateau=0.2) == 300    # 0.5 -> 0.45 is 10%
    assert plateau_update(history, window=200, plateau=0.01) is None  # 1->.45, .5->.449, .45->.3
    assert plateau_update(history[:1], window=100, plateau=0.5) is None
    rising = [(10, 1.0), (20, 1.2)]
    assert plateau_update(rising, window=10, plateau=0.01) == 20      # no progress is flat


def test_transfer_verdicts_by_hand():
    from stablesim.ode import transfer_verdicts

    def row(name, updates, own, ratio, plateaued=True):
        return {"variant": name, "updates": updates, "own": own, "finer": ratio,
                "other": ratio, "plateaued": plateaued}

    rows = [row("a", 10, 1e-3, 1.0), row("a", 20, 1e-4, 5.0),        # best loss, drifts
            row("b", 10, 2e-3, 1.02, False), row("b", 20, 9e-4, 1.05),  # keeps, plateaus
            row("c", 10, 1e-1, 1.0), row("c", 20, 5e-2, 1.0),        # transfers, too poor
            row("d", 10, 1e-3, 0.95), row("d", 20, 1e-5, 0.80),      # limited by its steps
            row("e", 10, 1e-3, 1.0, False), row("e", 20, 1e-6, 1.0, False)]  # still falling
    notes, recommendation = transfer_verdicts(rows)
    assert notes == ["a: step-specific from update 20 (loss under a finer or another "
                     "discretisation 5.00x to 5.00x its own; ratios range 1.00-5.00)",
                     "d: limited by its discretisation from update 20 (loss under a finer or "
                     "another discretisation 0.80x to 0.80x its own; ratios range 0.80-0.95)"]
    assert recommendation.startswith("Recommended: b: its loss plateaued (update 20)")
    _, falling = transfer_verdicts([r for r in rows if r["variant"] in "ae"])
    assert falling.startswith("Not plateaued yet: e kept every transfer ratio")
    _, none_kept = transfer_verdicts([row("a", 10, 1e-3, 3.0), row("d", 10, 1e-2, 0.7)])
    assert none_kept.startswith("No variant kept") and "closest: d (farthest 0.300" in none_kept


def test_transfer_monitor_ratios_and_a_single_warning():
    """Ratios are the losses under 2N and under the other method over the own loss; the
    warning comes once, at the first step-specific evaluation."""
    from stablesim.ode import StepSpecificWarning, TransferMonitor

    table = {0: {("leapfrog", 16): 1.0, ("leapfrog", 32): 1.05, ("rk4", 64): 1.02},
             1: {("leapfrog", 16): 0.5, ("leapfrog", 32): 0.9, ("rk4", 64): 0.6},
             2: {("leapfrog", 16): 0.2, ("leapfrog", 32): 0.8, ("rk4", 64): 0.7}}
    monitor = TransferMonitor(lambda which, method, steps: table[which][(method, steps)],
                              method="leapfrog", steps=16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = monitor(0, 100)
        second = monitor(1, 200)
        monitor(2, 300)
    assert first == {"updates": 100, "own": 1.0, "finer": pytest.approx(1.05),
                     "other": pytest.approx(1.02), "adaptive": None, "step_specific": False,
                     "discretisation_limited": False}
    assert second["finer"] == pytest.approx(1.8) and second["step_specific"]
    assert [type(w.message) for w in caught] == [StepSpecificWarning]
    assert "step-specific at step 200" in str(caught[0].message)
    assert "step-specific at step 300" in monitor.advice() and len(monitor.history) == 3


def test_transfer_monitor_flags_a_loss_dominated_by_its_own_steps():
    """A finer step much better than the trained one (ratio below 1 - tolerance) is flagged
    as limited by the discretisation, with its own advice; a bad tolerance is refused."""
    from stablesim import ConfigError
    from stablesim.ode import StepSpecificWarning, TransferMonitor

    losses = {("leapfrog", 8): 1.0, ("leapfrog", 16): 0.5, ("rk4", 64): 0.4}
    monitor = TransferMonitor(lambda _, method, steps: losses[(method, steps)],
                              method="leapfrog", steps=8, adaptive_loss=lambda _: 0.41)
    with pytest.warns(StepSpecificWarning, match="limited by its discretisation at step 7"):
        row = monitor(None, 7)
    assert row["discretisation_limited"] and not row["step_specific"]
    assert row["adaptive"] == pytest.approx(0.41)
    with pytest.raises(ConfigError, match="tolerance"):
        TransferMonitor(lambda *_: 1.0, method="leapfrog", steps=8, tolerance=1.5)
