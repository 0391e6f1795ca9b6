"""Losses on the output unit's logit z, the way Keras computes them.

Both take z and targets y of shape (R, B, 1) and return the per-run mean
over the batch, shape (R,) (Keras' "sum over batch size" reduction), and
the gradient with respect to z, shape (R, B, 1), already divided by B.

Conventions:
- bce: Keras on its TensorFlow backend notices that the output came from a
  sigmoid, keeps the logit, and computes sigmoid_cross_entropy_with_logits:
  max(z, 0) - z*y + log(1 + exp(-|z|)), with no clipping. This is exact for
  any z (a logit of 1e4 gives a loss of 1e4, not log(1e7)). Keras on the JAX
  backend instead clips the probability to [1e-7, 1 - 1e-7], which caps the
  per-sample loss at about 16.1; engines here follow the TensorFlow rule.
- mse: mean((sigmoid(z) - y)^2), no epsilon anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mlpbench.model import sigmoid


class Loss(NamedTuple):
    """A loss as a pair of plain functions of (logit, target)."""

    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check(z: np.ndarray, y: np.ndarray) -> None:
    if z.shape != y.shape:
        raise ValueError(f"logits {z.shape} and targets {y.shape} must have one shape")


def _bce_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check(z, y)
    per_sample = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return per_sample.mean(axis=(1, 2))


def _bce_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check(z, y)
    return (sigmoid(z) - y) / z.shape[1]


def _mse_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check(z, y)
    return ((sigmoid(z) - y) ** 2).mean(axis=(1, 2))


def _mse_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check(z, y)
    p = sigmoid(z)
    return 2.0 * (p - y) * p * (1 - p) / z.shape[1]


LOSSES: dict[str, Loss] = {
    "bce": Loss(_bce_value, _bce_grad),
    "mse": Loss(_mse_value, _mse_grad),
}
