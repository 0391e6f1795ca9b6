"""The hidden activations: values worked by hand, each rule and derivative against Keras'
own function and TensorFlow's gradient, numba's against NumPy's to rounding, and the
settings they read (leaky_relu's slope) as the config checks them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlpbench as mb
from mlpbench.config.core import Config
from mlpbench.errors import UsageError
from mlpbench.experiment.study import parse_study
from mlpbench.nn.activations import ACTIVATIONS, NEGATIVE_SLOPE, SELU_ALPHA, SELU_SCALE, hidden

Z = np.array([-30.0, -3.0, -1.0, -0.25, -1e-9, 0.0, 1e-9, 0.25, 1.0, 3.0, 30.0])
# away from 0, where relu and leaky_relu have their kink
SMOOTH = np.concatenate([np.linspace(-6, -0.01, 60), np.linspace(0.01, 6, 60)])
# (name, z, value) worked by hand from each definition
WORKED = [
    ("linear", -1.5, -1.5),
    ("leaky_relu", -1.0, -NEGATIVE_SLOPE),
    ("leaky_relu", 2.0, 2.0),
    ("elu", -1.0, math.exp(-1) - 1),
    ("selu", -1.0, SELU_SCALE * SELU_ALPHA * (math.exp(-1) - 1)),
    ("selu", 1.0, SELU_SCALE),
    ("gelu", 1.0, 0.5 * (1 + math.erf(1 / math.sqrt(2)))),
    ("silu", 2.0, 2 / (1 + math.exp(-2))),
    ("softplus", 0.0, math.log(2)),
    ("softplus", -800.0, 0.0),  # log(1 + e^-800): no overflow, no log(0)
    ("softplus", 800.0, 800.0),
    ("sin", math.pi / 6, 0.5),
]


@pytest.mark.parametrize(("name", "z", "value"), WORKED)
def test_values_worked_by_hand(name, z, value):
    assert hidden(name).value(np.array([z]))[0] == pytest.approx(value, rel=1e-14, abs=1e-300)


def test_derivatives_at_zero_are_tensorflows():
    zero = np.zeros(1)
    assert hidden("relu").grad(zero, zero)[0] == 0.0
    assert hidden("leaky_relu", 0.3).grad(zero, zero)[0] == 0.3
    assert hidden("elu").grad(zero, hidden("elu").value(zero))[0] == 1.0
    assert hidden("selu").grad(zero, zero)[0] == SELU_SCALE  # TensorFlow's: the side above


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_derivative_is_its_values_slope(name):
    act = hidden(name, 0.1)
    h = 1e-6
    numeric = (act.value(SMOOTH + h) - act.value(SMOOTH - h)) / (2 * h)
    np.testing.assert_allclose(act.grad(SMOOTH, act.value(SMOOTH)), numeric, rtol=1e-6,
                               atol=1e-9)  # fmt: skip


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float32_stays_float32(name, dtype):
    z = Z.astype(dtype)
    act = hidden(name)
    a = act.value(z)
    assert a.dtype == z.dtype and act.grad(z, a).dtype == z.dtype


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_rule_is_keras_own_with_tensorflows_gradient(name):
    """Keras' function and TensorFlow's gradient of it, in float64, to rounding: within 1e-15
    of 1, as TensorFlow's elu and selu take e^z - 1 where ours take expm1 (so ours keep the
    digits of tiny z), and the slope one float32 can hold (TensorFlow's leaky_relu holds its
    slope in a float32 attribute, even in float64); gelu within 1e-8, as TensorFlow's
    float64 gelu scales z by 1 / sqrt(2) rounded to float32."""
    tf = pytest.importorskip("tensorflow")
    from mlpbench.engines.keras_engine import ACTIVATIONS as KERAS

    z = tf.constant(Z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        a = KERAS[name](z, 0.125)
    ours, atol = hidden(name, 0.125), 1e-8 if name == "gelu" else 1e-15
    np.testing.assert_allclose(ours.value(Z), a.numpy(), rtol=1e-14, atol=atol)
    np.testing.assert_allclose(ours.grad(Z, ours.value(Z)), tape.gradient(a, z).numpy(),
                               rtol=1e-13, atol=atol)  # fmt: skip


def _numba_map():
    numba = pytest.importorskip("numba")
    from mlpbench.engines.numba_activations import RULES
    from mlpbench.engines.numba_kernels import constants
    from mlpbench.engines.numba_math import math_constants
    from mlpbench.nn.optimizers import DEFAULTS

    @numba.njit
    def apply(value, grad, z, k, c):
        a, d = np.empty_like(z), np.empty_like(z)
        for i in range(z.shape[0]):
            a[i] = value(z[i], k, c)
            d[i] = grad(z[i], a[i], k, c)
        return a, d

    def run(name, z, slope):
        k = constants(str(z.dtype), "sgd", DEFAULTS, None, 0.0, slope)
        return apply(*RULES[name], z, k, math_constants(str(z.dtype)))

    return run


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-15), ("float32", 1e-6)])
def test_numba_rules_are_numpys_to_rounding(name, dtype, rtol):
    """numba's exp, expm1, log1p and tanh are within 3 ulp of the C library's (test_numba_math):
    each activation and derivative must be NumPy's within a few ulp (of 1, near 0: erfc's far
    tail differs between the C library and scipy at 2e-14 of its own size)."""
    run = _numba_map()
    z = np.concatenate([Z, np.random.default_rng(0).normal(0, 3, 2000)]).astype(dtype)
    a, d = run(name, z, 0.1)
    ours = hidden(name, 0.1)
    want = ours.value(z)
    np.testing.assert_allclose(a, want, rtol=4 * rtol, atol=4 * rtol)
    np.testing.assert_allclose(d, ours.grad(z, want), rtol=4 * rtol, atol=4 * rtol)
    assert a.dtype == d.dtype == z.dtype


def test_the_slope_applies_to_leaky_relu_only():
    assert Config(activation="leaky_relu", negative_slope=0.3).hidden_activation.value(
        np.array([-1.0]))[0] == -0.3
    with pytest.raises(UsageError, match="negative_slope applies to activation leaky_relu, "
                                         "not to 'relu'"):  # fmt: skip
        Config(activation="relu", negative_slope=0.3)
    Config(activation="relu", negative_slope=NEGATIVE_SLOPE)  # at its default: no setting
    with pytest.raises(UsageError, match="negative_slope"):
        Config(activation="leaky_relu", negative_slope=-0.1)


def test_the_slope_at_its_default_is_not_given():
    plain = Config(activation="leaky_relu")
    assert Config(activation="leaky_relu", negative_slope=0.2).key() == plain.key()
    assert Config(activation="leaky_relu", negative_slope=0.25).key() != plain.key()
    assert "negative_slope" not in Config().as_dict() and "init" not in Config().as_dict()


def test_a_study_file_sets_the_network_in_its_section():
    text = ("[defaults.network]\nhidden = [8]\nactivation = 'leaky_relu'\nnegative_slope = 0.1\n"
            "init = 'he_normal'\n[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\n"
            "[[tables.columns]]\nlabel = 'b'\nnetwork = { init = 'sklearn' }\n")
    a, b = (c.config for c in parse_study(text, "s.toml").tables[0].columns)
    assert a.section("network") == {"hidden": (8,), "activation": "leaky_relu",
                                    "negative_slope": 0.1, "init": "he_normal"}  # fmt: skip
    assert b.init == "sklearn" and b.negative_slope == 0.1
    with pytest.raises(UsageError, match="unknown init 'xavier'; allowed: glorot_uniform"):
        parse_study(text.replace("'he_normal'", "'xavier'"), "s.toml")


def test_the_initializer_changes_the_start_and_so_the_run():
    keras = mb.train(runs=2, epochs=5, engine="numpy", hidden=(6,))
    sklearn = mb.train(runs=2, epochs=5, engine="numpy", hidden=(6,), init="sklearn")
    again = mb.train(runs=2, epochs=5, engine="numpy", hidden=(6,), init="sklearn")
    curves = [np.array([r.loss_curve for r in x.runs]) for x in (keras, sklearn, again)]
    assert not np.allclose(curves[0], curves[1]) and np.array_equal(curves[1], curves[2])
