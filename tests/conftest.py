import os
import pathlib
import tempfile

# One persistent XLA compilation cache for the test workers and the CLI processes they
# start: many tests compile the same small training graphs.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(pathlib.Path(tempfile.gettempdir()) / "stablesim-tests-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

import jax
import pytest


@pytest.fixture
def x64():
    """Run a test in float64 (theory and oracle checks need the precision)."""
    with jax.enable_x64(True):
        yield
