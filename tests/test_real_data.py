"""Real datasets as they are: The Well and PDEBench read in place, lazily, checked, normalized.

Every reader is checked against the arrays the test helper wrote
(`_formats`), rearranged by hand with NumPy: the oracle is the file's own
content, not our reader.
"""

from __future__ import annotations

import json
import pathlib

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from _formats import (
    write_pdebench_1d,
    write_pdebench_cfd,
    write_pdebench_groups,
    write_well_dataset,
    write_well_file,
)
from stablesim._errors import DataError
from stablesim._lazy_files import LazyTrajectories
from stablesim.cli import main
from stablesim.data import (
    TrajectoryDataset,
    load_dataset,
    load_initial_states,
    normalization_statistics,
    save_hdf5,
)
from stablesim.models import PeriodicConv


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _well_oracle(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Channels-first `(B, T, C, X, Y)`: tracer, then velocity's components (by hand)."""
    tracer = arrays["tracer"][:, :, None]
    velocity = np.moveaxis(arrays["velocity"], -1, 2)
    return np.concatenate([tracer, velocity], axis=2)


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_well_file_reads_as_its_fields_with_named_channels_and_boundaries(tmp_path, in_memory):
    arrays = write_well_file(tmp_path / "a.hdf5", reynolds=2e4, trajectories=3)
    data = load_dataset(tmp_path / "a.hdf5", in_memory=in_memory)
    assert data.lazy is not in_memory
    np.testing.assert_array_equal(np.asarray(data.trajectories), _well_oracle(arrays))
    assert data.channel_names == ("tracer", "velocity_x", "velocity_y")
    assert data.boundary == ("periodic", "wall")
    assert data.parameter_names == ("Reynolds",)
    np.testing.assert_array_equal(data.params, np.full((3, 1), 2e4, np.float32))
    assert data.dt == pytest.approx(0.25)
    only = load_dataset(tmp_path / "a.hdf5", fields=["velocity"])
    np.testing.assert_array_equal(only.trajectories, _well_oracle(arrays)[:, :, 1:])


def test_a_well_dataset_folder_keeps_its_split_and_stats(tmp_path):
    folder = write_well_dataset(tmp_path)
    data = load_dataset(folder, in_memory=False)
    assert data.num_trajectories == 8
    assert data.metadata["splits"] == {"train": [0, 4], "validation": [4, 6],
                                       "interpolation": [6, 8]}
    np.testing.assert_array_equal(np.unique(data.params[:4]), [1e4, 4e4])
    assert data.params[6, 0] == 7e4
    assert data.metadata["stats_file"].endswith("stats.yaml")
    # The file's values, file by file, in the order of the split folders.
    first = _well_oracle(write_well_file(tmp_path / "again.hdf5", reynolds=1e4, seed=0))
    np.testing.assert_array_equal(data.trajectories[0:2], first)


def test_lazy_indexing_matches_numpy_indexing(tmp_path):
    arrays = write_well_file(tmp_path / "a.hdf5", reynolds=1.0, trajectories=4, frames=7)
    full = _well_oracle(arrays)
    lazy = load_dataset(tmp_path / "a.hdf5", in_memory=False).trajectories
    assert isinstance(lazy, LazyTrajectories) and lazy.shape == full.shape
    for key in [(slice(None), 0), (2, slice(1, 5)), (np.array([3, 0]), slice(2, None)),
                (slice(1, 3), slice(None), 1), (1, 4), (slice(None), slice(0, 6, 2)),
                (Ellipsis, 0), (slice(None), -1)]:
        np.testing.assert_array_equal(lazy[key], full[key], err_msg=str(key))
    picked = lazy.select(np.array([3, 1]))
    np.testing.assert_array_equal(np.asarray(picked), full[[3, 1]])
    pieces = {(i, t0): piece for i, t0, _, piece in lazy.chunks(max_bytes=3 * 8 * 6 * 4 * 2)}
    np.testing.assert_array_equal(pieces[(2, 2)], full[2, 2:4])


def test_pdebench_1d_parameters_come_from_the_file_name_or_its_attributes(tmp_path):
    folder = tmp_path / "burgers"
    folder.mkdir()
    a = write_pdebench_1d(folder / "1D_Burgers_Sols_Nu0.01.hdf5", seed=0)
    b = write_pdebench_1d(folder / "1D_Burgers_Sols_Nu0.1.hdf5", seed=1)
    data = load_dataset(folder)
    np.testing.assert_array_equal(data.trajectories, np.concatenate([a, b])[:, :, None])
    assert data.parameter_names == ("Nu",)
    np.testing.assert_allclose(data.params[:, 0], [0.01] * 3 + [0.1] * 3, rtol=1e-6)
    assert data.dt == pytest.approx(2 / 7)
    attr = tmp_path / "advection.hdf5"
    write_pdebench_1d(attr, attrs={"beta": 0.4})
    assert load_dataset(attr).parameter_names == ("beta",)
    assert load_dataset(attr).params[0, 0] == pytest.approx(0.4)


def test_pdebench_cfd_and_group_layouts(tmp_path):
    cfd = tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5"
    arrays = write_pdebench_cfd(cfd)
    data = load_dataset(cfd, in_memory=False)
    expected = np.stack([arrays[k] for k in ("density", "pressure", "Vx", "Vy")], axis=2)
    np.testing.assert_array_equal(np.asarray(data.trajectories), expected)
    assert data.channel_names == ("density", "pressure", "Vx", "Vy")
    assert data.parameter_names == ("M", "Eta", "Zeta")
    assert data.boundary == ("periodic", "periodic")
    grouped = tmp_path / "2D_diff-react_NA_NA.h5"
    values = write_pdebench_groups(grouped)
    np.testing.assert_array_equal(load_dataset(grouped).trajectories, np.moveaxis(values, -1, 2))
    states, params, _ = load_initial_states(grouped)
    np.testing.assert_array_equal(states, np.moveaxis(values[:, 0], -1, 1))
    assert params.shape == (3, 0)


def test_unknown_layouts_and_broken_folders_end_in_one_line(tmp_path, capsys):
    with h5py.File(tmp_path / "odd.h5", "w") as f:
        f["something"] = np.zeros(3)
    code, _, err = run_cli(capsys, "data", "info", tmp_path / "odd.h5")
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "no known layout" in err and "The Well" in err
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing")


def test_data_info_names_channels_and_summarises_many_parameters(tmp_path, capsys):
    folder = write_well_dataset(tmp_path)
    code, out, _ = run_cli(capsys, "data", "info", folder)
    assert code == 0
    assert "channels: tracer, velocity_x, velocity_y" in out
    assert "boundary: periodic, wall" in out
    code, out, _ = run_cli(capsys, "data", "info", folder, "--fields", "tracer")
    assert code == 0 and "state shape: (1, 8, 6)" in out


def test_normalization_statistics_equal_numpy_in_memory_and_lazily(tmp_path):
    arrays = write_well_file(tmp_path / "a.hdf5", reynolds=3.0, trajectories=3)
    full = _well_oracle(arrays).astype(np.float64)
    for in_memory in (True, False):
        norm = normalization_statistics(load_dataset(tmp_path / "a.hdf5", in_memory=in_memory))
        np.testing.assert_allclose(norm.state_mean, full.mean(axis=(0, 1, 3, 4)), rtol=1e-6)
        np.testing.assert_allclose(norm.state_std, full.std(axis=(0, 1, 3, 4)), rtol=1e-6)
        assert norm.parameter_mean == (3.0,) and norm.parameter_std == (3.0,)  # constant: |mean|


def test_streamed_training_draws_the_same_batches_and_resumes_exactly(tmp_path):
    from stablesim._training_config import ModalityConfig, TrainConfig
    from stablesim.models import make_network
    from stablesim.simulators import Prediction
    from stablesim.training import train

    rng = np.random.default_rng(0)
    save_hdf5(TrajectoryDataset(rng.normal(size=(5, 16, 2, 12)).astype(np.float32),
                                np.arange(5.0)[:, None]), tmp_path / "d.h5")
    memory = load_dataset(tmp_path / "d.h5", in_memory=True)
    streamed = load_dataset(tmp_path / "d.h5", in_memory=False)
    assert streamed.lazy and not memory.lazy

    def make(key):
        net = make_network("conv", state_shape=(2, 12), num_parameters=1, width=4, depth=1,
                           key=key)
        return Prediction(net, residual=True)

    config = TrainConfig(updates=24, seeds=[0, 1], batch_size=4, log_every=6,
                         checkpoint_every=6)
    modality = ModalityConfig(name="NOG", unroll=3)
    whole = train(make, memory, config, modality, progress=False)
    train(make, streamed, config, modality, out_dir=tmp_path / "r", stop_after=12,
          progress=False)
    resumed = train(make, streamed, config, modality, out_dir=tmp_path / "r", resume=True,
                    progress=False)
    assert [round(float(h["loss"]), 5) for h in resumed.history] == \
        [round(float(h["loss"]), 5) for h in whole.history]
    arrays = lambda tree: jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))  # noqa: E731
    for a, b in zip(arrays(whole.networks), arrays(resumed.networks)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_streamed_training_captures_no_dataset_constant(tmp_path, recwarn):
    from stablesim._training_config import ModalityConfig, TrainConfig
    from stablesim.models import make_network
    from stablesim.simulators import Prediction
    from stablesim.training import train

    rng = np.random.default_rng(0)
    save_hdf5(TrajectoryDataset(rng.normal(size=(64, 20, 1, 256)).astype(np.float32),
                                np.ones((64, 1), np.float32)), tmp_path / "d.h5")
    data = load_dataset(tmp_path / "d.h5", in_memory=False)

    def make(key):
        return Prediction(make_network("conv", state_shape=(1, 256), num_parameters=1, width=2,
                                       depth=0, key=key), residual=True)

    before = jax.config.jax_captured_constants_warn_bytes
    jax.config.update("jax_captured_constants_warn_bytes", 16_000)
    try:
        train(make, data, TrainConfig(updates=4, seeds=[0], log_every=2),
              ModalityConfig(name="NOG", unroll=2), progress=False)
    finally:
        jax.config.update("jax_captured_constants_warn_bytes", before)
    captured = [str(w.message) for w in recwarn if "constants were captured" in str(w.message)]
    assert not captured, captured[0][:300]


def _reynolds_file(path: pathlib.Path, scale: float) -> None:
    """u' = a u + 0.1 a roll(u), a = 1 - Re / 2e5, values of size 50; Re as `scale * Re`."""
    rng = np.random.default_rng(0)
    res = np.repeat([1e4, 3e4, 5e4, 7e4, 9e4, 6e4], 3)
    k = np.fft.rfftfreq(16) * 16
    traj = np.zeros((len(res), 10, 1, 16), np.float32)
    for i, re in enumerate(res):
        u = np.fft.irfft((rng.normal(size=k.size) + 1j * rng.normal(size=k.size))
                         * np.exp(-k / 2), 16)
        u *= 50 / u.std()
        for s in range(10):
            traj[i, s, 0] = u
            u = (1 - re / 2e5) * (u + 0.1 * np.roll(u, 1))
    save_hdf5(TrajectoryDataset(traj, (res * scale)[:, None], ("Re",)), path)


def test_raw_reynolds_numbers_train_as_well_as_hand_normalized_ones(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    errors = {}
    for name, scale, normalize in [("raw", 1.0, "auto"), ("hand", 1e-4, "auto"),
                                   ("off", 1.0, "off")]:
        _reynolds_file(tmp_path / f"{name}.h5", scale)
        values = lambda *v: [x * 1e4 * scale for x in v]  # noqa: E731
        cfg = {"system": {"name": None},
               "data": {"file": f"{name}.h5", "train_values": values(1, 3, 5, 7, 9),
                        "interpolation_values": values(6), "normalize": normalize},
               "model": {"architecture": "conv", "width": 8, "depth": 2},
               "modality": {"name": "ONE"},
               "training": {"updates": 100, "seeds": [0], "batch_size": 8, "log_every": 50,
                            "learning_rate": 0.003},
               "evaluation": {"rollout_steps": 6, "horizon": 6, "plots": False,
                              "gradient_unrolls": [1]}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        code, _, err = run_cli(capsys, "train", f"{name}.yaml", "--out", name, "--quiet")
        assert code == 0, err
        if name == "off":
            assert "parameter Re is of order" in err  # said in words
        assert run_cli(capsys, "evaluate", name, "--quiet")[0] == 0
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        errors[name] = metrics["summary"]["interpolation"]["rel_error"]["mean"]
    print("relative errors at the horizon:", errors)
    assert errors["raw"] == pytest.approx(errors["hand"], rel=1e-3)
    assert errors["off"] > 2 * errors["raw"]
    stored = json.loads((tmp_path / "raw" / "normalization.json").read_text())
    assert stored["parameter_mean"] == [pytest.approx(5e4)]


def test_a_run_keeps_a_reference_to_the_file_and_refuses_changed_data(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = write_well_dataset(tmp_path)
    cfg = {"system": {"name": None}, "data": {"file": str(folder)},
           "model": {"architecture": "conv", "width": 4, "depth": 1},
           "modality": {"name": "NOG", "unroll": 2},
           "training": {"updates": 6, "seeds": [0], "batch_size": 4, "log_every": 3,
                        "checkpoint_every": 3},
           "evaluation": {"rollout_steps": 4, "horizon": 2, "plots": False,
                          "gradient_unrolls": [1]}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = run_cli(capsys, "train", "run.yaml", "--out", "r", "--quiet")
    assert code == 0, err
    assert not (tmp_path / "r" / "dataset.h5").exists()
    record = json.loads((tmp_path / "r" / "data_source.json").read_text())
    assert record["path"] == str(folder.resolve()) and record["format"] == "well"
    assert json.loads((tmp_path / "r" / "normalization.json").read_text())["state_std"] == \
        [2.0, 50.0, 50.0]  # The Well's stats.yaml
    code, _, err = run_cli(capsys, "evaluate", "r", "--quiet", "--set", "evaluation.plots=true")
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "metrics.json").read_text())["summary"]
    assert set(summary) == {"validation", "interpolation"}  # its valid and test folders
    assert set(summary["interpolation"]["per_channel"]) == {"tracer", "velocity_x", "velocity_y"}
    for name in ("tracer", "velocity_x", "velocity_y"):
        assert (tmp_path / "r" / "plots" / f"rollout_interpolation_{name}.png").exists()
    with h5py.File(folder / "data" / "test" / "toy_flow_Re70000.hdf5", "r+") as f:
        f["t0_fields"]["tracer"][0, 0, 0, 0] += 1.0
    code, _, err = run_cli(capsys, "evaluate", "r", "--quiet")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "changed since" in err
    code, _, err = run_cli(capsys, "train", "run.yaml", "--out", "kept", "--quiet",
                           "--set", "data.keep_copy=true")
    assert code == 0, err
    assert load_dataset(tmp_path / "kept" / "dataset.h5").num_trajectories == 8


def test_a_wall_reaches_the_convolution_padding():
    """A wall pads zeros, an open boundary the edge value, periodic wraps: a naive loop."""
    layer = PeriodicConv(1, 1, 1, kernel_size=3, use_bias=False, key=jax.random.key(0))
    w = np.asarray(layer.weight).reshape(3)
    x = np.arange(1.0, 7.0, dtype=np.float32)
    for boundary, left, right in [(("wall",), 0.0, 0.0), (("open",), x[0], x[-1]),
                                  (("periodic",), x[-1], x[0])]:
        conv = PeriodicConv(1, 1, 1, kernel_size=3, use_bias=False, boundary=boundary,
                            key=jax.random.key(0))
        padded = np.concatenate([[left], x, [right]])
        naive = np.array([sum(w[j] * padded[i + j] for j in range(3)) for i in range(6)])
        got = conv(jnp.asarray(x)[:, None])[:, 0]
        np.testing.assert_allclose(got, naive, rtol=1e-6, err_msg=str(boundary))


def test_a_well_run_pads_its_wall_axis(tmp_path):
    from stablesim.config import RunConfig
    from stablesim.runs import simulator_factory

    folder = write_well_dataset(tmp_path)
    config = RunConfig.model_validate({"system": {"name": None}, "data": {"file": str(folder)},
                                       "model": {"architecture": "conv", "width": 4,
                                                 "depth": 1}})
    data = load_dataset(folder)
    sim = simulator_factory(config, None, data)(jax.random.key(0))
    assert {layer.boundary for layer in sim.network.core.layers} == {("periodic", "wall")}


def test_per_channel_errors_against_a_hand_computation():
    from stablesim.runs._evaluate import _per_channel_errors

    ref = np.zeros((2, 2, 4))
    ref[:, 0] = 3.0  # channel 0: |ref| = 6 per case
    ref[:, 1] = 100.0  # channel 1: |ref| = 200
    pred = ref.copy()
    pred[0, 0, 0] += 6.0  # case 0, channel 0: error 6 -> relative 1, RMSE 3
    pred[1, 1] += 10.0  # case 1, channel 1: error 20 -> relative 0.1, RMSE 10
    got = _per_channel_errors(pred, ref)
    np.testing.assert_allclose(got["rel_error_per_channel"], [0.5, 0.05])
    np.testing.assert_allclose(got["rmse_per_channel"], [1.5, 5.0])


def test_data_larger_than_the_memory_left_are_refused_in_memory_in_one_line(tmp_path,
                                                                             monkeypatch):
    import stablesim.data._io as io

    write_pdebench_1d(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5")
    monkeypatch.setattr(io, "_available_memory", lambda: 100)  # bytes
    with pytest.raises(DataError, match="do not fit in the .* memory available.*data.stream"):
        load_dataset(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", in_memory=True)
    assert load_dataset(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", in_memory=False).lazy


@pytest.mark.parametrize("layout", ["1d_folder", "cfd", "groups"])
def test_train_and_evaluate_on_each_pdebench_layout_without_conversion(tmp_path, capsys,
                                                                        monkeypatch, layout):
    monkeypatch.chdir(tmp_path)
    data: dict = {"test_trajectories": 1}
    if layout == "1d_folder":
        (tmp_path / "burgers").mkdir()
        write_pdebench_1d(tmp_path / "burgers" / "1D_Burgers_Sols_Nu0.01.hdf5", seed=0)
        write_pdebench_1d(tmp_path / "burgers" / "1D_Burgers_Sols_Nu0.1.hdf5", seed=1)
        data = {"file": "burgers", "train_values": [0.01], "interpolation_values": [0.1]}
    elif layout == "cfd":
        write_pdebench_cfd(tmp_path / "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_Train.hdf5",
                           trajectories=3)
        data["file"] = "2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_Train.hdf5"
    else:
        write_pdebench_groups(tmp_path / "1D_diff-sorp_NA_NA.h5")
        data["file"] = "1D_diff-sorp_NA_NA.h5"
    cfg = {"system": {"name": None}, "data": data,
           "model": {"architecture": "conv", "width": 4, "depth": 1},
           "modality": {"name": "NOG", "unroll": 2},
           "training": {"updates": 4, "seeds": [0], "batch_size": 2, "log_every": 2,
                        "checkpoint_every": 2},
           "evaluation": {"rollout_steps": 3, "horizon": 2, "plots": False,
                          "gradient_unrolls": [1]}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = run_cli(capsys, "train", "run.yaml", "--out", "r", "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", "r", "--quiet")
    assert code == 0, err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["summary"]["interpolation"]["cases"] >= 1
    assert json.loads((tmp_path / "r" / "data_source.json").read_text())["format"] == "pdebench"
