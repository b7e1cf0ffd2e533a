"""Trainer: exact resume, atomic checkpoints, update skipping, seeds as a vmap axis."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pdequinox as pdeqx
import pytest

from stablesim import TrainingError
from stablesim.data import TrajectoryDataset
from stablesim.models import ParametricNetwork
from stablesim.simulators import Correction
from stablesim.training import (
    ModalityConfig,
    StageConfig,
    TrainConfig,
    _checkpoint,
    load_trained,
    read_checkpoint_header,
    train,
)


def toy_dataset(num=4, frames=12, n=16, poison_value=None):
    """Damped travelling waves; parameter 1.0 except an optional poisoned one."""
    x = np.linspace(0, 2 * np.pi, n, endpoint=False)
    t = np.arange(frames)[:, None]
    traj = np.stack([np.exp(-0.05 * t) * np.sin(x[None] - 0.3 * t + k)
                     for k in range(num)])[:, :, None, :]
    params = np.ones((num, 1), np.float32)
    if poison_value is not None:
        params[-1] = poison_value
    return TrajectoryDataset(traj.astype(np.float32), params, ("p",))


def solver(u, p):
    """Shift by a quarter cell; poisoned parameters (> 1.5) explode or give NaN."""
    base = 0.5 * (u + jnp.roll(u, 1, -1))
    return jnp.where(p[0] > 2.5, jnp.nan, jnp.where(p[0] > 1.5, 1e4 * base, base))


def make_simulator(key):
    core = pdeqx.arch.ConvNet(1, 2, 1, hidden_channels=6, depth=1, key=key)
    return Correction(ParametricNetwork(core, (1.0,)), solver, mode="parallel")


def config(**kw):
    base = dict(
        curriculum=[
            StageConfig(modality=ModalityConfig(name="ONE", unroll=1), updates=30, learning_rate=3e-3),
            StageConfig(modality=ModalityConfig(name="NOG", unroll=3), updates=30, ramp=5),
        ],
        batch_size=6, log_every=10, checkpoint_every=10, seeds=[0, 1],
    )
    base.update(kw)
    return TrainConfig(**base)


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


@pytest.mark.parametrize("stop_after", [20, 40, 45])
def test_resumed_training_equals_uninterrupted_to_the_bit(tmp_path, stop_after):
    data, cfg = toy_dataset(), config()
    full = train(make_simulator, data, cfg, out_dir=tmp_path / "full", progress=False)
    part = train(make_simulator, data, cfg, out_dir=tmp_path / "cut", stop_after=stop_after,
                 progress=False)
    assert part.steps == stop_after
    assert read_checkpoint_header(tmp_path / "cut" / "checkpoint.eqx")["step"] == stop_after
    resumed = train(make_simulator, data, cfg, out_dir=tmp_path / "cut", resume=True,
                    progress=False)
    assert resumed.steps == full.steps == 60
    for a, b in zip(leaves(full.networks), leaves(resumed.networks)):
        np.testing.assert_array_equal(a, b)
    changed = [not np.array_equal(a, b) for a, b in zip(leaves(full.networks), leaves(part.networks))]
    assert any(changed)  # the interruption really happened before the end
    loaded = load_trained(make_simulator, tmp_path / "cut")
    for a, b in zip(leaves(full.networks), leaves(loaded.networks)):
        np.testing.assert_array_equal(a, b)
    steps = [row["step"] for row in loaded.history if int(row["seed"]) == 0]
    steps = [int(s) for s in steps]
    assert steps == sorted(set(steps)) and set(range(10, 61, 10)) <= set(steps)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    data, cfg = toy_dataset(), config()
    train(make_simulator, data, cfg, out_dir=tmp_path, stop_after=20, progress=False)
    before = (tmp_path / "checkpoint.eqx").read_bytes()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(_checkpoint.os, "fsync", broken)
    with pytest.raises(KeyboardInterrupt):
        train(make_simulator, data, cfg, out_dir=tmp_path, resume=True, progress=False)
    assert (tmp_path / "checkpoint.eqx").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    monkeypatch.undo()


def test_a_kill_between_log_and_checkpoint_loses_no_log_rows(tmp_path, monkeypatch):
    from stablesim.training import _persistence

    data, cfg = toy_dataset(), config()
    train(make_simulator, data, cfg, out_dir=tmp_path, stop_after=20, progress=False)
    write_log = _persistence.write_log

    def killed_after_log(*args, **kwargs):
        write_log(*args, **kwargs)
        raise KeyboardInterrupt("killed between the log and the checkpoint")

    monkeypatch.setattr(_persistence, "write_log", killed_after_log)
    with pytest.raises(KeyboardInterrupt):
        train(make_simulator, data, cfg, out_dir=tmp_path, resume=True, progress=False)
    monkeypatch.undo()
    assert read_checkpoint_header(tmp_path / "checkpoint.eqx")["step"] == 20
    done = train(make_simulator, data, cfg, out_dir=tmp_path, resume=True, progress=False)
    for seed in (0, 1):
        steps = [int(r["step"]) for r in done.history if int(r["seed"]) == seed]
        assert steps == list(range(10, 61, 10))
    logged = load_trained(make_simulator, tmp_path).history
    assert [int(r["step"]) for r in logged if int(r["seed"]) == 0] == list(range(10, 61, 10))


def test_seeds_in_parallel_equal_separate_runs(tmp_path):
    data = toy_dataset()
    both = train(make_simulator, data, config(seeds=[0, 1]), progress=False)
    alone = train(make_simulator, data, config(seeds=[1]), progress=False)
    for a, b in zip(leaves(both.networks), leaves(alone.networks)):
        np.testing.assert_allclose(a[1], b[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(leaves(both.networks)[0][0], leaves(both.networks)[0][1])


@pytest.mark.parametrize("poison", [2.0, 3.0])  # 2.0: exploding gradient, 3.0: NaN
def test_poisoned_updates_are_skipped_and_counted(poison):
    data = toy_dataset(num=12, poison_value=poison)  # 1 poisoned trajectory in 12
    cfg = config(curriculum=[StageConfig(modality=ModalityConfig(name="ONE", unroll=1), updates=60,
                                     learning_rate=3e-3)], batch_size=4, seeds=[0],
                 skip_grace=3)
    result = train(make_simulator, data, cfg, progress=False)
    skipped = result.skipped[0]
    assert 0 < skipped < 60
    assert all(np.isfinite(x).all() for x in leaves(result.networks))
    assert np.isfinite(result.history[-1]["loss"])
    assert result.history[-1]["skipped"] == skipped
    clean = train(make_simulator, toy_dataset(num=12), cfg, progress=False)
    assert clean.skipped[0] == 0


def test_too_many_skips_in_a_row_stop_with_a_clear_error():
    data = toy_dataset(num=2, poison_value=3.0)  # every batch holds a NaN window
    cfg = config(curriculum=[StageConfig(updates=50)], batch_size=64, seeds=[0],
                 max_consecutive_skips=5)
    with pytest.raises(TrainingError, match="seed 0: .* in a row skipped"):
        train(make_simulator, data, cfg, progress=False)


def test_resume_with_another_config_is_refused(tmp_path):
    from stablesim import ConfigError

    data = toy_dataset()
    train(make_simulator, data, config(), out_dir=tmp_path, stop_after=10, progress=False)
    with pytest.raises(ConfigError, match="another training config"):
        train(make_simulator, data, config(batch_size=4), out_dir=tmp_path, resume=True,
              progress=False)


def _as_format_2(header: dict) -> dict:
    """The header a stablesim of format 2 wrote: stages inside train_config, old names."""
    old = {k: v for k, v in header["train_config"].items()
           if k not in ("updates", "learning_rate", "ramp", "curriculum")}
    old["skip_warmup"] = old.pop("skip_grace")
    old["stages"] = [dict(s, modality={{"unroll": "steps", "pushforward": "warmup"}.get(k, k): v
                                       for k, v in s["modality"].items()})
                     for s in header["stages"]]
    out = {k: v for k, v in header.items() if k != "stages"}
    out["train_config"], out["format"] = old, 2
    return out


def test_a_checkpoint_of_the_old_format_loads_and_resumes_exactly(tmp_path):
    import json
    import struct

    data, cfg = toy_dataset(), config()
    full = train(make_simulator, data, cfg, progress=False)
    train(make_simulator, data, cfg, out_dir=tmp_path, stop_after=40, progress=False)
    path = tmp_path / "checkpoint.eqx"
    raw = path.read_bytes()
    magic = _checkpoint._MAGIC
    (size,) = struct.unpack("<Q", raw[len(magic):len(magic) + 8])
    header = json.loads(raw[len(magic) + 8:len(magic) + 8 + size])
    assert "stages" in header and header["format"] == 2
    old = json.dumps(_as_format_2(header)).encode()
    path.write_bytes(magic + struct.pack("<Q", len(old)) + old + raw[len(magic) + 8 + size:])
    assert "stages" not in read_checkpoint_header(path)
    loaded = load_trained(make_simulator, tmp_path)
    assert loaded.steps == 40
    resumed = train(make_simulator, data, cfg, out_dir=tmp_path, resume=True, progress=False)
    for a, b in zip(leaves(full.networks), leaves(resumed.networks)):
        np.testing.assert_array_equal(a, b)


def test_one_stage_from_train_config_and_modality_equals_the_same_curriculum():
    data = toy_dataset()
    modality = ModalityConfig(name="NOG", unroll=3, pushforward=1)
    single = train(make_simulator, data,
                   TrainConfig(updates=20, batch_size=6, log_every=10, checkpoint_every=10,
                               seeds=[0], learning_rate=2e-3, ramp=4), modality, progress=False)
    staged = train(make_simulator, data,
                   TrainConfig(curriculum=[StageConfig(modality=modality, updates=20,
                                                       learning_rate=2e-3, ramp=4)],
                               batch_size=6, log_every=10, checkpoint_every=10, seeds=[0]),
                   ModalityConfig(name="WIG"),  # ignored: the curriculum decides
                   progress=False)
    untrained = train(make_simulator, data, TrainConfig(updates=1, log_every=1,
                                                         checkpoint_every=1, seeds=[0]),
                      progress=False)
    for a, b in zip(leaves(single.networks), leaves(staged.networks)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in
               zip(leaves(single.networks), leaves(untrained.networks)))


@pytest.mark.parametrize("loop", ["scan", "step"])
def test_the_training_data_are_an_argument_never_a_captured_constant(loop, recwarn):
    """A 1.3 MB dataset: lowering the training chunk captures no constant of its size."""
    rng = np.random.default_rng(0)
    data = TrajectoryDataset(rng.normal(size=(64, 20, 1, 256)).astype(np.float32),
                             np.ones((64, 1), np.float32), ("p",))

    def small(key):
        core = pdeqx.arch.ConvNet(1, 2, 1, hidden_channels=2, depth=0, key=key)
        return Correction(ParametricNetwork(core, (1.0,)), solver, mode="parallel")

    before = jax.config.jax_captured_constants_warn_bytes
    jax.config.update("jax_captured_constants_warn_bytes", 16_000)  # a few kilobytes
    try:
        train(small, data, config(seeds=[0], loop=loop, curriculum=[StageConfig(
            modality=ModalityConfig(name="NOG", unroll=2), updates=4)], log_every=2),
              progress=False)
    finally:
        jax.config.update("jax_captured_constants_warn_bytes", before)
    captured = [str(w.message) for w in recwarn if "constants were captured" in str(w.message)]
    assert not captured, captured[0][:300]


def test_skip_outlier_updates_follows_the_rule_a_naive_loop_states():
    """The Optax transformation against the rule written out in Python floats."""
    import math

    import optax

    from stablesim.training import skip_outlier_updates

    norms = [1.0, 2.0, 0.5, 50.0, 3.0, float("nan"), 40.0, 31.0, 32.0, 0.1, float("inf"), 1.0]
    factor, grace = 10.0, 2

    def naive():
        reference, accepted, taken = 0.0, 0, []
        for n in norms:
            finite = math.isfinite(n)
            log_n = math.log(max(n, 1e-30)) if finite else 0.0
            ok = finite and (accepted < grace or log_n <= reference + math.log(factor))
            if ok:
                reference = log_n if accepted == 0 else max(log_n, reference - 0.01)
                accepted += 1
            elif finite:
                reference += math.log(factor) / 10
            taken.append(ok)
        return taken

    opt = skip_outlier_updates(optax.sgd(1.0), skip_factor=factor, grace=grace)
    params = {"w": jnp.zeros(4)}
    state = opt.init(params)
    direction = jnp.asarray([0.5, 0.5, 0.5, 0.5])  # unit norm
    taken, expected_w = [], np.zeros(4)
    for n in norms:
        grads = {"w": direction * n}
        before = params["w"]
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        moved = not np.array_equal(np.asarray(params["w"]), np.asarray(before))
        taken.append(moved)
        if moved:
            expected_w = expected_w - np.asarray(direction) * n
    assert taken == naive() == [True, True, True, False, True, False, False, True, True, True,
                                False, True]
    np.testing.assert_allclose(params["w"], expected_w, rtol=1e-6)
    assert int(state.skipped) == taken.count(False) and int(state.consecutive_skips) == 0
