"""How an update runs (update loop, unroll loop, rematerialisation) changes speed and
memory, never the loss, the gradient or the trained network."""

import dataclasses

import equinox as eqx
import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest

from stablesim.models import make_network
from stablesim.simulators import Prediction, with_network
from stablesim.training import (
    NOG,
    ONE,
    WIG,
    ModalityConfig,
    StageConfig,
    TrainConfig,
    resolve_execution,
    step_residual_bytes,
    train,
    uses_xla_convolution,
)
from test_trainer import leaves, make_simulator, toy_dataset

N = 16


def _mlp_simulator(key, n=N):
    net = make_network("mlp", state_shape=(n,), num_parameters=1, parameter_scale=(1.0,),
                       width=32, depth=2, key=key)
    return Prediction(net)


@pytest.mark.parametrize("modality", [ONE(3), NOG(3, pushforward=2), WIG(4), WIG(4, cut_every=2)])
def test_every_execution_gives_the_same_loss_and_gradient(x64, modality):
    sim = _mlp_simulator(jax.random.key(0))
    windows = jax.random.normal(jax.random.key(1), (5, modality.window_length, N))
    params = jnp.ones((5, 1))
    weights, static = eqx.partition(sim.network, eqx.is_inexact_array)

    def value_and_grad(m):
        return jax.value_and_grad(
            lambda w: m.loss(with_network(sim, eqx.combine(w, static)), windows, params))(weights)

    ref_loss, ref_grad = value_and_grad(modality)
    assert float(ref_loss) > 0
    for remat in (True, False):
        for scan in (True, False):
            loss, grad = value_and_grad(dataclasses.replace(modality, remat=remat, scan=scan))
            np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
            for a, b in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(ref_grad)):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def _peak_bytes(modality, sim, batch=8):
    windows = jnp.zeros((batch, modality.window_length, 1, 64))
    params = jnp.zeros((batch, 0))
    weights, static = eqx.partition(sim.network, eqx.is_inexact_array)

    def grad(w):
        return jax.grad(lambda q: modality.loss(with_network(sim, eqx.combine(q, static)),
                                               windows, params))(w)

    mem = jax.jit(grad).lower(weights).compile().memory_analysis()
    return mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes


def test_remat_keeps_memory_flat_and_auto_switches_it_on_by_budget():
    # Activations dominate (32 channels per point of a 1-channel state), as in simulators.
    sim = Prediction(make_network("resnet", state_shape=(1, 64), width=32, depth=3,
                                  key=jax.random.key(0)))
    flat = [_peak_bytes(WIG(m), sim) for m in (8, 64)]
    grows = [_peak_bytes(dataclasses.replace(WIG(m), remat=False), sim) for m in (8, 64)]
    assert flat[1] <= 2 * flat[0]  # the memory-flat guarantee: m = 64 within 2x of m = 8
    assert grows[1] > 3 * grows[0]  # without remat the activations of every step are kept
    # The estimate against XLA's own buffer assignment: what remat saves at m = 64.
    state, params = jnp.zeros((1, 64)), jnp.zeros(0)
    per_step = step_residual_bytes(sim, state, params)
    saved = grows[1] - flat[1]
    assert 0.5 * saved <= per_step * 64 * 8 <= 2.0 * saved, (per_step * 64 * 8, saved)
    budget_mb = per_step * 16 * 8 / 2**20  # between m = 8 and m = 64
    config = TrainConfig(remat_budget_mb=budget_mb, seeds=[0])

    def chosen(m, **kw):
        stage = StageConfig(modality=ModalityConfig(name="WIG", unroll=m))
        return resolve_execution(config.model_copy(update=kw), stage, sim, state, params,
                                 num_seeds=1, batch_size=8, backend="cpu")

    assert not chosen(8).remat and chosen(64).remat
    assert chosen(8, remat="always").remat and not chosen(64, remat="never").remat
    assert chosen(8).loop == "scan" and not chosen(8).scan and chosen(64).scan  # im2col resnet
    gpu = resolve_execution(config, StageConfig(), sim, state, params, num_seeds=1,
                            batch_size=8, backend="gpu")
    assert gpu.loop == "scan" and gpu.scan
    conv, im2col = (Prediction(make_network(arch, state_shape=(1, 256), num_parameters=1,
                                            parameter_scale=(1.0,), width=4, depth=1,
                                            key=jax.random.key(0)))
                    for arch in ("pdeqx_conv", "conv"))
    stage = StageConfig(modality=ModalityConfig(name="WIG", unroll=8))
    state, params = jnp.zeros((1, 256)), jnp.ones(1)
    assert uses_xla_convolution(conv, state, params)
    assert not uses_xla_convolution(im2col, state, params)
    assert resolve_execution(config, stage, conv, state, params, num_seeds=1, batch_size=8,
                             backend="cpu").loop == "step"
    assert resolve_execution(config, stage, im2col, state, params, num_seeds=1, batch_size=8,
                             backend="cpu").loop == "scan"


