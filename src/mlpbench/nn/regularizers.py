"""Weight penalties, as a Keras kernel regularizer (keras.regularizers.L1L2) adds them.

Every layer's kernel W (the weights, not the biases: Keras' kernel_regularizer
on each Dense layer, TensorFlow Playground's regularization) adds

    l1 * sum |W| + l2 * sum W^2

to each batch's mean loss, computed before the batch's update, so W's
gradient gains l1 * sign(W) + 2 * l2 * W (sign(0) = 0, TensorFlow's derivative
of |w| at 0). Training reports the data loss and the penalty apart, each the
sample-weighted mean over an epoch's batches (Keras' History shows their sum).

scikit-learn's MLP `alpha` adds alpha / (2 n) * sum W^2 to a batch of n samples,
so alpha is l2 = alpha / (2 * batch_size) here wherever every batch is full
(scikit-learn weighs a short last batch's penalty more; here every batch's is
the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from mlpbench.nn.model import Params

SETTINGS = ("l1", "l2")  # the config's fields, in Penalty's order


class Penalty(NamedTuple):
    """The coefficients of a weight penalty; None stands for no penalty wherever one is asked."""

    l1: float
    l2: float


def of(l1: float, l2: float) -> Penalty | None:
    """The penalty these coefficients make, or None when both are 0."""
    return Penalty(float(l1), float(l2)) if l1 or l2 else None


def kernels(params: Params) -> Params:
    """The weight matrices of [W1, b1, W2, b2, ...], which the penalty reads."""
    return params[0::2]


def value(params: Params, penalty: Penalty, xp: Any = np, run_axis: bool = True) -> Any:
    """The penalty, layer by layer summed: per run (R,) of parameters with a leading run
    axis, or one run's scalar (run_axis False: engines that map over runs, JAX)."""
    total = 0.0
    for w in kernels(params):
        axis = tuple(range(1, len(w.shape))) if run_axis else None
        total = total + _one(w, penalty, xp, axis)
    return total


def _one(w: Any, penalty: Penalty, xp: Any, axis: Any) -> Any:
    term = 0.0
    if penalty.l1:
        term = term + xp.asarray(penalty.l1, w.dtype) * xp.sum(xp.abs(w), axis=axis)
    if penalty.l2:
        term = term + xp.asarray(penalty.l2, w.dtype) * xp.sum(w * w, axis=axis)
    return term


def gradient(params: Params, grads: Params, penalty: Penalty) -> Params:
    """grads with each kernel's penalty gradient l1 * sign(W) + 2 * l2 * W added."""
    out = list(grads)
    for i in range(0, len(params), 2):
        w = params[i]
        extra = np.zeros_like(w)
        if penalty.l1:
            extra = extra + np.asarray(penalty.l1, w.dtype) * np.sign(w)
        if penalty.l2:
            extra = extra + np.asarray(2 * penalty.l2, w.dtype) * w
        out[i] = grads[i] + extra
    return out
