"""Softmax outputs: losses worked by hand, finite-difference gradients, accuracy by argmax,
and which loss goes with how many classes."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.config.core import Config
from mlpbench.engines import accuracy
from mlpbench.engines.numpy_engine import loss_and_grads
from mlpbench.errors import UsageError
from mlpbench.nn.activations import hidden, softmax
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.model import init_params
from test_numerics import _numeric_grads

# one sample, three classes, logits (1, 2, 3), true class 2
Z = np.array([[[1.0, 2.0, 3.0]]])
Y = np.array([[[0.0, 0.0, 1.0]]])
# softmax: e^z / (e + e^2 + e^3) = (0.09003057, 0.24472847, 0.66524096)
P = np.array([0.09003057, 0.24472847, 0.66524096])


def test_softmax_by_hand():
    np.testing.assert_allclose(softmax(Z)[0, 0], P, rtol=1e-7)
    # shifted by the maximum: logits near the float64 limit do not overflow
    np.testing.assert_allclose(softmax(Z + 700.0)[0, 0], P, rtol=1e-7)


def test_cce_by_hand():
    # -log p_2 = -log 0.66524096 = 0.40760596; gradient p - y, divided by the batch (1)
    assert LOSSES["cce"].value(Z, Y)[0] == pytest.approx(0.4076059644443803, rel=1e-12)
    np.testing.assert_allclose(LOSSES["cce"].grad(Z, Y)[0, 0],
                               [0.09003057, 0.24472847, -0.33475904], rtol=1e-7)  # fmt: skip
    # from logits, unclipped: a confident wrong answer costs its margin, not log(1e7)
    far = np.array([[[1000.0, 0.0, 0.0]]])
    assert LOSSES["cce"].value(far, Y)[0] == pytest.approx(1000.0)


def test_softmax_mse_by_hand():
    # p - y = (0.0900, 0.2447, -0.3348); mean of squares over the 3 outputs = 0.0600204
    assert LOSSES["mse"].value(Z, Y)[0] == pytest.approx(0.06002038211358698, rel=1e-12)
    # g = dL/dp = 2 (p - y) / 3 = (0.0600204, 0.1631523, -0.2231727); sum(p g) = -0.1031319;
    # dL/dz = p (g - sum(p g)) = (0.0146887, 0.0651673, -0.0798560), which sums to 0
    grad = LOSSES["mse"].grad(Z, Y)[0, 0]
    np.testing.assert_allclose(grad, [0.0146887, 0.06516734, -0.07985603], rtol=1e-6)
    assert abs(grad.sum()) < 1e-15


@pytest.mark.parametrize("loss", ["cce", "mse"])
@pytest.mark.parametrize(("sizes", "activation"), [((3,), "sigmoid"), ((4, 3), "tanh"),
                                                   ((5,), "relu")])  # fmt: skip
def test_softmax_backward_matches_finite_differences(loss, sizes, activation):
    rng = np.random.default_rng(2)
    params = init_params((3, *sizes, 4), seeds=[1, 2])
    params = [p + rng.normal(0, 0.3, p.shape) for p in params]
    x = rng.uniform(-2, 2, (2, 7, 3))
    y = np.eye(4)[rng.integers(0, 4, (2, 7))]
    act = hidden(activation)
    _, grads = loss_and_grads(params, x, y, act, loss)
    for g, n in zip(grads, _numeric_grads(params, x, y, act, loss)):
        assert g.shape == n.shape
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-9)


def test_accuracy_takes_the_largest_output():
    z = np.array([[[0.1, 0.7, 0.2], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]])
    y = np.array([[[0, 1, 0], [0, 1, 0], [1, 0, 0]]], dtype=float)
    # right, a tie (the first of equals, class 0: wrong), wrong
    assert accuracy(z, y)[0] == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="one shape"):
        accuracy(z[..., :1], y)


def test_loss_and_class_count_must_fit():
    pytest.importorskip("sklearn")
    with pytest.raises(UsageError, match="'bce' is for two classes; data 'iris' have 3: use cce"):
        Config(data="iris", loss="bce")
    with pytest.raises(UsageError, match="'cce' is for 3 or more classes; data 'quadratic' have 2"):
        Config(loss="cce")
    with pytest.raises(ValueError, match="one sigmoid output unit"):
        LOSSES["bce"].value(Z, Y)
    with pytest.raises(ValueError, match="softmax over several"):
        LOSSES["cce"].value(Z[..., :1], Y[..., :1])


def test_the_network_is_sized_from_the_data():
    pytest.importorskip("sklearn")
    assert Config(data="digits", loss="cce", hidden=(32,)).layer_sizes == (64, 32, 10)
    assert Config(data="breast-cancer", hidden=(8, 4)).layer_sizes == (30, 8, 4, 1)
    assert Config(data="formula", rule="x1 + x5 > 0").layer_sizes == (5, 3, 1)