def test_update_loops_train_the_same_network_and_a_resume_may_switch_them(tmp_path):
    data = toy_dataset()
    modality = ModalityConfig(name="NOG", unroll=3)
    base = dict(updates=20, batch_size=6, log_every=10, checkpoint_every=10, seeds=[0, 1])
    results = {}
    for loop, unroll_loop, remat in [("step", "python", "never"), ("scan", "scan", "always"),
                                     ("step", "scan", "auto")]:
        cfg = TrainConfig(**base, loop=loop, unroll_loop=unroll_loop, remat=remat)
        results[loop, unroll_loop] = train(make_simulator, data, cfg, modality, progress=False)
    ref = leaves(results["step", "python"].networks)
    for other in results.values():
        assert other.skipped == [0, 0]
        for a, b in zip(ref, leaves(other.networks)):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    untrained = train(make_simulator, data, TrainConfig(**dict(base, updates=1, log_every=1,
                                                              checkpoint_every=1)),
                      modality, progress=False)
    assert any(not np.allclose(a, b) for a, b in zip(ref, leaves(untrained.networks)))
    # A run checkpointed with one loop resumes with another.
    train(make_simulator, data, TrainConfig(**base, loop="scan"), modality, out_dir=tmp_path,
          stop_after=10, progress=False)
    resumed = train(make_simulator, data, TrainConfig(**base, loop="step"), modality,
                    out_dir=tmp_path, resume=True, progress=False)
    for a, b in zip(ref, leaves(resumed.networks)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)


def test_device_split_rules():
    from stablesim import ConfigError
    from stablesim.training import device_split

    assert device_split(None, 4, 16, available=1) == (1, None)
    assert device_split(None, 4, 16, available=4) == (4, "seeds")
    assert device_split(None, 2, 16, available=4) == (4, "batch")
    assert device_split(None, 3, 10, available=4) == (3, "seeds")
    assert device_split(2, 3, 10, available=4) == (2, "batch")
    with pytest.raises(ConfigError, match="training.devices: 4 asked, 2 available"):
        device_split(4, 4, 16, available=2)
    with pytest.raises(ConfigError, match="divide neither"):
        device_split(4, 3, 10, available=4)


_SHARDED = """
import sys, numpy as np, jax
sys.path.insert(0, {tests!r})
from test_trainer import leaves, make_simulator, toy_dataset
from stablesim.training import ModalityConfig, TrainConfig, train
assert jax.local_device_count() == 4
data, modality = toy_dataset(), ModalityConfig(name="NOG", unroll=3)
for seeds, batch in (([0, 1, 2, 3], 6), ([0], 8)):
    base = dict(updates=10, batch_size=batch, log_every=5, checkpoint_every=5, seeds=seeds)
    one = train(make_simulator, data, TrainConfig(**base, devices=1), modality, progress=False)
    four = train(make_simulator, data, TrainConfig(**base, devices=4), modality, progress=False)
    sharding = jax.tree_util.tree_leaves(four.networks)[0].sharding
    assert len(sharding.device_set) == 4, sharding
    for a, b in zip(leaves(one.networks), leaves(four.networks)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    print("ok", len(seeds))
"""


