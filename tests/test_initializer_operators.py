"""Every initializer keeps its promise on the assembled operator of every layer of every
architecture `make_network` builds (the operator is assembled by calling the layer on
unit inputs, independently of how the layer stores its weight)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim._options import ARCHITECTURES, INITIALIZERS
from stablesim.models import PeriodicConv, make_network
from stablesim.models._layouts import is_linear_layer

GRID = 8
RHO, DELTA = 0.9, 0.1


def _layers(net):
    found = []

    def visit(x):
        if is_linear_layer(x):
            found.append(x)
        elif isinstance(x, eqx.Module):
            for value in vars(x).values():
                visit(value)
        elif isinstance(x, list | tuple):
            for value in x:
                visit(value)

    visit(net)
    return found


def operator(layer, dims: int) -> np.ndarray:
    """The layer's linear operator (bias removed) as a dense matrix, in float64."""
    if getattr(layer, "bias", None) is not None:
        layer = eqx.tree_at(lambda m: m.bias, layer, jnp.zeros_like(layer.bias))
    if isinstance(layer, PeriodicConv):
        cin = layer.weight.shape[1] // layer.kernel_size**dims
        shape = (GRID,) * dims + (cin,)
    elif isinstance(layer, eqx.nn.Linear):
        shape = (layer.in_features,)
    else:  # channels-first convolutions (Equinox, PDEquinox), spectral ones included
        cin = layer.weights_real.shape[1] if hasattr(layer, "weights_real") else layer.in_channels
        shape = (cin,) + (GRID,) * dims

    def flat(v):
        return jnp.ravel(layer(v.reshape(shape)))

    x = jnp.zeros(int(np.prod(shape)))
    return np.asarray(jax.jacfwd(flat)(x), np.float64)


def _build(architecture, initializer, dims=1):
    vector = architecture in ("mlp", "linear")
    shape = (6,) if vector else (1,) + (GRID,) * dims
    return make_network(architecture, state_shape=shape, num_parameters=1, width=4, depth=2,
                        initializer=initializer, key=jax.random.key(3)), (0 if vector else dims)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("initializer", ["gershgorin_rows", "gershgorin", "dissipative", "zeros"])
def test_stable_initializers_bound_every_layer_operator(architecture, initializer):
    net, dims = _build(architecture, initializer)
    layers = _layers(net)
    assert layers
    square = 0
    for layer in layers:
        m = operator(layer, dims)
        spectral = hasattr(layer, "weights_real")
        if initializer == "zeros":
            assert np.abs(m).max() == 0
        elif initializer == "gershgorin_rows":
            if spectral:  # per-mode Gershgorin: eigenvalues, not spatial row sums
                assert np.abs(np.linalg.eigvals(m)).max() <= RHO * (1 + 1e-5)
            else:
                assert np.abs(m).sum(axis=1).max() <= RHO * (1 + 1e-5)
        elif initializer == "gershgorin":
            assert np.linalg.norm(m, 2) <= RHO * (1 + 1e-5)
            if not spectral:
                assert np.abs(m).sum(axis=0).max() <= RHO * (1 + 1e-5)
                assert np.abs(m).sum(axis=1).max() <= RHO * (1 + 1e-5)
        elif m.shape[0] == m.shape[1] and not spectral:  # dissipative: square layers
            w = layer.weight
            if w.shape[0] * GRID**dims == m.shape[0]:
                square += 1
                assert np.linalg.eigvalsh((m + m.T) / 2).max() <= -DELTA * (1 - 1e-5)
    if initializer == "dissipative" and architecture not in ("fno", "linear"):
        assert square >= 1  # hidden layers are square: the promise applies somewhere


@pytest.mark.parametrize("architecture", ["conv", "resnet", "pdeqx_conv", "mlp"])
@pytest.mark.parametrize("initializer, gain", [("he", 2.0), ("lecun", 1.0)])
def test_variance_scaling_sets_the_operator_row_energy(architecture, initializer, gain):
    """Mean squared row norm of a layer's operator = fan_in x variance = gain (in expectation)."""
    energies = []
    for seed in range(8):
        net = make_network(architecture, state_shape=(6,) if architecture == "mlp" else (1, GRID),
                           num_parameters=1, width=16, depth=2, initializer=initializer,
                           key=jax.random.key(seed))
        dims = 0 if architecture == "mlp" else 1
        for layer in _layers(net)[1:-1]:  # hidden layers: fan-in 16 x taps
            m = operator(layer, dims)
            energies.append((m**2).sum(axis=1).mean())
    assert 0.8 * gain < np.mean(energies) < 1.25 * gain


