"""Data sets follow their rule and are reproducible from the seed alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpbench.config.core import Config
from mlpbench.data.dataset import DATASETS, epoch_orders, make_dataset, stack_datasets

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


@pytest.mark.parametrize("name", ["circle", "xor"])
def test_playground_labels_follow_the_true_boundary_without_noise(name):
    from mlpbench.data.dataset import truth

    c = config(name, 400, 50)
    d = make_dataset(c, 2)
    np.testing.assert_array_equal(d.y_train[:, 0], truth(c)(d.x_train))
    noisy = make_dataset(config(name, 400, 50, noise=0.5), 2)
    flipped = noisy.y_train[:, 0] != truth(c)(noisy.x_train)
    assert 0 < flipped.mean() < 0.5  # noise moves some labels, not most


def test_playground_shapes():
    circle = draw("circle", 400, 10, 0)
    r, inside = np.hypot(*circle.x_train.T), circle.y_train[:, 0] == 1
    assert (r[inside] <= 2.5).all() and (r[~inside] >= 3.5).all()
    gauss = draw("gauss", 2000, 10, 0)
    np.testing.assert_allclose(gauss.x_train[gauss.y_train[:, 0] == 1].mean(axis=0), [2, 2],
                               atol=0.1)  # fmt: skip
    spiral = draw("spiral", 400, 10, 0)
    assert np.hypot(*spiral.x_train.T).max() <= 5 and spiral.y_train.mean() == 0.5
    moons = draw("moons", 400, 10, 0)
    upper = moons.x_train[moons.y_train[:, 0] == 0]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)  # the upper moon, without noise


def test_noise_is_checked():
    from mlpbench.errors import UsageError

    with pytest.raises(UsageError, match="noise must be a number in \\[0, 1\\], got 2"):
        Config(data="circle", noise=2)
    with pytest.raises(UsageError, match="noise applies to data sets circle, xor"):
        Config(noise=0.1)


def test_shipped_tables_keep_their_rows_and_split_by_seed():
    c = config("iris", 120, 30)
    a, b = make_dataset(c, 0), make_dataset(c, 1)
    assert a.x_train.shape == (120, 4) and a.y_train.shape == (120, 3)
    assert not np.array_equal(a.x_train, b.x_train)  # another split
    every = np.concatenate([a.x_train, a.x_test])
    assert len(np.unique(every.round(12), axis=0)) == len(np.unique(
        np.concatenate([b.x_train, b.x_test]).round(12), axis=0))  # fmt: skip
