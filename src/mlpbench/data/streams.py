"""The per-run random streams: from a run's one integer seed, an independent NumPy stream
each for its data, its initial weights and its batch order."""

from __future__ import annotations

import numpy as np

DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 1, 2


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """An independent generator for one purpose of one run."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))
