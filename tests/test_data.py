"""Data sets follow their rule and are reproducible from the seed alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpbench.config import Config
from mlpbench.data import DATASETS, epoch_orders, make_dataset, stack_datasets

SHIPPED = ("breast-cancer", "iris", "wine", "digits")


def config(name: str, m: int, n: int, **fields) -> Config:
    """A configuration of this data set (mse takes any number of classes)."""
    if name in SHIPPED:
        pytest.importorskip("sklearn")
    if name == "formula":
        fields.setdefault("rule", "x1**2 > x2")
    return Config(data=name, m=m, n=n, loss="mse", **fields)


def draw(name: str, m: int, n: int, seed: int, **fields):
    return make_dataset(config(name, m, n, **fields), seed)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_deterministic_per_seed(name):
    a, b = draw(name, 50, 10, seed=7), draw(name, 50, 10, seed=7)
    c = draw(name, 50, 10, seed=8)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.x_train, c.x_train)


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 300), n=st.integers(1, 50))
@settings(max_examples=40, deadline=None)
def test_rules_and_ranges(seed, m, n):
    rules = {
        "quadratic": (lambda x: x[:, 0] ** 2 > x[:, 1], -2, 2, False),
        "quadratic-int": (lambda x: x[:, 0] ** 2 > x[:, 1], -2, 2, True),
        "linear-int": (lambda x: x[:, 0] + x[:, 1] > 0, -10, 10, True),
    }
    for name, (rule, lo, hi, integer) in rules.items():
        d = draw(name, m, n, seed)
        assert d.x_train.shape == (m, 2) and d.y_train.shape == (m, 1)
        assert d.x_test.shape == (n, 2) and d.y_test.shape == (n, 1)
        for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
            assert x.min() >= lo and x.max() <= hi
            if integer:
                np.testing.assert_array_equal(x, np.round(x))
            np.testing.assert_array_equal(y[:, 0], rule(x).astype(float))


def test_integer_sets_cover_both_ends():
    d = draw("quadratic-int", 2000, 10, seed=0)
    assert set(np.unique(d.x_train)) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    d = draw("linear-int", 5000, 10, seed=0)
    assert d.x_train.min() == -10 and d.x_train.max() == 10


def test_data_does_not_depend_on_the_other_runs():
    together = stack_datasets(config("quadratic", 30, 5), [3, 4, 5])
    alone = draw("quadratic", 30, 5, seed=4)
    np.testing.assert_array_equal(together.x_train[1], alone.x_train)


def test_epoch_orders_are_permutations_and_reproducible():
    orders = epoch_orders([1, 2], m=20, epochs=4)
    assert orders.shape == (2, 4, 20)
    np.testing.assert_array_equal(
        np.sort(orders, axis=2), np.broadcast_to(np.arange(20), (2, 4, 20))
    )
    np.testing.assert_array_equal(orders[1], epoch_orders([2], 20, 4)[0])
    assert not np.array_equal(orders[0, 0], orders[0, 1])
