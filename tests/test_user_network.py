"""The user's own network from a config and runs trained from Python (issue 28, items 5-6)."""

import copy
import json
import textwrap

import numpy as np
import pytest
import yaml

import stablesim
from stablesim.cli import main
from stablesim.data import TrajectoryDataset
from stablesim.models import make_network
from stablesim.runs import Run, train_run

from _tiny import TINY

USER_NETWORK = textwrap.dedent('''
    """A user's network (not stablesim's): two circular convolutions, tanh between."""
    import equinox as eqx
    import jax


    class TwoConv(eqx.Module):
        first: eqx.nn.Conv
        second: eqx.nn.Conv

        def __init__(self, dims, in_channels, out_channels, width, key):
            k1, k2 = jax.random.split(key)
            conv = dict(num_spatial_dims=dims, kernel_size=3, padding="SAME",
                        padding_mode="CIRCULAR")
            self.first = eqx.nn.Conv(in_channels=in_channels, out_channels=width, key=k1, **conv)
            self.second = eqx.nn.Conv(in_channels=width, out_channels=out_channels, key=k2,
                                      **conv)

        def __call__(self, x):
            return self.second(jax.nn.tanh(self.first(x)))


    def make_network(num_spatial_dims, in_channels, out_channels, *, key, width):
        return TwoConv(num_spatial_dims, in_channels, out_channels, width, key)


    def halves_the_grid(num_spatial_dims, in_channels, out_channels, *, key):
        return eqx.nn.Conv(num_spatial_dims, in_channels, out_channels, 2, stride=2, key=key)


    def not_a_module(num_spatial_dims, in_channels, out_channels, *, key):
        return lambda x: x[:out_channels]
''')


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "user_net.py").write_text(USER_NETWORK)
    return tmp_path


def test_a_user_network_trains_from_a_config_and_evaluates(user_dir, tmp_path, capsys,
                                                          monkeypatch):
    config = copy.deepcopy(TINY)
    config["model"] = {"architecture": "user_net.py:make_network", "width": 6}
    config["training"].update(updates=6, seeds=[0])
    (user_dir / "own.yaml").write_text(yaml.safe_dump(config))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the factory's path resolves against the config's folder
    assert main(["train", str(user_dir / "own.yaml"), "--out", "run"]) == 0, \
        capsys.readouterr().err
    assert main(["evaluate", "run"]) == 0
    net = Run("run").trained.networks.core
    assert type(net).__name__ == "TwoConv" and net.first.weight.shape[1:3] == (6, 2)  # seed axis
    assert json.loads((elsewhere / "run" / "metrics.json").read_text())["rows"]


@pytest.mark.parametrize("factory, message", [
    ("halves_the_grid", r"maps an input shaped \(2, 16\) to float32\[1, 8\]; it must return "
                        r"floats shaped \(1, 16\)"),
    ("not_a_module", "returned function, not an Equinox module with trainable arrays"),
    ("missing", "has no function 'missing'"),
])
def test_a_user_network_that_does_not_fit_is_refused_in_one_line(user_dir, factory, message):
    import jax

    with pytest.raises(stablesim.ConfigError, match=r"^model.architecture: .*" + message):
        make_network(f"{user_dir / 'user_net.py'}:{factory}", state_shape=(1, 16),
                     num_parameters=1, key=jax.random.key(0))


def test_an_unknown_architecture_names_the_key(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"model": {"architecture": "transformer"}}))
    assert main(["config", "show", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.architecture" in err and "file.py:function" in err


SOLVER = "import jax.numpy as jnp\n\ndef damped(u, p):\n    return u * jnp.exp(-0.1 * p[0])\n"


def test_a_run_trained_from_python_is_a_run_for_the_commands(user_dir, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(user_dir)  # paths in a dict resolve against the working directory
    (user_dir / "my_solver.py").write_text(SOLVER)
    rng = np.random.default_rng(0)
    data = TrajectoryDataset(rng.normal(size=(6, 8, 1, 16)).astype(np.float32),
                             np.repeat([[1.0], [2.0], [3.0]], 2, axis=0).astype(np.float32))
    config = {"system": {"name": None},
              "data": {"file": "unused.h5", "train_values": [1.0, 3.0],
                       "interpolation_values": [2.0]},
              "model": {"architecture": "user_net.py:make_network", "width": 4},
              "simulator": {"setup": "correction", "solver_function": "my_solver.py:damped"},
              "modality": {"name": "WIG", "unroll": 2},
              "training": {"updates": 4, "seeds": [0], "batch_size": 4},
              "evaluation": {"rollout_steps": 6, "horizon": 3, "plots": False}}
    from stablesim.data import save_hdf5

    save_hdf5(data, "unused.h5")
    train_run(config, tmp_path / "py_run", progress=False)
    assert "runs as JAX inside the compiled step" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "py_run"]) == 0, capsys.readouterr().err  # (every command opens a
    # run the same way, through runs.Run: evaluate stands for diagnose, stabilize, rollout)
    # a directory written by the low-level train() is refused naming what to call instead
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "checkpoint.eqx").write_bytes(b"")
    assert main(["evaluate", "low"]) == 2
    assert "stablesim.runs.train_run(config, out_dir)" in capsys.readouterr().err
