import jax
import pytest


@pytest.fixture
def x64():
    """Run a test in float64 (theory and oracle checks need the precision)."""
    with jax.enable_x64(True):
        yield
