"""The hidden layers' activations and the output layer's, each with its derivative.

A hidden activation is a named pair (value, grad) in ACTIVATIONS, its grad
given both the pre-activation z and the activation a, so each rule uses
whichever is cheaper. The output layer is one sigmoid unit for two classes,
or a softmax over k units for k >= 3 classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


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


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


class Activation(NamedTuple):
    """A hidden-layer activation and its derivative given (pre-activation z, activation a)."""

    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    description: str


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid, lambda z, a: a * (1 - a), "1 / (1 + e^-z)"),
    "tanh": Activation(np.tanh, lambda z, a: 1 - a * a, "tanh(z)"),
    "relu": Activation(_relu, lambda z, a: (z > 0).astype(z.dtype), "max(z, 0)"),
}
