"""Named data sets and the per-run random streams every engine shares.

A run is defined by its configuration and one integer seed. From that seed
three independent NumPy streams are derived, one each for the data, the
initial weights and the batch order, so columns of a table that differ only
in loss or optimizer see the same data and start from the same weights, and
any engine can replay the same batches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 1, 2


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """An independent generator for one purpose of one run."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


class Dataset(NamedTuple):
    """Train and test sets; x has shape (count, 2), y has shape (count, 1) in {0., 1.}."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _quadratic(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-2.0, 2.0, size=(count, 2))
    return x, x[:, 0] ** 2 > x[:, 1]


def _quadratic_int(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(-2, 2, size=(count, 2), endpoint=True).astype(np.float64)
    return x, x[:, 0] ** 2 > x[:, 1]


def _linear_int(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(-10, 10, size=(count, 2), endpoint=True).astype(np.float64)
    return x, x[:, 0] + x[:, 1] > 0


Generator = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]

# name -> (generator, one-line description)
DATASETS: dict[str, tuple[Generator, str]] = {
    "quadratic": (_quadratic, "x ~ U(-2, 2)^2, y = [x1^2 > x2] (the seed study)"),
    "quadratic-int": (_quadratic_int, "x integers in [-2, 2], y = [x1^2 > x2]"),
    "linear-int": (_linear_int, "x integers in [-10, 10], y = [x1 + x2 > 0]"),
}


# name -> (plotting range for both inputs, true boundary as x2 = f(x1))
BOUNDARIES: dict[str, tuple[tuple[float, float], Callable[[np.ndarray], np.ndarray]]] = {
    "quadratic": ((-2.0, 2.0), lambda x1: x1**2),
    "quadratic-int": ((-2.5, 2.5), lambda x1: x1**2),
    "linear-int": ((-10.5, 10.5), lambda x1: -x1),
}


def make_dataset(name: str, m: int, n: int, seed: int) -> Dataset:
    """Draw m train and n test points for one run from its data stream."""
    generate, _ = DATASETS[name]
    rng = rng_for(seed, DATA_STREAM)
    x_train, y_train = generate(rng, m)
    x_test, y_test = generate(rng, n)
    return Dataset(
        x_train, y_train.astype(np.float64)[:, None], x_test, y_test.astype(np.float64)[:, None]
    )


def stack_datasets(name: str, m: int, n: int, seeds: Sequence[int]) -> Dataset:
    """One data set per run, stacked on a leading run axis: x (R, count, 2), y (R, count, 1)."""
    sets = [make_dataset(name, m, n, s) for s in seeds]
    return Dataset(*(np.stack(parts) for parts in zip(*sets)))


def epoch_orders(seeds: Sequence[int], m: int, epochs: int) -> np.ndarray:
    """Sample order of every epoch of every run, shape (R, epochs, m), int32.

    Each epoch is a fresh permutation of range(m) drawn from the run's order
    stream; the batches of an epoch are consecutive slices of it, the last one
    short when the batch size does not divide m (as Keras keeps it).
    """
    orders = np.empty((len(seeds), epochs, m), dtype=np.int32)
    for r, seed in enumerate(seeds):
        rng = rng_for(seed, ORDER_STREAM)
        for e in range(epochs):
            orders[r, e] = rng.permutation(m)
    return orders


def batch_orders(seeds: Sequence[int], m: int, epochs: int, batch: int) -> np.ndarray | None:
    """Epoch orders for mini-batch training; None at full batch.

    A full batch's gradient is a sum over every sample, so its order cannot
    change the mathematics; full-batch training takes samples in stored order
    and skips drawing permutations it would not use.
    """
    return None if batch >= m else _cached_orders(tuple(seeds), m, epochs)


@functools.lru_cache(maxsize=1)
def _cached_orders(seeds: tuple[int, ...], m: int, epochs: int) -> np.ndarray:
    """Columns that differ only in batch size share one order array (engines only read it)."""
    return epoch_orders(seeds, m, epochs)
