"""The peer benchmark's own arithmetic: FLOP counts and the report table."""

import importlib.util
import pathlib
import sys

import jax
import jax.numpy as jnp
import pytest

from stablesim.models import make_network

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bench_module():
    path = ROOT / "benchmarks" / "peers" / "bench_peers.py"
    spec = importlib.util.spec_from_file_location("bench_peers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dims,points", [(1, 40), (2, 12)])
def test_analytic_flops_match_xlas_count_of_the_forward_pass(dims, points):
    bench = _bench_module()
    case = bench.Case(dims=dims, points=points, batch=3, updates=1)
    width, depth = 16, 3
    net = make_network("conv", state_shape=(1,) + (points,) * dims, width=width, depth=depth,
                       key=jax.random.key(0))
    x = jnp.ones((case.batch, 1) + (points,) * dims)
    compiled = jax.jit(jax.vmap(lambda u: net(u, jnp.zeros(0)))).lower(x).compile()
    xla_forward = compiled.cost_analysis()["flops"]
    # ONE: forward x3; the benchmark's count must be 3x XLA's forward (biases and relu aside)
    ours = bench.conv_flops_per_update(case, "ONE", 5, width, depth) / 3
    assert ours == pytest.approx(xla_forward, rel=0.05)
    assert bench.conv_flops_per_update(case, "NOG", 5, width, depth) == pytest.approx(5 * 3 * ours)


def test_the_report_table_has_a_row_per_case_and_the_ratio_to_apebench():
    bench = _bench_module()
    case = bench.Case(dims=1, points=160, batch=20, updates=100)
    runs = {"apebench": [{"updates_per_s": 10.0, "compile_s": 2.0, "data_s": 5.0, "wall_s": 30}],
            "conv": [{"updates_per_s": 25.0, "compile_s": 1.0, "data_s": 0.1, "wall_s": 9},
                     {"updates_per_s": 35.0, "compile_s": 3.0, "data_s": 0.1, "wall_s": 7}]}
    row = bench._summarise(case, "NOG", 5, runs, matmul=100.0)
    assert row["tools"]["conv"]["updates_per_s"] == 30.0  # median over rounds
    assert row["tools"]["conv"]["vs_apebench"] == 3.0
    flops = bench.conv_flops_per_update(case, "NOG", 5, 34, 10)
    assert row["tools"]["conv"]["gflops"] == pytest.approx(flops * 30 / 1e9, rel=1e-3)
    table = bench.markdown({"backend": "cpu", "matmul_gflops": 100.0, "rows": [row]}, ["conv"])
    assert "| 1D 160, batch 20 | NOG-5 | 10.0 | 30.0 | 3.00 |" in table


@pytest.mark.parametrize("dims", [1, 2])
def test_the_ceilings_products_are_the_updates_flops_less_the_first_input_gradient(dims):
    bench = _bench_module()
    case = bench.Case(dims=dims, points=20, batch=4, updates=1)
    shapes = bench.layer_gemm_shapes(case, width=16, depth=3)
    gemm_flops = sum(2 * m * k * n for m, k, n in shapes)
    first_input_gradient = 2 * case.batch * case.points**dims * 16 * 3**dims
    total = bench.conv_flops_per_update(case, "ONE", 5, 16, 3)
    assert gemm_flops == total - first_input_gradient
    assert len(shapes) == 3 * 4 - 1


def test_the_table_shows_the_gemm_ceiling_against_apebench():
    bench = _bench_module()
    case = bench.Case(dims=1, points=160, batch=20, updates=100)
    runs = {"apebench": [{"updates_per_s": 10.0, "compile_s": 2.0, "data_s": 5.0, "wall_s": 30}],
            "conv": [{"updates_per_s": 12.0, "compile_s": 1.0, "data_s": 0.1, "wall_s": 9}]}
    row = bench._summarise(case, "WIG", 5, runs, matmul=100.0, ceiling=14.0)
    assert row["gemm_ceiling"] == {"updates_per_s": 14.0, "vs_apebench": 1.4}
    table = bench.markdown({"backend": "cpu", "matmul_gflops": 100.0, "rows": [row]}, ["conv"])
    assert table.splitlines()[-1].endswith("| 14.0 (1.40) |")
