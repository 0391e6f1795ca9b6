"""Backward pass, losses and a hand-worked step, checked like the references check them."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.engines.numpy_engine import loss_and_grads
from mlpbench.nn.activations import ACTIVATIONS, hidden, sigmoid
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.model import init_params, run_params
from mlpbench.nn.optimizers import apply_updates, sgd


def _numeric_grads(params, x, y, activation, loss, h=1e-6):
    """Central differences of the loss in every parameter entry."""
    grads = []
    for k, p in enumerate(params):
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[k][idx] += h
            minus[k][idx] -= h
            lp = LOSSES[loss].value(_logit(plus, x, activation), y)
            lm = LOSSES[loss].value(_logit(minus, x, activation), y)
            g[idx] = (lp - lm)[idx[0]] / (2 * h)
        grads.append(g)
    return grads


def _logit(params, x, activation):
    from mlpbench.nn.model import logits

    return logits(params, x, activation)


@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("sizes", [(3,), (4, 3)])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_backward_matches_finite_differences(loss, sizes, activation):
    rng = np.random.default_rng(1)
    params = init_params((2, *sizes, 1), seeds=[3, 4])
    params = [p + rng.normal(0, 0.3, p.shape) for p in params]  # nonzero biases too
    x = rng.uniform(-2, 2, (2, 9, 2))
    y = (rng.random((2, 9, 1)) > 0.5).astype(float)
    act = hidden(activation, 0.1)  # leaky_relu at a slope other than its default
    _, grads = loss_and_grads(params, x, y, act, loss)
    numeric = _numeric_grads(params, x, y, act, loss)
    for g, n in zip(grads, numeric):
        assert g.shape == n.shape
        np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-9)


def test_bce_is_exact_at_extreme_logits():
    z = np.array([[[1e4], [-1e4], [1e4], [-1e4]]])
    y = np.array([[[1.0], [0.0], [0.0], [1.0]]])
    # right answers cost ~0, wrong ones cost |z| exactly: no clipping at log(1e7)
    assert LOSSES["bce"].value(z, y)[0] == pytest.approx((0 + 0 + 1e4 + 1e4) / 4)
    grad = LOSSES["bce"].grad(z, y)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad[0, :, 0], np.array([0.0, 0.0, 1.0, -1.0]) / 4)
    assert np.isfinite(LOSSES["mse"].value(z, y)).all()


def test_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        LOSSES["bce"].value(np.zeros((1, 4, 1)), np.zeros((1, 4)))


def test_sigmoid_has_no_overflow():
    with np.errstate(over="raise"):
        s = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


def test_glorot_limits_and_zero_biases():
    w1, b1, w2, b2 = run_params((2, 3, 1), seed=0)
    assert np.abs(w1).max() <= np.sqrt(6 / 5) and np.abs(w2).max() <= np.sqrt(6 / 4)
    assert w1.shape == (2, 3) and w2.shape == (3, 1)
    assert not b1.any() and not b2.any()


def test_hand_worked_sgd_step():
    """One SGD step on a 2-3-1 sigmoid network and one sample, every intermediate by hand."""
    w1 = np.array([[0.5, -0.5, 0.0], [0.0, 0.5, 1.0]])
    b1 = np.zeros(3)
    w2 = np.array([[1.0], [-1.0], [0.5]])
    b2 = np.zeros(1)
    x = np.array([[[2.0, 0.0]]])  # x1 = 2, x2 = 0: label 1 since 4 > 0
    y = np.array([[[1.0]]])
    # hidden pre-activations: x @ w1 = (1, -1, 0); activations s = (0.731059, 0.268941, 0.5)
    s = np.array([1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1)), 0.5])
    # output logit z = 0.731059 - 0.268941 + 0.25 = 0.712117; p = sigmoid(z) = 0.670869
    z = s @ w2[:, 0]
    assert z == pytest.approx(0.712117, abs=1e-6)
    p = 1 / (1 + np.exp(-z))
    assert p == pytest.approx(0.670869, abs=1e-6)
    # BCE: dL/dz = p - y = -0.329131
    dz = p - 1.0
    # output layer: dW2 = s * dz = (-0.240614, -0.088517, -0.164566); db2 = dz
    # hidden: delta = dz * w2 * s(1-s) = (-0.064711, 0.064711, -0.041141)
    delta = dz * w2[:, 0] * s * (1 - s)
    assert delta == pytest.approx([-0.064711, 0.064711, -0.041141], abs=1e-6)
    # dW1 = outer(x, delta): row x1 = 2 * delta, row x2 = 0; db1 = delta
    lr = 0.5
    expected = [
        w1 - lr * np.outer([2.0, 0.0], delta),
        b1 - lr * delta,
        w2 - lr * (s * dz)[:, None],
        b2 - lr * np.array([dz]),
    ]
    # e.g. new w1[0] = (0.5, -0.5, 0) - 0.5 * (-0.129422, 0.129422, -0.082283)
    assert expected[0][0] == pytest.approx([0.564711, -0.564711, 0.041141], abs=1e-6)

    params = [w1[None], b1[None], w2[None], b2[None]]
    loss, grads = loss_and_grads(params, x, y, hidden("sigmoid"), "bce")
    assert loss[0] == pytest.approx(-np.log(p))
    opt = sgd(lr)
    updates, _ = opt.update(grads, opt.init(params))
    new = apply_updates(params, updates)
    for got, want in zip(new, expected):
        np.testing.assert_allclose(got[0], want, rtol=1e-12)


def test_apply_updates_rejects_broadcasting():
    with pytest.raises(ValueError, match="does not match"):
        apply_updates([np.zeros((2, 3))], [np.zeros((2, 1))])
