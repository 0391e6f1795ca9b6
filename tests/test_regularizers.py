"""Weight penalties: the value and gradient written out, finite differences, Keras' own
regularizer, a hand-worked step, what the configuration accepts and how it is keyed."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import engines
from mlpbench.config.core import Config
from mlpbench.errors import UsageError
from mlpbench.nn import regularizers
from mlpbench.nn.activations import hidden
from mlpbench.nn.model import init_params
from mlpbench.nn.regularizers import Penalty

PENALTIES = [Penalty(0.01, 0.0), Penalty(0.0, 0.02), Penalty(0.005, 0.01)]


def _params():
    params = init_params((2, 4, 3, 1), [0, 1])
    params[1] = params[1] + 0.5  # biases away from zero: a penalty on them would show
    return params


@pytest.mark.parametrize("penalty", PENALTIES)
def test_value_is_l1_sum_abs_plus_l2_sum_squares_of_the_kernels_only(penalty):
    params = _params()
    for r in range(2):
        kernels = [params[0][r], params[2][r], params[4][r]]
        want = sum(penalty.l1 * np.abs(w).sum() + penalty.l2 * (w * w).sum() for w in kernels)
        assert regularizers.value(params, penalty)[r] == pytest.approx(want, rel=1e-14)
        one = [p[r] for p in params]
        assert regularizers.value(one, penalty, run_axis=False) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("penalty", PENALTIES)
def test_gradient_matches_central_differences_and_leaves_biases_alone(penalty):
    params, h = _params(), 1e-6
    zero = [np.zeros_like(p) for p in params]
    grads = regularizers.gradient(params, zero, penalty)
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            plus, minus = [q.copy() for q in params], [q.copy() for q in params]
            plus[k][idx] += h
            minus[k][idx] -= h
            numeric = (regularizers.value(plus, penalty) - regularizers.value(minus, penalty))
            assert grads[k][idx] == pytest.approx(numeric[idx[0]] / (2 * h), abs=1e-8)
        if k % 2:
            assert not grads[k].any(), "a bias got a penalty gradient"


def test_l1_gradient_at_zero_is_zero_as_tensorflow_differentiates_abs():
    params = [np.zeros((1, 2, 1)), np.zeros((1, 1))]
    grads = regularizers.gradient(params, [np.ones((1, 2, 1)), np.ones((1, 1))], Penalty(1, 0))
    assert grads[0].tolist() == [[[1.0], [1.0]]]


def test_value_equals_keras_l1l2_regularizer():
    """To float32 rounding: Keras casts l1 and l2 through its floatx, float32, even for a
    float64 kernel."""
    keras = pytest.importorskip("keras")
    params = _params()
    for penalty in PENALTIES:
        rule = keras.regularizers.L1L2(*penalty)
        keras_value = sum(float(rule(keras.ops.convert_to_tensor(w[0], "float64")))
                          for w in params[0::2])  # fmt: skip
        assert keras_value == pytest.approx(regularizers.value(params, penalty)[0], rel=1e-7)


def test_hand_worked_step_of_the_numpy_engine():
    """One full-batch SGD step at lr 0.5 from the shared start, l2 = 0.1: every kernel moves by
    the data gradient plus 2 * 0.1 * w, every bias by the data gradient alone."""
    from mlpbench.engines.harness import prepare
    from mlpbench.engines.numpy_engine import loss_and_grads

    plain = Config(m=20, n=8, epochs=1, lr=0.5)
    penalized = plain.replace(l2=0.1)
    problem = prepare(plain, [0], "float64")
    data, start = problem.data, problem.params
    _, grads = loss_and_grads(start, data.x_train, data.y_train, hidden("sigmoid"), "bce")
    (run,) = engines.train("numpy", penalized, [0])
    for i, (p, g) in enumerate(zip(start, grads)):
        extra = 2 * 0.1 * p if i % 2 == 0 else 0.0
        np.testing.assert_allclose(run.params[i], (p - 0.5 * (g + extra))[0], rtol=1e-13)
    want = 0.1 * sum((w * w).sum() for w in start[0::2])
    assert run.curves["penalty"][0] == pytest.approx(want, rel=1e-13)


def test_penalty_curve_is_apart_from_the_data_loss():
    """The loss curve stays the data loss: with a penalty it is not the sum Keras shows."""
    config = Config(m=20, n=8, epochs=5, lr=0.5, l2=0.05)
    (penalized,) = engines.train("numpy", config, [0])
    (plain,) = engines.train("numpy", config.replace(l2=0.0), [0])
    assert plain.curves == {}
    assert penalized.loss_curve[0] == pytest.approx(plain.loss_curve[0], rel=1e-15)
    assert (penalized.curves["penalty"] > 0).all()
    assert penalized.curves["penalty"][-1] < penalized.curves["penalty"][0]  # the weights shrink


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("inf"), "0.1", True, None])
def test_a_bad_coefficient_is_one_line_naming_it(bad):
    for name in regularizers.SETTINGS:
        with pytest.raises(UsageError, match=f"^{name} must be a finite number >= 0"):
            Config(**{name: bad})


def test_coefficients_are_keyed_as_floats_and_left_out_at_zero():
    assert Config(l1=0).key() == Config().key() == Config(l2=0.0).key()
    assert Config(l2=1).key() == Config(l2=1.0).key() != Config().key()
    assert Config(l1=1e-3).as_dict()["l1"] == 1e-3
    assert "l2" not in Config(l1=1e-3).as_dict()
    assert Config(l1=0.0, l2=0.0).penalty is None
    assert Config(l2=2).penalty == Penalty(0.0, 2.0)
