"""Architectures with parameter channels, and initializers by name."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim import ConfigError
from stablesim.models import ARCHITECTURES, initialize, make_network


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a not in ("mlp", "linear")])
def test_field_architectures_map_state_and_parameters_to_a_state(arch):
    net = make_network(arch, state_shape=(2, 16), num_parameters=1, width=4, depth=2,
                       key=jax.random.key(0))
    u = jax.random.normal(jax.random.key(1), (2, 16))
    out = net(u, jnp.array([1.0]))
    assert out.shape == (2, 16)
    assert not np.allclose(out, net(u, jnp.array([3.0])))  # the parameter is seen


def test_parameters_enter_as_constant_scaled_channels():
    net = make_network("conv", state_shape=(1, 8), num_parameters=2, parameter_scale=(0.5, 2.0),
                       width=3, depth=0, key=jax.random.key(0))
    seen = []
    spy = eqx.tree_at(lambda n: n.core, net, replace_fn=lambda c: (lambda x: seen.append(x) or c(x)))
    u = jnp.arange(8.0)[None]
    spy(u, jnp.array([4.0, 3.0]))
    x = seen[0]
    np.testing.assert_array_equal(x[0], u[0])
    np.testing.assert_array_equal(x[1], jnp.full(8, 2.0))
    np.testing.assert_array_equal(x[2], jnp.full(8, 6.0))


def test_vector_architectures():
    lin = make_network("linear", state_shape=(5,), key=jax.random.key(0))
    x = jnp.arange(5.0)
    w = lin.core.mlp.layers[0].weight
    np.testing.assert_allclose(lin(x, jnp.zeros(0)), w @ x, rtol=1e-6)
    with pytest.raises(ConfigError, match="needs vector states"):
        make_network("mlp", state_shape=(1, 8), key=jax.random.key(0))
    with pytest.raises(ConfigError, match="unknown architecture"):
        make_network("transformer", state_shape=(1, 8), key=jax.random.key(0))


def test_initializers_by_name():
    net = make_network("linear", state_shape=(200,), key=jax.random.key(0))
    w = lambda m: np.asarray(m.core.mlp.layers[0].weight)  # noqa: E731
    assert np.all(w(initialize(net, "zeros", key=jax.random.key(1))) == 0)
    he = w(initialize(net, "he", key=jax.random.key(1)))
    glorot = w(initialize(net, "glorot", key=jax.random.key(1)))
    np.testing.assert_allclose(he.var(), 2 / 200, rtol=0.1)
    np.testing.assert_allclose(glorot.var(), 2 / 400, rtol=0.1)
    q = w(initialize(net, "orthogonal", key=jax.random.key(1)))
    np.testing.assert_allclose(q @ q.T, np.eye(200), atol=1e-4)
    small = w(initialize(net, "small", key=jax.random.key(1)))
    np.testing.assert_allclose(small, 0.01 * w(net), rtol=1e-6)
    with pytest.raises(ConfigError, match="unknown initializer"):
        initialize(net, "xavier", key=jax.random.key(1))


@pytest.mark.parametrize("dims, k", [(1, 3), (1, 5), (2, 3), (1, 4)])
def test_periodic_conv_equals_xla_convolution_with_wrapped_padding(dims, k):
    from stablesim.models import PeriodicConv

    conv = PeriodicConv(dims, 3, 4, kernel_size=k, key=jax.random.key(0))
    n = 10
    x = jax.random.normal(jax.random.key(1), (n,) * dims + (3,))
    lo = (k - 1) // 2
    padded = jnp.pad(x, [(lo, k - 1 - lo)] * dims + [(0, 0)], mode="wrap")
    # independent oracle: XLA's convolution, kernel rebuilt as (out, in, *k)
    kernel = conv.weight.reshape((4,) + (k,) * dims + (3,))
    kernel = jnp.moveaxis(kernel, -1, 1)
    lhs = jnp.moveaxis(padded, -1, 0)[None]
    ref = jax.lax.conv_general_dilated(lhs, kernel, (1,) * dims, "VALID")[0] + \
        conv.bias.reshape((4,) + (1,) * dims)
    np.testing.assert_allclose(conv(x), jnp.moveaxis(ref, 0, -1), rtol=1e-5, atol=1e-5)


def test_fast_convnet_is_translation_equivariant_on_the_periodic_grid():
    net = make_network("resnet", state_shape=(1, 16), width=4, depth=2, key=jax.random.key(0))
    u = jax.random.normal(jax.random.key(1), (1, 16))
    np.testing.assert_allclose(net(jnp.roll(u, 3, -1), jnp.zeros(0)),
                               jnp.roll(net(u, jnp.zeros(0)), 3, -1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dims, n", [(1, 12), (2, 6), (3, 4)])
def test_im2col_and_xla_convolutions_are_the_same_map(x64, dims, n):
    from stablesim.models._fast_conv import PeriodicConv

    conv, im2col, xla = (PeriodicConv(dims, 3, 5, kernel_size=3, method=method,
                                      key=jax.random.key(0)) for method in ("auto", "im2col", "xla"))
    x = jax.random.normal(jax.random.key(1), (n,) * dims + (3,))
    np.testing.assert_allclose(im2col(x), xla(x), rtol=1e-12, atol=1e-12)

    def grads(layer):
        return jax.grad(lambda w, x: jnp.sum(jnp.sin(eqx.tree_at(lambda c: c.weight, layer, w)(x))),
                        argnums=(0, 1))(layer.weight, x)

    for a, b in zip(grads(im2col), grads(xla)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # An independent oracle: a naive periodic cross-correlation, one output point at a time.
    point = (1,) * dims
    patch = [x[tuple((p + o - 1) % n for p, o in zip(point, offset))]
             for offset in itertools.product(range(3), repeat=dims)]
    expect = conv.weight @ jnp.concatenate(patch) + conv.bias
    np.testing.assert_allclose(xla(x)[point], expect, rtol=1e-12)
    assert conv.resolved_method("cpu") == "im2col"
    assert conv.resolved_method("gpu") == ("im2col" if dims == 1 else "xla")
