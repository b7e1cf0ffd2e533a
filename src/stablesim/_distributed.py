"""Several processes (hosts) training one run: start-up, the writing process, host copies.

Each process runs the same `stablesim train` command; `jax.distributed`
joins them, the trainer's device mesh spans every process's devices, and
only process 0 writes files. The start-up is read from JAX's own environment
variables, so a cluster launcher only has to set them:

- `JAX_COORDINATOR_ADDRESS`: `host:port` of process 0;
- `JAX_NUM_PROCESSES`: the number of processes;
- `JAX_PROCESS_ID`: this process's number, 0 .. `JAX_NUM_PROCESSES` - 1.
"""

from __future__ import annotations

import os
from typing import Any

from ._errors import ConfigError

_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize_from_environment() -> bool:
    """Join the other processes of a run when `JAX_COORDINATOR_ADDRESS` is set.

    Calls `jax.distributed.initialize` with the address, the number of
    processes and this process's id from the environment (once per process).

    **Returns:**

    True when this process is one of several, False when it runs alone (the
    variable is not set).

    **Raises:**

    `ConfigError` (one line) when the variables are incomplete or malformed,
    or the coordinator cannot be reached.
    """
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not address:
        return False
    missing = [v for v in _VARIABLES[1:] if not os.environ.get(v)]
    if missing:
        raise ConfigError(f"JAX_COORDINATOR_ADDRESS is set but {', '.join(missing)} is not: "
                          "a run over several processes needs all three")
    try:
        count, index = int(os.environ["JAX_NUM_PROCESSES"]), int(os.environ["JAX_PROCESS_ID"])
    except ValueError:
        raise ConfigError("JAX_NUM_PROCESSES and JAX_PROCESS_ID must be integers, got "
                          f"{os.environ['JAX_NUM_PROCESSES']!r} and "
                          f"{os.environ['JAX_PROCESS_ID']!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"JAX_PROCESS_ID must lie in 0 .. {count - 1} for JAX_NUM_PROCESSES="
                          f"{count}, got {index}")
    import jax

    if jax.distributed.is_initialized():
        return jax.process_count() > 1
    try:
        jax.distributed.initialize(coordinator_address=address, num_processes=count,
                                   process_id=index)
    except Exception as error:  # noqa: BLE001 - any start-up failure is one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot join the run's processes at {address} as process {index} of "
                          f"{count}: {first}") from None
    return count > 1


def is_writer() -> bool:
    """Whether this process writes the run's files (process 0, or a process alone)."""
    import jax

    return jax.process_index() == 0


def gather_to_host(tree: Any) -> Any:
    """Every array of `tree` as a whole NumPy array on this host, even where its shards live
    on other processes' devices (a collective: every process must call it).

    **Arguments:**

    - `tree`: a PyTree of arrays.

    **Returns:**

    The same PyTree with NumPy arrays.
    """
    import jax
    import numpy as np

    if jax.process_count() == 1:
        return jax.tree_util.tree_map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)
