"""The numba engine's softmax outputs: CCE and MSE on k >= 3 output units.

Conventions (losses.py is the reference): the softmax is e^(z - max z) / sum,
its exponentials from numba_math's exp (the argument is never positive);
CCE is max z + log(sum) - sum(y z), the log from the C library; softmax MSE's
gradient goes through the softmax's Jacobian as p (g - sum(p g)), g = dL/dp.
Sums run over the classes in order, so results do not depend on the CPU.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlpbench.engines.numba_math import exp_neg

# indices into numba_kernels.constants(): 0, 1 and 2 in the parameters' float width
ZERO, ONE, TWO = range(3)
CCE = 2  # numba_kernels' loss code for cce on a softmax (3: mse on a softmax)


@njit(cache=True, error_model="numpy")
def softmax_rows(zs, acts, ds, targets, values, o0, ko, nb, loss, k, c):
    """Softmax CCE (loss 2) or MSE (3) of the batch's samples, whose logits are in rows
    o0..o0+ko-1 of zs: each sample's loss in values[0], dL/dz / nb in ds; the
    probabilities land in acts' output rows, values[1:4] hold per-sample scratch."""
    nbf, kf = k[ONE] * nb, k[ONE] * ko
    for b in range(nb):
        values[1, b] = zs[o0, b]
    for j in range(1, ko):
        for b in range(nb):
            v = zs[o0 + j, b]
            values[1, b] = v if v > values[1, b] else values[1, b]  # the max, vectorised
    for b in range(nb):
        values[2, b] = k[ZERO]
    for j in range(ko):
        for b in range(nb):
            e = exp_neg(zs[o0 + j, b] - values[1, b], c)
            acts[o0 + j, b] = e
            values[2, b] += e
    for j in range(ko):
        for b in range(nb):
            acts[o0 + j, b] = acts[o0 + j, b] / values[2, b]
    if loss == CCE:
        for b in range(nb):
            values[0, b] = np.log(values[2, b]) + values[1, b]
        for j in range(ko):
            for b in range(nb):
                values[0, b] -= targets[j, b] * zs[o0 + j, b]
                ds[o0 + j, b] = (acts[o0 + j, b] - targets[j, b]) / nbf
        return
    for b in range(nb):
        values[0, b], values[3, b] = k[ZERO], k[ZERO]
    for j in range(ko):
        for b in range(nb):
            d = acts[o0 + j, b] - targets[j, b]
            values[0, b] += d * d
            g = k[TWO] * d / kf
            ds[o0 + j, b] = g
            values[3, b] += acts[o0 + j, b] * g
    for b in range(nb):
        values[0, b] = values[0, b] / kf
    for j in range(ko):
        for b in range(nb):
            ds[o0 + j, b] = acts[o0 + j, b] * (ds[o0 + j, b] - values[3, b]) / nbf


@njit(cache=True, error_model="numpy")
def softmax_sample(z, a, d, targets, b, o0, ko, nb, loss, k, c):
    """softmax_rows for one sample, whose logits are z[o0:o0+ko]; returns its loss."""
    nbf, kf = k[ONE] * nb, k[ONE] * ko
    top = z[o0]
    for j in range(1, ko):
        top = z[o0 + j] if z[o0 + j] > top else top
    total = k[ZERO]
    for j in range(ko):
        a[o0 + j] = exp_neg(z[o0 + j] - top, c)
        total += a[o0 + j]
    for j in range(ko):
        a[o0 + j] = a[o0 + j] / total
    if loss == CCE:
        value = np.log(total) + top
        for j in range(ko):
            value -= targets[j, b] * z[o0 + j]
            d[o0 + j] = (a[o0 + j] - targets[j, b]) / nbf
        return value
    value, dot = k[ZERO], k[ZERO]
    for j in range(ko):
        diff = a[o0 + j] - targets[j, b]
        value += diff * diff
        d[o0 + j] = k[TWO] * diff / kf
        dot += a[o0 + j] * d[o0 + j]
    for j in range(ko):
        d[o0 + j] = a[o0 + j] * (d[o0 + j] - dot) / nbf
    return value / kf
