"""Float64 safety: the command line with `jax_enable_x64` on (issue 28, item 4)."""

import json
import os
import subprocess
import sys

import yaml

from _tiny import TINY

_SCRIPT = """
import sys, jax, numpy as np
from stablesim.cli import main
assert jax.config.jax_enable_x64
for argv in (["train", "tiny.yaml", "--out", "run"], ["evaluate", "run"]):
    code = main(argv)
    assert code == 0, argv
from stablesim.runs import Run
leaves = [x for x in jax.tree_util.tree_leaves(Run("run").trained.networks) if hasattr(x, "dtype")]
print(sorted({str(x.dtype) for x in leaves if np.issubdtype(x.dtype, np.floating)}))
"""


def test_train_and_evaluate_with_x64_on(tmp_path):
    config = {**TINY, "simulator": {"setup": "correction"},
              "modality": {"name": "WIG", "unroll": 2},
              "training": {**TINY["training"], "updates": 6, "seeds": [0]}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, JAX_ENABLE_X64="1")
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # the networks train in the data's dtype (float32), not in the x64 default
    assert done.stdout.strip().splitlines()[-1] == "['float32']"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["updates"] == 6
