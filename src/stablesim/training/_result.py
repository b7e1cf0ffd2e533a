"""What training returns: `TrainResult`."""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax

from ..simulators import AbstractSimulator, with_network


@dataclasses.dataclass
class TrainResult:
    """The outcome of `train`.

    **Fields:**

    - `simulator`: the template simulator (its network is the first seed's).
    - `networks`: the trained networks, stacked along a leading seed axis.
    - `seeds`: the seeds, in the order of that axis.
    - `history`: logged rows (dicts with the `train_log.csv` columns).
    - `skipped`: skipped updates per seed.
    - `steps`: updates done.
    """

    simulator: AbstractSimulator
    networks: Any
    seeds: list[int]
    history: list[dict]
    skipped: list[int]
    steps: int

    def simulator_for(self, index: int) -> AbstractSimulator:
        """The trained simulator of seed number `index` (position in `seeds`)."""
        net = jax.tree_util.tree_map(
            lambda x: x[index] if eqx.is_array(x) else x, self.networks
        )
        return with_network(self.simulator, net)
