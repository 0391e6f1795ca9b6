"""The MLP's parameters and activations, shared by every engine.

Parameters are a flat list [W1, b1, W2, b2, ...]; W_l has shape
(R, fan_in, fan_out) and b_l shape (R, fan_out), the leading axis running
over independent runs. The output layer is one sigmoid unit for two classes,
or k units under a softmax for k >= 3 classes; which one follows from the
logits' last axis (1 or k), so no flag can disagree with the weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from mlpbench.data.streams import INIT_STREAM, rng_for

Params = list[np.ndarray]
OUTPUT_KINDS = ("binary", "softmax")  # one sigmoid unit; k units under a softmax


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


def output_kind(outputs: int) -> str:
    """binary for one output unit, softmax for more."""
    return "binary" if outputs == 1 else "softmax"


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


def forward(params: Params, x: np.ndarray, activation: str) -> tuple[list, list, np.ndarray]:
    """Pre-activations and activations of each hidden layer, and the output logits (R, B, k)."""
    act = ACTIVATIONS[activation].value
    a, pres, acts = x, [], [x]
    n_layers = len(params) // 2
    for layer in range(n_layers - 1):
        z = a @ params[2 * layer] + params[2 * layer + 1][:, None, :]
        a = act(z)
        pres.append(z)
        acts.append(a)
    logit = a @ params[-2] + params[-1][:, None, :]
    return pres, acts, logit


def logits(params: Params, x: np.ndarray, activation: str) -> np.ndarray:
    """Output logits only, for prediction and plots."""
    return forward(params, x, activation)[2]


def glorot_params(sizes: Sequence[int], seed: int) -> Params:
    """Keras Dense initialisation for one run: Glorot-uniform weights, zero biases.

    W_l ~ U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)), drawn layer by
    layer from the run's init stream, so it depends on the seed and the layer
    sizes only.
    """
    rng = rng_for(seed, INIT_STREAM)
    params: Params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)))
        params.append(np.zeros(fan_out))
    return params


def init_params(sizes: Sequence[int], seeds: Sequence[int], dtype: str = "float64") -> Params:
    """Initial parameters of R runs stacked on a leading run axis."""
    per_run = [glorot_params(sizes, s) for s in seeds]
    return [np.stack(parts).astype(dtype) for parts in zip(*per_run)]
