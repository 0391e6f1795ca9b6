"""The numba engine's hidden activations and their derivatives, one sample's unit at a time.

Each rule is activations.py's (the reference), as a pair of functions in
RULES: value(z, k, c) and derivative(z, a, k, c), a the value at z. A kernel
variant calls the names `activation` and `derivative`, bound to one pair in
its own namespace (numba_kernels.kernels), so it compiles that pair only (one
function branching on a code for all eleven doubled the seed variant's cold
compile, 6.7 s to 12.4 s). Conventions:
- every constant (leaky_relu's slope, SELU's two, GELU's 1/sqrt(2) and
  1/sqrt(2 pi)) is read from numba_kernels.constants() in the parameters'
  float width;
- e^z, e^z - 1, log(1 + e^-|z|) and tanh come from numba_math (within 1, 1,
  2 and 3 ulp of the C library's or NumPy's: tests/test_numba_math.py), so
  the loops that call them vectorise; erf, sin and cos are the C library's
  (one call a sample, not vectorised);
- at z = 0 each derivative is activations.py's (TensorFlow's).

numba's disk cache does not see edits here from the kernels that inline
these: run `make clean-cache` after one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from numba import njit

from mlpbench.engines.numba_math import exp_neg, expm1_neg, log1p_unit, tanh
from mlpbench.engines.numba_optimizers import HALF, OPTIMIZER_CONSTANTS
from mlpbench.engines.numba_softmax import ONE, ZERO
from mlpbench.nn.activations import SELU_ALPHA, SELU_SCALE, slope

# indices into numba_kernels.constants(), after the optimizer's and the penalty's and dropout's
FIRST = 7 + OPTIMIZER_CONSTANTS
SLOPE, SCALE, SCALE_ALPHA, SQRT_HALF, INV_SQRT_2PI = range(FIRST, FIRST + 5)


def activation_constants(negative_slope: float | None) -> list[float]:
    """The activations' constants at indices SLOPE .. INV_SQRT_2PI."""
    return [slope(negative_slope), SELU_SCALE, SELU_SCALE * SELU_ALPHA, math.sqrt(0.5),
            1 / math.sqrt(2 * math.pi)]  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def sigmoid(z, k, c):
    """Overflow-free, as activations.sigmoid."""
    e = exp_neg(-abs(z), c)
    s = k[ONE] / (k[ONE] + e)
    return s if z >= k[ZERO] else e * s


@njit(cache=True, error_model="numpy", inline="always")
def relu(z, k):
    return z if z > k[ZERO] else k[ZERO]


@njit(cache=True, error_model="numpy", inline="always")
def _below(z, k, c):
    """e^z - 1 for z <= 0, 0 above, as activations._below."""
    return expm1_neg(z if z < k[ZERO] else k[ZERO], c)


def _rule(value: Callable, grad: Callable) -> tuple[Any, Any]:
    inline = njit(cache=True, error_model="numpy", inline="always")
    return inline(value), inline(grad)


def _leaky(z, k, c):
    return z if z > k[ZERO] else k[SLOPE] * z


def _elu(z, k, c):
    return z if z > k[ZERO] else _below(z, k, c)


def _selu(z, k, c):
    return k[SCALE] * z if z > k[ZERO] else k[SCALE_ALPHA] * _below(z, k, c)


def _gelu(z, k, c):
    return k[HALF] * z * math.erfc(-z * k[SQRT_HALF])


def _gelu_grad(z, a, k, c):
    phi = exp_neg(-k[HALF] * z * z, c) * k[INV_SQRT_2PI]
    return k[HALF] * math.erfc(-z * k[SQRT_HALF]) + z * phi


def _silu_grad(z, a, k, c):
    s = sigmoid(z, k, c)
    return s * (k[ONE] + z * (k[ONE] - s))


RULES: dict[str, tuple[Any, Any]] = {
    "sigmoid": _rule(lambda z, k, c: sigmoid(z, k, c), lambda z, a, k, c: a * (k[ONE] - a)),
    "tanh": _rule(lambda z, k, c: tanh(z, c), lambda z, a, k, c: k[ONE] - a * a),
    "relu": _rule(lambda z, k, c: relu(z, k),
                  lambda z, a, k, c: k[ONE] if z > k[ZERO] else k[ZERO]),
    "linear": _rule(lambda z, k, c: z, lambda z, a, k, c: k[ONE]),
    "leaky_relu": _rule(_leaky, lambda z, a, k, c: k[ONE] if z > k[ZERO] else k[SLOPE]),
    "elu": _rule(_elu, lambda z, a, k, c: k[ONE] if z > k[ZERO] else a + k[ONE]),
    "selu": _rule(_selu, lambda z, a, k, c: k[SCALE] if z >= k[ZERO] else a + k[SCALE_ALPHA]),
    "gelu": _rule(_gelu, _gelu_grad),
    "silu": _rule(lambda z, k, c: z * sigmoid(z, k, c), _silu_grad),
    "softplus": _rule(lambda z, k, c: relu(z, k) + log1p_unit(exp_neg(-abs(z), c), c),
                      lambda z, a, k, c: sigmoid(z, k, c)),
    "sin": _rule(lambda z, k, c: math.sin(z), lambda z, a, k, c: math.cos(z)),
}  # fmt: skip
