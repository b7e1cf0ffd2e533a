"""The user's JAX solver in the loop (issue 28): solver_kind, the gradient check, output checks."""

import copy
import json
import pathlib
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import stablesim
from stablesim.cli import main
from stablesim.config import RunConfig, validate
from stablesim.data import TrajectoryDataset
from stablesim.models import make_network
from stablesim.runs import build_solver, solver_kind_of
from stablesim.simulators import (
    Correction,
    SolverAlone,
    as_solver,
    gradient_error,
    jax_solver,
    rollout,
)
from stablesim.training import ModalityConfig, TrainConfig, train

from _tiny import TINY

USER_SOLVERS = textwrap.dedent('''
    """A user's Kuramoto-Sivashinsky solvers (not stablesim's): first-order IMEX, pseudo-spectral."""
    import jax
    import jax.numpy as jnp
    import numpy as np


    def step(u, p):
        n = u.shape[-1]
        k = 2 * jnp.pi * jnp.fft.rfftfreq(n, d=2 * jnp.pi * p[0] / n)
        lin, dt = k**2 - k**4, 0.5
        for _ in range(2):
            nonlinear = -0.5j * k * jnp.fft.rfft(u**2, axis=-1)
            u = jnp.fft.irfft((jnp.fft.rfft(u, axis=-1) + dt * nonlinear) / (1 - dt * lin),
                              n=n, axis=-1)
        return u


    def exponax_step(u, p):
        import exponax as ex
        # built from the parameter value when the step is traced: once per compilation
        stepper = ex.stepper.KuramotoSivashinskyConservative(
            1, 2 * jnp.pi * p[0], u.shape[-1], 1.0, order=1, dealiasing_fraction=1.0)
        return stepper(u)


    @jax.custom_vjp
    def wrong_vjp(u, p):
        return step(u, p)


    def _forward(u, p):
        return step(u, p), (u, p)


    def _backward(saved, g):
        du, dp = jax.vjp(step, *saved)[1](g)
        return 2.0 * du, dp   # deliberately twice the true gradient


    wrong_vjp.defvjp(_forward, _backward)


    def numpy_step(u, p):
        return np.asarray(step(np.asarray(u), np.asarray(p)))
''')


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "user_solvers.py").write_text(USER_SOLVERS)
    return tmp_path


def _config(folder, function, modality="WIG", updates=6, **simulator):
    config = copy.deepcopy(TINY)
    config["simulator"] = {"setup": "correction",
                           "solver_function": f"user_solvers.py:{function}", **simulator}
    config["modality"] = {"name": modality, "unroll": 2}
    config["training"].update(updates=updates, seeds=[0])
    path = folder / f"{function}_{modality}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _user_module(folder):
    from stablesim.simulators import load_solver_function

    return {name: load_solver_function(f"{folder / 'user_solvers.py'}:{name}")
            for name in ("step", "exponax_step", "wrong_vjp", "numpy_step")}


@pytest.mark.parametrize("function", ["step", "exponax_step"])
def test_wig_correction_through_a_jax_solver_from_a_config(user_dir, tmp_path, capsys,
                                                          monkeypatch, function):
    config = _config(user_dir, function)
    monkeypatch.chdir(tmp_path.parent)  # the config's paths do not depend on the cwd
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "VJP vs central finite differences" in x)
    assert float(line.split("relative error ")[1].split()[0]) < 0.05
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [row["m"] for row in metrics["gradient_alignment"]] == [1, 2]
    assert metrics["gradient_alignment"][0]["ratio"] == pytest.approx(1.0, rel=1e-4)  # m=1: equal
    assert metrics["baseline"]  # the solver alone beside the learned correction


def test_a_jax_solver_runs_in_the_graph_as_a_python_loop_runs_it(user_dir):
    fns = _user_module(user_dir)
    rng = np.random.default_rng(1)
    u0 = rng.normal(size=(1, 48)).astype(np.float32)
    p = np.array([8.4], np.float32)
    in_graph = jax.jit(lambda u, q: rollout(SolverAlone(jax_solver(fns["step"])), u, q,
                                            steps=5))(jnp.asarray(u0), jnp.asarray(p))
    u, naive = u0, []
    for _ in range(5):  # eager calls, one at a time
        u = np.asarray(fns["step"](jnp.asarray(u), jnp.asarray(p)))
        naive.append(u)
    np.testing.assert_allclose(np.asarray(in_graph), np.stack(naive), rtol=1e-4, atol=1e-5)


def test_wrong_vjp_is_refused_in_one_line_before_training(user_dir, tmp_path, capsys):
    code = main(["train", str(_config(user_dir, "wrong_vjp")), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1, err
    assert "user_solvers.py:wrong_vjp" in err and "disagrees with central finite differences by 1"
    assert not (tmp_path / "r" / "checkpoint.eqx").exists() and not (tmp_path / "r").exists()
    # the key that overrides it: training goes on through the wrong gradient
    code = main(["train", str(_config(user_dir, "wrong_vjp", updates=2)), "--out",
                 str(tmp_path / "r"), "--set", "simulator.gradient_check=false"])
    assert code == 0, capsys.readouterr().err


def test_gradient_error_against_closed_forms():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(16, 16)).astype(np.float32) / 4)
    linear = as_solver(lambda u: (a @ u[0])[None])  # exact Jacobian a: differences agree
    states = jnp.asarray(rng.normal(size=(3, 1, 16)).astype(np.float32))
    params = jnp.zeros((3, 1))
    assert gradient_error(linear, states, params, jax.random.key(0)) < 1e-3

    @jax.custom_vjp
    def doubled(u):
        return (a @ u[0])[None]

    doubled.defvjp(lambda u: (doubled(u), None), lambda _, g: (2 * (a.T @ g[0])[None],))
    assert gradient_error(as_solver(doubled), states, params, jax.random.key(0)) == \
        pytest.approx(1.0, abs=0.01)  # the VJP is twice w.J v: off by exactly 100%


