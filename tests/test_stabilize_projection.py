"""stabilize's combined candidate: the projection fine-tuned with it on and the weakest noise."""

import json

import jax.numpy as jnp
import numpy as np

from stablesim.cli import main
from stablesim.runs import Run, open_run_data, read_run_config, split_dataset
from stablesim.runs._fixes import Outcome


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_projection_fine_tuned_with_noise_when_the_projection_alone_still_diverges():
    from stablesim.runs._fixes import projected_fine_tune

    steps, never = np.full((1, 4), 50), np.full((1, 4), 101)
    before = Outcome("before", {}, steps, {"validation": 1.0}, 100, 0)
    projection = Outcome("projection", {"simulator.projection": True},
                         np.array([[60, 101, 101, 101]]), {"validation": 1.0}, 100, 0)
    noises = [Outcome(f"noise {v}", {"modality.noise": v}, steps, {"validation": 2.0}, 100, 10)
              for v in (0.3, 0.1, 1.0)]
    fix = projected_fine_tune(before, [projection, *noises], 0.1)
    assert fix is not None and fix.trains  # fine-tuned with both on, the weakest noise
    assert fix.changes == {"simulator.projection": True, "modality.noise": 0.1}
    stable = Outcome("projection", {"simulator.projection": True}, never, {"validation": 1.0},
                     100, 0)
    assert projected_fine_tune(before, [stable, *noises], 0.1) is None  # nothing to combine
    assert projected_fine_tune(before, noises, 0.1) is None  # no projection was offered


def test_stabilize_keeps_the_projection_fine_tuned_on_a_marginal_linear_model(
        tmp_path, capsys, monkeypatch):
    """The linear residual case of the physical-stability issue: data in an 8-dim subspace of
    R^20 whose spectrum touches the unit circle; the projection alone still diverges."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_stabilize.py"
    spec = importlib.util.spec_from_file_location("bench_stabilize", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = bench.linear_case(tmp_path, "linear20")
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "train", config, "--out", "run", "--quiet")[0] == 0
    code, out, err = run_cli(capsys, "stabilize", "run", "--out", "stable", "--quiet")
    assert code == 0, err
    report = json.loads((tmp_path / "stable" / "stabilize" / "stabilize.json").read_text())
    by_name = {c["name"]: c for c in report["candidates"]}
    assert by_name["projection"]["diverged"] > 0  # the projection alone is not enough
    assert report["chosen"].startswith("projection + noise")
    assert by_name[report["chosen"]]["diverged"] == 0
    assert by_name[report["chosen"]]["horizon"] == 10_000
    # An independent check: the kept run's affine step assembled from the network, iterated
    # in NumPy for 10,000 steps from every test start, stays within twice the data's range.
    cfg = read_run_config("stable")
    assert cfg.simulator.projection is True and cfg.modality.noise > 0
    data = open_run_data("stable", cfg)
    trained = Run("stable").trained  # with the run's normalization (data.file: normalized)

    test = split_dataset(cfg, data)["interpolation"]
    bound = 2 * np.abs(test.trajectories).max()
    for seed in range(len(trained.seeds)):
        sim = trained.simulator_for(seed)

        def apply(u, sim=sim):
            return np.asarray(sim(jnp.asarray(u, jnp.float32), jnp.asarray([2.0])), np.float64)

        shift = apply(np.zeros(20))
        step = np.stack([apply(e) - shift for e in np.eye(20)], axis=1)
        x = test.trajectories[:, 0].astype(np.float64).T
        for _ in range(10_000):
            x = step @ x + shift[:, None]
        assert np.abs(x).max() <= bound, seed