def test_orthogonal_rows_of_every_periodic_conv_operator_are_unit():
    net = make_network("conv", state_shape=(1, GRID), num_parameters=1, width=4, depth=2,
                       initializer="orthogonal", key=jax.random.key(0))
    for layer in _layers(net)[1:-1]:
        m = operator(layer, 1)
        np.testing.assert_allclose((m**2).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dims", [1, 2])
def test_periodic_conv_layout_round_trip_matches_its_operator(dims):
    """The canonical weight read back from a PeriodicConv predicts its operator's entries."""
    from stablesim.models._layouts import canonical_weight, with_canonical_weight

    layer = PeriodicConv(dims, 2, 3, key=jax.random.key(0))
    kind, w = canonical_weight(layer)
    assert kind == "spatial" and w.shape == (3, 2) + (3,) * dims
    again = with_canonical_weight(layer, w)
    np.testing.assert_array_equal(again.weight, layer.weight)
    m = operator(layer, dims)  # rows (x, o), columns (y, i) channels-last
    m = m.reshape((GRID,) * dims + (3,) + (GRID,) * dims + (2,))
    centre = (0,) * dims
    for o in range(3):
        for i in range(2):
            for tap in np.ndindex(*(3,) * dims):
                y = tuple((t - 1) % GRID for t in tap)  # output at 0 reads input at tap - 1
                assert m[centre + (o,) + y + (i,)] == pytest.approx(float(w[(o, i) + tap]))


def test_every_other_initializer_name_builds_every_architecture():
    """The names the bound tests above do not build on every architecture (traced
    abstractly: construction and initialization run, no arrays are computed)."""
    checked = {"gershgorin_rows", "gershgorin", "dissipative", "zeros"}
    for architecture in ARCHITECTURES:
        vector = architecture in ("mlp", "linear")
        for initializer in [n for n in INITIALIZERS if n not in checked]:
            net = eqx.filter_eval_shape(
                lambda key, a=architecture, i=initializer, v=vector: make_network(
                    a, state_shape=(6,) if v else (1, GRID), num_parameters=1, width=4,
                    depth=2, initializer=i, key=key), jax.random.key(3))
            assert any(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree_util.tree_leaves(net))


def _step_jacobian(architecture, initializer, *, n=6, residual, parameters=1, seed=0):
    """The assembled one-step operator d(step)/du of a vector model (autodiff, at u = 0)."""
    from stablesim.simulators import Prediction

    net = make_network(architecture, state_shape=(n,), num_parameters=parameters, width=8,
                       depth=1, initializer=initializer, residual=residual,
                       key=jax.random.key(seed))
    sim = Prediction(net, residual=residual)
    p = jnp.ones(parameters)
    return np.asarray(jax.jacfwd(lambda u: sim(u, p))(jnp.zeros(n)), np.float64), net


@pytest.mark.parametrize("initializer", ["gershgorin", "gershgorin_rows"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_linear_models_carry_the_bound_on_their_step_operator(initializer, seed):
    """u + W u: the step operator I + W (not W alone) has the initializer's bound, with a
    parameter channel; without the residual shift the step is near I + W (radius > 1)."""
    step, _ = _step_jacobian("linear", initializer, residual=True, seed=seed)
    rows, cols = np.abs(step).sum(axis=1), np.abs(step).sum(axis=0)
    assert rows.max() <= 0.9 + 1e-5  # Gershgorin rows: every eigenvalue |mu| <= 0.9
    assert np.abs(np.linalg.eigvals(step)).max() <= 0.9 + 1e-5
    if initializer == "gershgorin":
        assert cols.max() <= 0.9 + 1e-5 and np.linalg.norm(step, 2) <= 0.9 + 1e-5
    plain = make_network("linear", state_shape=(6,), num_parameters=1, initializer=initializer,
                         key=jax.random.key(seed))
    from stablesim.simulators import Prediction

    unshifted = np.asarray(jax.jacfwd(lambda u: Prediction(plain, residual=True)(
        u, jnp.ones(1)))(jnp.zeros(6)))
    assert np.abs(np.linalg.eigvals(unshifted)).max() > 1.0  # what the shift removes


def test_dissipative_reaches_a_layer_with_parameter_channels():
    """`linear` with a parameter channel: the (n, n + 1) layer's state block has symmetric
    part <= -0.1; the parameter column is the architecture's own."""
    step, net = _step_jacobian("linear", "dissipative", residual=False, parameters=2)
    sym = (step + step.T) / 2
    assert np.linalg.eigvalsh(sym).max() <= -0.1 + 1e-6
    default = make_network("linear", state_shape=(6,), num_parameters=2,
                           key=jax.random.key(0))
    w, w0 = (np.asarray(m.core.mlp.layers[0].weight) for m in (net, default))
    assert w.shape == (6, 8)
    np.testing.assert_array_equal(w[:, 6:], w0[:, 6:])