def test_solver_kind_auto_decides_by_tracing(user_dir):
    data = TrajectoryDataset(np.zeros((1, 3, 1, 48), np.float32), np.full((1, 1), 8.0, np.float32))

    def config(function, **kind):
        raw = yaml.safe_load(_config(user_dir, function, modality="NOG", **kind).read_text())
        raw["simulator"]["solver_function"] = f"{user_dir / 'user_solvers.py'}:{function}"
        return validate(RunConfig, raw)

    assert solver_kind_of(config("step"), data) == "jax"
    assert build_solver(config("step"), None, data).differentiable
    assert solver_kind_of(config("numpy_step"), data) == "numpy"
    assert not build_solver(config("numpy_step"), None, data).differentiable
    assert solver_kind_of(config("step", solver_kind="numpy"), data) == "numpy"
    with pytest.raises(stablesim.ConfigError, match="solver_kind: jax, but solver "
                       "user_solvers.py:numpy_step is not a JAX function.*TracerArray"):
        solver_kind_of(config("numpy_step", solver_kind="jax"), data)


def test_wig_through_a_numpy_solver_is_refused_naming_why(user_dir, tmp_path, capsys):
    code = main(["train", str(_config(user_dir, "numpy_step")), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1
    assert "numpy_step" in err and "does not trace as JAX" in err and "use NOG or ONE" in err


def _bad_type(u, p):
    return np.asarray(u) * 0.9


def _bad_shape(u, p):
    return u[..., :8]


def _not_finite(u, p):
    return u * jnp.nan


@pytest.mark.parametrize("solver, message", [
    (_bad_type, "solver _bad_type: tracing it raised TracerArrayConversionError"),
    (_bad_shape, r"solver _bad_shape: it returned shape \(1, 8\) for a state of shape \(1, 16\)"),
    (_not_finite, "solver _not_finite: returned 16 non-finite values"),
])
def test_the_api_checks_a_solver_as_the_command_line_does(solver, message):
    rng = np.random.default_rng(0)
    data = TrajectoryDataset(rng.normal(size=(2, 6, 1, 16)).astype(np.float32),
                             np.ones((2, 1), np.float32))

    def make(key):
        net = make_network("conv", state_shape=(1, 16), num_parameters=1, width=4, depth=1,
                           key=key)
        return Correction(net, as_solver(solver))

    with pytest.raises(stablesim.ConfigError, match=message):
        train(make, data, TrainConfig(updates=2, seeds=[0], batch_size=2),
              ModalityConfig(name="NOG", unroll=2), progress=False)


EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "jax_solver"


@pytest.mark.parametrize("library", ["jax.numpy", "exponax", "jax_cfd", "phi"])
def test_the_example_solvers_compute_one_scheme(library):
    """The README's solvers (examples/jax_solver) against each other, through `jax_solver`:
    the NumPy scheme is the oracle of the JAX ones, the built-in coarse step of Exponax's."""
    from stablesim.simulators import load_solver_function
    from stablesim.systems import SYSTEMS

    rng = np.random.default_rng(3)
    u = rng.normal(size=(1, 48)).astype(np.float32)
    p = np.array([8.4], np.float32)
    numpy_scheme = load_solver_function(f"{EXAMPLE / 'ks_solvers.py'}:imex_numpy")(u, p)
    if library == "exponax":
        fn = "ks_solvers.py:exponax_coarse"
        oracle = SYSTEMS["ks"]().coarse_step(jnp.asarray(u), jnp.asarray(p))
    else:
        if library != "jax.numpy":
            pytest.importorskip(library)  # optional extras: pip install jax-cfd phiflow
        file = {"jax.numpy": "ks_solvers.py", "jax_cfd": "ks_jax_cfd.py",
                "phi": "ks_phiflow.py"}[library]
        fn = f"{file}:{'imex_jax' if library == 'jax.numpy' else 'step'}"
        oracle = numpy_scheme
    solver = jax_solver(load_solver_function(f"{EXAMPLE / fn.split(':')[0]}:{fn.split(':')[1]}"))
    out = jax.jit(solver)(jnp.asarray(u), jnp.asarray(p))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), np.asarray(oracle), atol=2e-6)


def test_the_2d_example_solver_in_jax_equals_its_numpy_twin():
    from stablesim.simulators import load_solver_function

    rng = np.random.default_rng(4)
    w = rng.normal(size=(2, 1, 32, 32)).astype(np.float32)
    p = np.array([[300.0], [900.0]], np.float32)
    twin = load_solver_function(f"{EXAMPLE / 'kolmogorov_solvers.py'}:imex_numpy")(w, p)
    solver = jax_solver(load_solver_function(f"{EXAMPLE / 'kolmogorov_solvers.py'}:imex_jax"))
    out = jax.jit(jax.vmap(solver))(jnp.asarray(w), jnp.asarray(p))
    np.testing.assert_allclose(np.asarray(out), twin, rtol=1e-4, atol=1e-5)
