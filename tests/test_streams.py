"""A run's three random streams, each checked against its own written-out definition, and the
initial weights against Keras' own initializer drawn from the same generator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlpbench import engines
from mlpbench.config.core import Config
from mlpbench.data.dataset import batch_orders, epoch_orders, make_dataset
from mlpbench.data.streams import (
    DATA_STREAM,
    DROPOUT_STREAM,
    INIT_STREAM,
    ORDER_STREAM,
    dropout_keys,
    rng_for,
)
from mlpbench.nn.initializers import INITIALIZERS, TRUNCATED_STD, truncated_normal
from mlpbench.nn.model import init_params, run_params

SEED = 12345


def _definition(seed: int, k: int) -> np.random.Generator:
    """The documented stream k of a run: SeedSequence(seed, spawn_key=(k,))."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))


def test_the_streams_are_numbered_as_documented():
    assert (DATA_STREAM, INIT_STREAM, ORDER_STREAM) == (0, 1, 2)
    for k in (0, 1, 2):
        assert rng_for(SEED, k).random(4).tolist() == _definition(SEED, k).random(4).tolist()


def test_the_dropout_key_is_the_first_word_of_stream_3():
    assert DROPOUT_STREAM == 3
    want = np.random.SeedSequence(SEED, spawn_key=(3,)).generate_state(1, np.uint64)[0]
    assert dropout_keys([SEED]).tolist() == [int(want)]


def test_the_data_come_from_stream_0():
    config = Config(m=50, n=10)
    rng = _definition(SEED, 0)
    x_train, x_test = rng.uniform(-2, 2, (50, 2)), rng.uniform(-2, 2, (10, 2))
    data = make_dataset(config, SEED)
    assert np.array_equal(data.x_train, x_train) and np.array_equal(data.x_test, x_test)
    assert np.array_equal(data.y_train[:, 0], x_train[:, 0] ** 2 > x_train[:, 1])


def test_the_weights_come_from_stream_1_layer_by_layer():
    rng = _definition(SEED, 1)
    w1 = rng.uniform(-np.sqrt(6 / 5), np.sqrt(6 / 5), (2, 3))  # Glorot: sqrt(6 / (2 + 3))
    w2 = rng.uniform(-np.sqrt(6 / 4), np.sqrt(6 / 4), (3, 1))  # sqrt(6 / (3 + 1))
    params = run_params((2, 3, 1), SEED)
    assert np.array_equal(params[0], w1) and np.array_equal(params[2], w2)
    assert not params[1].any() and not params[3].any()  # zero biases


def test_the_batch_order_comes_from_stream_2_a_permutation_an_epoch():
    rng = _definition(SEED, 2)
    expected = [rng.permutation(7) for _ in range(3)]
    assert np.array_equal(epoch_orders([SEED], 7, 3)[0], np.array(expected))


def test_the_three_streams_differ_and_do_not_depend_on_each_other():
    draws = [rng_for(SEED, k).random(8) for k in (0, 1, 2)]
    assert len({d.tobytes() for d in draws}) == 3
    # more data drawn (a larger m) leaves the weights and the order as they were
    assert np.array_equal(init_params((2, 3, 1), [SEED])[0], init_params((2, 3, 1), [SEED])[0])
    assert not np.array_equal(make_dataset(Config(m=50), SEED).x_train[:10],
                              make_dataset(Config(m=50), SEED + 1).x_train[:10])  # fmt: skip


