"""Dropout: its hash worked by hand, the masks' inverted scaling and rate, finite-difference
gradients through masked layers for every activation, a hand-worked forward pass, numba's
runs against NumPy's, and the refusals of engines that cannot drop the same units."""

from __future__ import annotations

import numpy as np
import pytest

import mlpbench as mb
from conftest import FRAMEWORKS, assert_same_runs
from mlpbench.config.core import Config
from mlpbench.data.streams import dropout_keys
from mlpbench.engines.numpy_engine import loss_and_grads
from mlpbench.engines.registry import check_supports
from mlpbench.errors import UsageError
from mlpbench.nn.activations import ACTIVATIONS, hidden
from mlpbench.nn.dropout import masks, splitmix, uniforms
from mlpbench.nn.model import forward, init_params

WORD = 2**64


def _splitmix(x: int) -> int:
    """splitmix64's output for state x, in Python integers (Vigna's reference code)."""
    z = (x + 0x9E3779B97F4A7C15) % WORD
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % WORD
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % WORD
    return z ^ (z >> 31)


def test_the_hash_worked_by_hand():
    assert _splitmix(0) == 0xE220A8397B1DCDAF  # splitmix64's first output from state 0
    assert int(splitmix(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF
    key, update, slot, unit = 12345678901234567, 7, 3, 2
    h = _splitmix(key ^ _splitmix(update ^ _splitmix(slot ^ _splitmix(unit))))
    u = uniforms(np.array([key], dtype=np.uint64), update, slot + 1, unit + 1)
    assert u[0, slot, unit] == (h >> 11) / 2.0**53


def test_masks_keep_one_minus_the_rate_scaled_up_to_keep_the_mean():
    keys = dropout_keys(list(range(4)))
    factors = np.concatenate([masks(keys, s, 50, [30, 20], 0.3, "float64")[1]
                              for s in range(100)], axis=1)  # fmt: skip
    assert set(np.unique(factors)) == {0.0, 1 / 0.7}
    kept = (factors > 0).mean()  # 4 x 5,000 x 20 draws: sd of the mean about 0.0016
    assert abs(kept - 0.7) < 0.007 and abs(factors.mean() - 1.0) < 0.01
    # each update, slot, unit and run its own draw; a run's keys the same every time
    first = masks(keys, 0, 5, [30], 0.3, "float64")[0]
    assert not np.array_equal(first, masks(keys, 1, 5, [30], 0.3, "float64")[0])
    assert not np.array_equal(first[0], first[1])
    assert np.array_equal(dropout_keys([0, 1]), dropout_keys([0, 1]))


def test_a_forward_pass_worked_by_hand():
    """One input, two tanh units, one dropped: the kept one doubled at rate 0.5."""
    w1, b1 = np.array([[[1.0, -2.0]]]), np.array([[0.0, 0.5]])
    w2, b2 = np.array([[[3.0], [4.0]]]), np.array([[0.1]])
    mask = [np.array([[[2.0, 0.0]]])]  # unit 1 kept (x 1 / (1 - 0.5)), unit 2 dropped
    _, acts, logit = forward([w1, b1, w2, b2], np.array([[[0.7]]]), hidden("tanh"), mask)
    assert acts[1][0, 0].tolist() == [2 * np.tanh(0.7), 0.0]
    assert logit[0, 0, 0] == pytest.approx(3.0 * 2 * np.tanh(0.7) + 0.1)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_gradients_through_dropped_units_match_finite_differences(activation):
    rng = np.random.default_rng(3)
    params = init_params((2, 5, 4, 1), [0, 1], "float64")
    for b in params[1::2]:  # off 0: a unit whose inputs are all dropped sits at relu's kink
        b += rng.normal(scale=0.1, size=b.shape)
    x, y = rng.normal(size=(2, 6, 2)), rng.integers(0, 2, size=(2, 6, 1)).astype(float)
    drop = masks(dropout_keys([0, 1]), 4, 6, [5, 4], 0.4, "float64")
    act = hidden(activation)
    _, grads = loss_and_grads(params, x, y, act, "bce", drop)
    eps = 1e-6
    for i, p in enumerate(params):
        for index in np.ndindex(p.shape[1:]):
            up, down = [q.copy() for q in params], [q.copy() for q in params]
            up[i][(0, *index)] += eps
            down[i][(0, *index)] -= eps
            numeric = (loss_and_grads(up, x, y, act, "bce", drop)[0][0]
                       - loss_and_grads(down, x, y, act, "bce", drop)[0][0]) / (2 * eps)
            assert grads[i][(0, *index)] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (i,
                                                                                       index)


def test_dropout_trains_reproducibly_and_zero_is_none():
    config = dict(m=40, n=20, epochs=30, hidden=(6,), batch_size=8, lr=2.0)
    a, b = (mb.train(runs=2, engine="numpy", dropout=0.3, **config) for _ in range(2))
    for x, y in zip(a.runs, b.runs):
        np.testing.assert_array_equal(x.loss_curve, y.loss_curve)
    plain = mb.train(runs=2, engine="numpy", **config)
    assert not np.allclose(a.runs[0].loss_curve, plain.runs[0].loss_curve)
    assert Config(dropout=0.0).key() == Config().key() and Config(dropout=0).key() == Config(
        ).key()  # fmt: skip
    # prediction uses every unit: the stored train loss is the full network's, not a masked one
    assert a.runs[0].metrics["train_loss"] != pytest.approx(a.runs[0].loss_curve[-1], rel=1e-9)


BASE = dict(data="spiral", noise=0.2, m=100, n=50, hidden=(8, 6), activation="relu",
            optimizer="adam", lr=0.01, epochs=60)  # fmt: skip
NUMBA_CASES = [
    {"dropout": 0.3},  # full batch: computed by rows
    {"dropout": 0.3, "batch_size": 4},  # sample by sample
    {"dropout": 0.2, "batch_size": 16, "activation": "sigmoid", "l2": 0.01},
    {"dropout": 0.2, "activation": "tanh", "data": "iris", "noise": 0.0, "loss": "cce",
     "m": None, "n": None, "early_stopping": "val_loss", "stop_patience": 3},
]  # fmt: skip


@pytest.mark.parametrize("given", NUMBA_CASES, ids=[str(i) for i in range(len(NUMBA_CASES))])
def test_numba_drops_the_units_numpy_drops(given):
    pytest.importorskip("numba")
    ours, theirs = (mb.train(runs=2, engine=e, **(BASE | given)) for e in ("numpy", "numba"))
    assert_same_runs(ours.runs, theirs.runs, rtol=1e-9)


def test_engines_that_cannot_drop_the_same_units_refuse_it_in_one_line():
    for engine in FRAMEWORKS:
        with pytest.raises(UsageError, match=rf"engine '{engine}' cannot train dropout 0.2 "
                                             r"\(every engine must drop the same units\); "
                                             "engines that can: numpy, numba$"):  # fmt: skip
            check_supports(engine, Config(dropout=0.2), "float64")
    with pytest.raises(UsageError, match=r"dropout must be a fraction in \[0, 1\), got 1.0"):
        Config(dropout=1.0)
