"""Dropout after each hidden layer, inverted as Keras' Dropout layer applies it in training.

With rate p, unit j of a hidden layer is kept with probability 1 - p and its
activation scaled by 1 / (1 - p), or dropped (0); prediction uses no dropout.
Every engine must drop the same units, so a mask is not drawn from a
generator's state but computed: unit j (numbered across the hidden layers,
from 0) of the sample in batch slot b at update s of a run is kept when

    u = H(key, s, b, j) >= p,   u = (h >> 11) / 2^53 in [0, 1),

with h = splitmix64(key ^ splitmix64(s ^ splitmix64(b ^ splitmix64(j)))) in
wrapping unsigned 64-bit arithmetic, and key the run's dropout key (its fourth
random stream, data/streams.py). No mask is stored: at batch size 1 the masks
cost no memory beyond one batch's, whatever the run's length.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

GAMMA, MIX1, MIX2 = (np.uint64(v) for v in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9,
                                             0x94D049BB133111EB))  # fmt: skip
S30, S27, S31, S11 = (np.uint64(v) for v in (30, 27, 31, 11))


def splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64's output function on uint64 arrays (Steele, Lea and Flood's mixer)."""
    x = x + GAMMA
    x = (x ^ (x >> S30)) * MIX1
    x = (x ^ (x >> S27)) * MIX2
    return x ^ (x >> S31)


def uniforms(keys: np.ndarray, update: int, batch: int, units: int) -> np.ndarray:
    """u (R, batch, units) for every run, batch slot and hidden unit of one update."""
    with np.errstate(over="ignore"):
        j = splitmix(np.arange(units, dtype=np.uint64))
        b = splitmix(np.arange(batch, dtype=np.uint64)[:, None] ^ j[None, :])
        s = splitmix(np.uint64(update) ^ b)
        h = splitmix(np.asarray(keys, dtype=np.uint64)[:, None, None] ^ s[None])
    return (h >> S11).astype(np.float64) * 2.0**-53


def masks(keys: np.ndarray, update: int, batch: int, hidden: Sequence[int], rate: float,
          dtype: str) -> list[np.ndarray]:  # fmt: skip
    """Each hidden layer's factors (R, batch, units): 0 where dropped, 1 / (1 - rate) where
    kept."""
    u = uniforms(keys, update, batch, sum(hidden))
    scale = np.asarray(1.0 / (1.0 - rate), dtype=dtype)
    factors = np.where(u >= rate, scale, np.asarray(0.0, dtype=dtype))
    bounds = np.cumsum([0, *hidden])
    return [factors[:, :, lo:hi] for lo, hi in itertools.pairwise(bounds)]