@pytest.mark.parametrize("sizes", [(2, 3, 1), (30, 32, 10), (64, 8, 8, 3)])
def test_glorot_weights_are_keras_glorot_uniform_from_the_same_generator(sizes, monkeypatch):
    initializers = pytest.importorskip("keras.src.initializers.random_initializers")
    rng = _definition(SEED, 1)

    def same_generator(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return rng.uniform(minval, maxval, size=shape)  # Keras' bounds, our generator

    monkeypatch.setattr(initializers.random, "uniform", same_generator)
    glorot = initializers.GlorotUniform(seed=0)
    expected = [np.asarray(glorot((a, b))) for a, b in itertools.pairwise(sizes)]
    ours = run_params(sizes, SEED)[0::2]
    for mine, keras in zip(ours, expected):
        # Keras writes the bound sqrt(3 * (1 / fan_avg)), ours sqrt(6 / (fan_in + fan_out)):
        # the same number but for the last bit
        np.testing.assert_allclose(mine, keras, rtol=1e-15, atol=0)


KERAS_CLASSES = {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
                 "he_uniform": "HeUniform", "he_normal": "HeNormal",
                 "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal"}  # fmt: skip


def test_every_initializer_is_compared_with_its_source():
    assert set(KERAS_CLASSES) | {"sklearn"} == set(INITIALIZERS)


@pytest.mark.parametrize("init", sorted(KERAS_CLASSES))
@pytest.mark.parametrize("sizes", [(2, 3, 1), (30, 32, 10)])
def test_keras_initializers_from_the_same_generator(init, sizes, monkeypatch):
    """Keras' own class computes the bounds and deviations; its random draws come from our
    generator (uniform, or our truncated normal), so the weights must match ours."""
    initializers = pytest.importorskip("keras.src.initializers.random_initializers")
    rng = _definition(SEED, 1)

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return rng.uniform(minval, maxval, size=shape)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return mean + truncated_normal(rng, stddev, tuple(shape))

    monkeypatch.setattr(initializers.random, "uniform", uniform)
    monkeypatch.setattr(initializers.random, "truncated_normal", normal)
    keras_init = getattr(initializers, KERAS_CLASSES[init])(seed=0)
    expected = [np.asarray(keras_init((a, b))) for a, b in itertools.pairwise(sizes)]
    ours = run_params(sizes, SEED, init)
    for mine, keras in zip(ours[0::2], expected):
        np.testing.assert_allclose(mine, keras, rtol=1e-15, atol=0)  # but for the last bit
    assert not any(b.any() for b in ours[1::2])  # Keras' zero biases


@pytest.mark.parametrize(("activation", "theirs"), [("sigmoid", "logistic"), ("relu", "relu"),
                                                    ("tanh", "tanh")])  # fmt: skip
def test_sklearn_initializer_is_mlpclassifiers_from_the_same_generator(activation, theirs):
    """scikit-learn's own _init_coef, its random state our generator: the same weights and
    biases to the bit, drawn in its order (a layer's weights, then its biases)."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    mlp = neural_network.MLPClassifier(activation=theirs)
    mlp._random_state = _definition(SEED, 1)  # a Generator's uniform takes the same arguments
    sizes = (2, 5, 4, 1)
    expected = [part for a, b in itertools.pairwise(sizes)
                for part in mlp._init_coef(a, b, np.float64)]  # fmt: skip
    ours = run_params(sizes, SEED, "sklearn", activation)
    for mine, theirs_ in zip(ours, expected, strict=True):
        assert np.array_equal(mine, theirs_)
    bound = np.sqrt((2.0 if activation == "sigmoid" else 6.0) / (2 + 5))
    assert np.abs(ours[0]).max() <= bound and np.abs(ours[1]).max() > 0  # biases drawn too


def test_the_truncated_normal_is_cut_at_two_deviations_and_has_its_stated_deviation():
    x = truncated_normal(np.random.default_rng(0), 1.0 / TRUNCATED_STD, (400_000,))
    assert np.abs(x).max() <= 2 / TRUNCATED_STD  # two of the untruncated deviations
    assert np.std(x) == pytest.approx(1.0, rel=0.01)  # the divisor restores the deviation
    worked = np.random.default_rng(1)
    first = worked.standard_normal(5)
    again = truncated_normal(np.random.default_rng(1), 1.0, (5,))
    kept = np.abs(first) <= 2
    assert np.array_equal(again[kept], first[kept])  # draws within the cut are kept in place


def test_without_shuffle_every_epoch_walks_the_data_in_its_order():
    orders = batch_orders([SEED, SEED + 1], 7, 3, 2, shuffle=False)
    assert orders.shape == (2, 3, 7) and orders.dtype == np.int32
    assert (orders == np.arange(7)).all()
    assert batch_orders([SEED], 7, 3, 7, shuffle=False) is None  # full batch: no order at all
    base = dict(m=40, n=10, epochs=4, batch_size=8, hidden=(4,), lr=1.0)
    plain, fixed = Config(**base), Config(**base, shuffle=False)
    assert plain.key() == Config(**base, shuffle=True).key() != fixed.key()
    assert Config(m=40, shuffle=False).key() == Config(m=40).key()  # full batch: no matter
    runs = {name: engines.train(name, fixed, [0, 1]) for name in ("numpy", "numba")
            if engines.available(name)}  # fmt: skip
    shuffled = engines.train("numpy", plain, [0, 1])
    assert not np.allclose(runs["numpy"][0].loss_curve, shuffled[0].loss_curve)
    for results in runs.values():  # each engine trains the same fixed order
        for ours, reference in zip(results, runs["numpy"]):
            np.testing.assert_allclose(ours.loss_curve, reference.loss_curve, rtol=1e-12)
