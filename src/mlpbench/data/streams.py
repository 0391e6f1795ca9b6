"""The per-run random streams: from a run's one integer seed, an independent NumPy stream
each for its data, its initial weights and its batch order, and a 64-bit key for its dropout
masks (nn/dropout.py hashes it with each update, sample and unit)."""

from __future__ import annotations

import numpy as np

DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 1, 2
DROPOUT_STREAM = 3  # not a generator's: its first 64-bit word is the run's dropout key


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """An independent generator for one purpose of one run."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def dropout_keys(seeds: list[int]) -> np.ndarray:
    """Each run's dropout key (R,) uint64, from its own stream."""
    return np.array([np.random.SeedSequence(s, spawn_key=(DROPOUT_STREAM,)).generate_state(
        1, np.uint64)[0] for s in seeds], dtype=np.uint64)  # fmt: skip
