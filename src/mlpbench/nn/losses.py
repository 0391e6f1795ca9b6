"""Losses on the output logits z, the way Keras computes them.

Each takes z and targets y of shape (R, B, k) and returns the per-run mean
over the batch, shape (R,) (Keras' "sum over batch size" reduction), and
the gradient with respect to z, shape (R, B, k), already divided by B. The
output is one sigmoid unit (k = 1, y in {0, 1}) or a softmax over k >= 3
units (y one-hot); model.probabilities tells them apart by k.

Conventions:
- bce (k = 1): Keras on its TensorFlow backend notices that the output came
  from a sigmoid, keeps the logit, and computes
  sigmoid_cross_entropy_with_logits: max(z, 0) - z*y + log(1 + exp(-|z|)),
  with no clipping. This is exact for any z (a logit of 1e4 gives a loss of
  1e4, not log(1e7)). Keras on the JAX backend instead clips the probability
  to [1e-7, 1 - 1e-7], which caps the per-sample loss at about 16.1; engines
  here follow the TensorFlow rule.
- cce (k >= 3): categorical cross-entropy from the logits, as Keras computes
  it from a softmax's logits (softmax_cross_entropy_with_logits):
  logsumexp(z) - sum(y * z), with logsumexp shifted by max(z); unclipped.
- mse: mean over the k outputs of (p - y)^2, p the sigmoid or the softmax of
  z (Keras' mean_squared_error on the output layer); no epsilon anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mlpbench.nn.activations import probabilities, sigmoid, softmax


class Loss(NamedTuple):
    """A loss as a pair of plain functions of (logits, targets), and the outputs it takes."""

    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    outputs: str  # "binary", "softmax" or "any"


def _check(z: np.ndarray, y: np.ndarray) -> None:
    if z.shape != y.shape:
        raise ValueError(f"logits {z.shape} and targets {y.shape} must have one shape")


def _one_unit(z: np.ndarray, y: np.ndarray) -> None:
    _check(z, y)
    if z.shape[-1] != 1:
        raise ValueError(f"bce takes one sigmoid output unit, got logits {z.shape}")


def _bce_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _one_unit(z, y)
    per_sample = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return per_sample.mean(axis=(1, 2))


def _bce_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _one_unit(z, y)
    return (sigmoid(z) - y) / z.shape[1]


def _softmax_units(z: np.ndarray, y: np.ndarray) -> None:
    _check(z, y)
    if z.shape[-1] < 2:
        raise ValueError(f"cce takes a softmax over several output units, got logits {z.shape}")


def _cce_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _softmax_units(z, y)
    top = z.max(axis=-1, keepdims=True)
    logsumexp = np.log(np.exp(z - top).sum(axis=-1)) + top[..., 0]
    return (logsumexp - (y * z).sum(axis=-1)).mean(axis=1)


def _cce_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _softmax_units(z, y)
    return (softmax(z) - y) / z.shape[1]


def _mse_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check(z, y)
    return ((probabilities(z) - y) ** 2).mean(axis=(1, 2))


def _mse_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Through the sigmoid, p(1 - p) g; through the softmax, its Jacobian
    dp_j/dz_i = p_j (delta_ij - p_i) applied to g = dL/dp, that is p (g - sum(p g))."""
    _check(z, y)
    batch, k = z.shape[1], z.shape[-1]
    p = probabilities(z)
    g = 2.0 * (p - y) / k
    if k == 1:
        return g * p * (1 - p) / batch
    return p * (g - (p * g).sum(axis=-1, keepdims=True)) / batch


LOSSES: dict[str, Loss] = {
    "bce": Loss(_bce_value, _bce_grad, "binary"),
    "cce": Loss(_cce_value, _cce_grad, "softmax"),
    "mse": Loss(_mse_value, _mse_grad, "any"),
}
