"""How a run's weights and biases start: Keras 3's initializers and scikit-learn's MLP's.

Each initializer draws a layer's weights (fan_in, fan_out) and then, for
scikit-learn's only, its biases (fan_out,) from the run's init stream, layer
by layer in order, so every engine starts from the same numbers; Keras'
start their biases at zero. Keras' are VarianceScaling (keras/src/
initializers/random_initializers.py) with a scale and a fan:
- uniform: U(-limit, limit), limit = sqrt(3 scale / fan);
- normal: a normal of standard deviation sqrt(scale / fan) / 0.8796...,
  truncated at two of its standard deviations (values beyond are drawn
  again, as TensorFlow's truncated_normal does), the divisor making the
  truncated distribution's deviation sqrt(scale / fan);
with fan the mean of fan_in and fan_out (glorot, scale 1) or fan_in (he,
scale 2; lecun, scale 1). scikit-learn's (`_init_coef`) draws weights and
then biases from U(-b, b), b = sqrt(6 / (fan_in + fan_out)), or
sqrt(2 / (fan_in + fan_out)) when the hidden activation is the logistic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

TRUNCATED_STD = 0.87962566103423978  # the deviation of a standard normal truncated at +-2
Layer = tuple[np.ndarray, np.ndarray]


def truncated_normal(rng: np.random.Generator, std: float, shape: tuple[int, ...]) -> np.ndarray:
    """Normal(0, std) draws, each beyond two deviations drawn again until none is."""
    x = rng.standard_normal(shape)
    outside = np.abs(x) > 2
    while outside.any():
        x[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(x) > 2
    return std * x


def _variance_scaling(scale: float, fan: str, distribution: str) -> Callable[..., Layer]:
    def draw(rng: np.random.Generator, fan_in: int, fan_out: int, activation: str) -> Layer:
        n = (fan_in + fan_out) / 2 if fan == "avg" else fan_in
        if distribution == "uniform":
            limit = math.sqrt(3 * scale / n)
            weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        else:
            weights = truncated_normal(rng, math.sqrt(scale / n) / TRUNCATED_STD,
                                       (fan_in, fan_out))  # fmt: skip
        return weights, np.zeros(fan_out)

    return draw


def _sklearn(rng: np.random.Generator, fan_in: int, fan_out: int, activation: str) -> Layer:
    factor = 2.0 if activation == "sigmoid" else 6.0  # scikit-learn's logistic is our sigmoid
    bound = np.sqrt(factor / (fan_in + fan_out))
    weights = rng.uniform(-bound, bound, size=(fan_in, fan_out))
    return weights, rng.uniform(-bound, bound, size=fan_out)


class Initializer(NamedTuple):
    """A layer's starting (weights, biases) from (rng, fan_in, fan_out, hidden activation)."""

    draw: Callable[[np.random.Generator, int, int, str], Layer]
    description: str


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": Initializer(_variance_scaling(1.0, "avg", "uniform"),
                                  "U(+-sqrt(6 / (fan_in + fan_out))), zero biases (Keras Dense)"),
    "glorot_normal": Initializer(_variance_scaling(1.0, "avg", "normal"),
                                 "truncated normal, std sqrt(2 / (fan_in + fan_out))"),
    "he_uniform": Initializer(_variance_scaling(2.0, "in", "uniform"),
                              "U(+-sqrt(6 / fan_in)), zero biases"),
    "he_normal": Initializer(_variance_scaling(2.0, "in", "normal"),
                             "truncated normal, std sqrt(2 / fan_in)"),
    "lecun_uniform": Initializer(_variance_scaling(1.0, "in", "uniform"),
                                 "U(+-sqrt(3 / fan_in)), zero biases"),
    "lecun_normal": Initializer(_variance_scaling(1.0, "in", "normal"),
                                "truncated normal, std sqrt(1 / fan_in)"),
    "sklearn": Initializer(_sklearn, "weights and biases U(+-sqrt(6 / (fan_in + fan_out))), 2 "
                           "for 6 under sigmoid (MLPClassifier's)"),
}  # fmt: skip
