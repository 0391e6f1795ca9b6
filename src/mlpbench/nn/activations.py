"""The hidden layers' activations and the output layer's, each with its derivative.

A hidden activation is a named pair (value, grad) in ACTIVATIONS, as Keras 3
computes it (keras/src/activations): its grad given the pre-activation z and
the activation a, so each rule uses whichever is cheaper, and the slope of
leaky_relu (the only one with a setting, NEGATIVE_SLOPE by default; hidden()
binds it). At z = 0 each derivative is TensorFlow's: relu's 0, leaky_relu's
the slope, selu's its scale. The output layer is
one sigmoid unit for two classes, or a softmax over k units for k >= 3
classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import erfc

NEGATIVE_SLOPE = 0.2  # leaky_relu's, keras.activations.leaky_relu's default
# SELU's constants (Klambauer et al. 2017), to the digits TensorFlow and JAX use
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic: 1/(1+e^-|z|) for z >= 0, e^-|z|/(1+e^-|z|) below."""
    e = np.exp(-np.abs(z))
    s = 1.0 / (1.0 + e)
    return np.where(z >= 0, s, e * s)


def softmax(z: np.ndarray) -> np.ndarray:
    """Over the last axis, shifted by its maximum so no exponent overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def probabilities(z: np.ndarray) -> np.ndarray:
    """The output layer's activation: sigmoid of one logit, softmax of k."""
    return sigmoid(z) if z.shape[-1] == 1 else softmax(z)


def _cast(value: float, like: np.ndarray) -> np.ndarray:
    """A constant in z's float width, so float32 runs stay float32."""
    return np.asarray(value, dtype=like.dtype)


def _below(z: np.ndarray) -> np.ndarray:
    """e^z - 1 where z <= 0, and 0 elsewhere (no overflow from the positive side)."""
    return np.expm1(np.minimum(z, 0))


def _elu(z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(z > 0, z, _below(z))


def _selu(z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(z > 0, _cast(SELU_SCALE, z) * z, _cast(SELU_SCALE * SELU_ALPHA, z) * _below(z))


def _gelu(z: np.ndarray, slope: float) -> np.ndarray:
    """Exact: z Phi(z) = z (1 + erf(z / sqrt 2)) / 2 (Keras' gelu with approximate=False)."""
    return _cast(0.5, z) * z * erfc(-z * _cast(math.sqrt(0.5), z))


def _gelu_grad(z: np.ndarray, a: np.ndarray, slope: float) -> np.ndarray:
    """Phi(z) + z phi(z)."""
    phi = np.exp(-_cast(0.5, z) * z * z) * _cast(1 / math.sqrt(2 * math.pi), z)
    return _cast(0.5, z) * erfc(-z * _cast(math.sqrt(0.5), z)) + z * phi


def _silu_grad(z: np.ndarray, a: np.ndarray, slope: float) -> np.ndarray:
    s = sigmoid(z)
    return s * (1 + z * (1 - s))


def _softplus(z: np.ndarray, slope: float) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact at both ends."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


class Activation(NamedTuple):
    """A hidden-layer activation and its derivative given (pre-activation z, activation a);
    both take leaky_relu's slope, which the others ignore."""

    value: Callable[[np.ndarray, float], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray, float], np.ndarray]
    description: str


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(lambda z, s: sigmoid(z), lambda z, a, s: a * (1 - a),
                          "1 / (1 + e^-z)"),
    "tanh": Activation(lambda z, s: np.tanh(z), lambda z, a, s: 1 - a * a, "tanh(z)"),
    "relu": Activation(lambda z, s: np.maximum(z, 0), lambda z, a, s: (z > 0).astype(z.dtype),
                       "max(z, 0)"),
    "linear": Activation(lambda z, s: z, lambda z, a, s: np.ones_like(z),
                         "z (scikit-learn's identity)"),
    "leaky_relu": Activation(lambda z, s: np.where(z > 0, z, _cast(s, z) * z),
                             lambda z, a, s: np.where(z > 0, 1, _cast(s, z)).astype(z.dtype),
                             "z for z > 0, negative_slope * z below"),
    "elu": Activation(_elu, lambda z, a, s: np.where(z > 0, 1, a + 1).astype(z.dtype),
                      "z for z > 0, e^z - 1 below"),
    "selu": Activation(_selu, lambda z, a, s: np.where(z >= 0, _cast(SELU_SCALE, z),
                                                       a + _cast(SELU_SCALE * SELU_ALPHA, z)),
                       "scale * elu with alpha: 1.0507 z for z > 0, 1.7581 (e^z - 1) below"),
    "gelu": Activation(_gelu, _gelu_grad, "z Phi(z), Phi the normal CDF (exact, with erf)"),
    "silu": Activation(lambda z, s: z * sigmoid(z), _silu_grad,
                       "z / (1 + e^-z) (swish)"),
    "softplus": Activation(_softplus, lambda z, a, s: sigmoid(z), "log(1 + e^z)"),
    "sin": Activation(lambda z, s: np.sin(z), lambda z, a, s: np.cos(z), "sin(z)"),
}  # fmt: skip


class Hidden(NamedTuple):
    """A hidden activation with its setting bound: what the NumPy forward and backward call."""

    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


def slope(negative_slope: float | None) -> float:
    """leaky_relu's slope as trained: NEGATIVE_SLOPE when not given."""
    return NEGATIVE_SLOPE if negative_slope is None else float(negative_slope)


def hidden(name: str, negative_slope: float | None = None) -> Hidden:
    """The named activation with leaky_relu's slope bound."""
    rule, s = ACTIVATIONS[name], slope(negative_slope)
    return Hidden(lambda z: rule.value(z, s), lambda z, a: rule.grad(z, a, s))