def test_seeds_or_batch_split_over_four_devices_train_the_same_networks(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    # Executables cached by the one-device tests hang the 4-device collectives: XLA_FLAGS
    # are not part of JAX's cache key (see stablesim.cli._use_compilation_cache).
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    code = _SHARDED.format(tests=str(pathlib.Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", "4", "ok", "1"]


_PROCESS = """
import os, sys
sys.path.insert(0, {tests!r})
from stablesim._distributed import initialize_from_environment
assert initialize_from_environment()
import jax, numpy as np
from test_trainer import leaves, make_simulator, toy_dataset
from stablesim.training import ModalityConfig, TrainConfig, train
assert jax.process_count() == 2 and jax.device_count() == 2 and jax.local_device_count() == 1
from stablesim.training import _execution
placed, place = [], _execution.Execution.place
def recording(self, states):
    out = place(self, states)
    placed.append(len(jax.tree_util.tree_leaves(out)[0].sharding.device_set))
    return out
_execution.Execution.place = recording
data, modality = toy_dataset(), ModalityConfig(name="NOG", unroll=3)
base = dict(updates=10, batch_size=6, log_every=5, checkpoint_every=5, seeds=[0, 1])
train(make_simulator, data, TrainConfig(**base), modality, out_dir="run", stop_after=5,
      progress=False)
resumed = train(make_simulator, data, TrainConfig(**base), modality, out_dir="run",
                resume=True, progress=False)
np.savez(f"process{{jax.process_index()}}.npz", *leaves(resumed.networks))
assert placed == [2, 2], placed  # both parts' states span both processes' devices
print("ok", jax.process_index())
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_run_as_one_process_would(tmp_path):
    """`jax.distributed` over two processes (one CPU device each, gloo collectives): seeds
    split over the processes, a checkpoint written by process 0 alone and resumed by both,
    the same networks as one process (to float tolerance) on every process. (The batch
    split is the same mesh code, tested over four devices above.)"""
    import os
    import pathlib
    import subprocess
    import sys

    from stablesim.training import ModalityConfig, TrainConfig, train
    from test_trainer import leaves, make_simulator, toy_dataset

    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{_free_port()}",
               JAX_NUM_PROCESSES="2", JAX_PLATFORMS="cpu")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # one-process programs are not these
    env.pop("XLA_FLAGS", None)
    code = _PROCESS.format(tests=str(pathlib.Path(__file__).parent))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(env, JAX_PROCESS_ID=str(i)),
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert sorted(o.split()[-1] for o, _ in outs) == ["0", "1"]
    run = tmp_path / "run"
    assert sorted(f.name for f in run.iterdir()) == ["checkpoint.eqx", "checkpoint.eqx.prev",
                                                      "train_log.csv"]
    assert [int(r.split(",")[0]) for r in (run / "train_log.csv").read_text().split()[1:]] == [
        5, 5, 10, 10]

    data, modality = toy_dataset(), ModalityConfig(name="NOG", unroll=3)
    base = dict(updates=10, batch_size=6, log_every=5, checkpoint_every=5, seeds=[0, 1])
    alone = train(make_simulator, data, TrainConfig(**base), modality, progress=False)
    expected = leaves(alone.networks)
    for i in range(2):
        got = np.load(tmp_path / f"process{i}.npz")
        assert len(got.files) == len(expected)
        for k, want in enumerate(expected):
            np.testing.assert_allclose(got[f"arr_{k}"], want, rtol=2e-4, atol=1e-6)


def _output_shapes(jaxpr) -> set:
    """Shapes of every value an equation of `jaxpr` (and its sub-jaxprs) computes."""
    shapes = set()
    for eqn in jaxpr.eqns:
        shapes |= {tuple(v.aval.shape) for v in eqn.outvars}
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            shapes |= _output_shapes(sub)
    return shapes


def test_a_python_loop_unroll_never_stacks_its_states():
    """Each step's error enters the loss at once, so a NOG step's backward pass needs
    nothing from later steps and XLA overlaps it with the next forward pass (measured:
    NOG-5 gradient 73 -> 36 ms on 2 cores); a stack of the m states would make every
    backward pass wait for the whole rollout. The scan path does stack (the check can
    fail)."""
    sim = _mlp_simulator(jax.random.key(0))
    m = 3
    window = jax.random.normal(jax.random.key(1), (m + 1, N))

    def gradient_shapes(modality):
        def loss(net):
            return modality.window_loss(with_network(sim, net), window, jnp.ones(1))
        return _output_shapes(eqx.filter_make_jaxpr(eqx.filter_grad(loss))(sim.network)[0].jaxpr)

    stacked = (m, N)
    python = dataclasses.replace(NOG(m), scan=False, remat=False)
    assert stacked not in gradient_shapes(python)
    assert stacked not in gradient_shapes(dataclasses.replace(python, remat=True))
    assert stacked in gradient_shapes(NOG(m))
