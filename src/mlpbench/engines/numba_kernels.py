"""The numba engine's compiled kernels: one training loop, compiled per variant.

A variant is a hidden activation, an output kind (one sigmoid unit, loss
codes 0-1, or a softmax over k units, 2-3) and whether a weight penalty is
trained (REGULARIZED: only a variant with one compiles _penalize). kernels() compiles a variant's
own copies of the functions in SPECIALISED, which call the variant's own
activation and derivative (numba_activations.RULES) and read SOFTMAX as a
constant; numba drops the branches it rules out, so a study compiles only the
code it runs (cold, the seed study's one variant compiles in 6.5 s;
one kernel with runtime codes for every variant took 9.7 s). Loss,
optimizer, batch size, epochs, a per-run learning rate and a schedule's
factor per update stay runtime arguments (a rate lr * factor, one product per
update, in the parameters' float width). The kernels release the GIL, and
numba_engine.py spreads runs over the cores by giving each thread a slice of
the run axis (numba's prange did the same, but compiling took 8.8 s instead
of 5.3 s). Parameters are
flattened per run as [W1 (row-major, in x out), b1, W2, b2, ...].

A batch is computed one of two ways, with the same arithmetic per sample:
- by rows (batches of ROWS_FROM samples or more): activations are stored unit
  by unit (rows) over the batch's samples (columns), so every loop runs over
  contiguous samples, from 0, without calls or branches, and compiles to SIMD
  instructions (LLVM vectorises only loops whose indices it can see are not
  negative; a loop from an offset stays scalar); a layer's products are
  numba_math.weighted_rows, which keeps a unit's row of logits in vector
  registers while its inputs are added;
- sample by sample (smaller batches): a short scalar loop per sample, which
  below ROWS_FROM is faster than setting up vector loops.

Numerical conventions (numpy_engine.py is the reference):
- float64 by default, float32 on request; every constant is passed in an
  array of the parameters' dtype, so float32 runs stay float32;
- the sigmoid's e^-|z|, BCE's log(1 + e^-|z|) and tanh come from numba_math:
  exp within 1 ulp, log1p within 2 ulp of NumPy's, tanh within 3 ulp of the C
  library's (NumPy's own exp is within 1 ulp too); nothing else is
  approximated;
- softmax outputs (CCE, and MSE through the softmax's Jacobian) are in
  numba_softmax.py, with their conventions;
- a batch gradient is summed in sample order when sample by sample, and in
  LANES interleaved partial sums when by rows (numba_math.lane_dot), where
  NumPy's matmul uses its own order: float64 results agree with the NumPy
  engine's to rounding (about 1e-13 relative after a few epochs);
- IEEE arithmetic, no fastmath flags: the only fused multiply-adds are the
  explicit ones inside numba_math, and the order of every sum is fixed in
  the code, so a trajectory is the same on every x86-64 machine.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from mlpbench.engines.numba_activations import FIRST, RULES, activation_constants, relu, sigmoid
from mlpbench.engines.numba_math import LANES, exp_neg, lane_dot, log1p_unit, weighted_rows
from mlpbench.engines.numba_optimizers import (
    M2_START,
    OPTIMIZER_CONSTANTS,
    optimizer_constants,
    step_function,
)
from mlpbench.engines.numba_softmax import CCE, ONE, TWO, ZERO, softmax_rows, softmax_sample
from mlpbench.nn import dropout
from mlpbench.nn.optimizers import Settings
from mlpbench.nn.regularizers import Penalty

LOSS_CODES = {"bce": 0, "mse": 1, "cce": CCE}  # bce and mse on a sigmoid unit, cce on k
SOFTMAX_MSE = 3  # mse on a softmax output
ROWS_FROM = 8  # batches this large or larger are computed by rows (measured crossover)
# what a variant is compiled for: each of kernels()' copies sees its own values
activation, derivative = RULES["sigmoid"]
SOFTMAX = False
REGULARIZED = False  # a weight penalty: its code is compiled only into variants that use it
ADAPTIVE = False  # the plateau schedule: likewise
STOPPING = 0  # early stopping: 0 none, 1 on the training loss, 2 on a hold-out's
DROPOUT = False  # dropout's masks, likewise
_step = step_function(False)
# indices into constants() after the optimizer's: the penalty's l1, l2 and 2 * l2
# and dropout's scale of a kept unit, 1 / (1 - rate)
L1, L2, TWO_L2, KEPT = range(3 + OPTIMIZER_CONSTANTS, 7 + OPTIMIZER_CONSTANTS)
GAMMA, MIX1, MIX2 = dropout.GAMMA, dropout.MIX1, dropout.MIX2
S30, S27, S31, S11 = dropout.S30, dropout.S27, dropout.S31, dropout.S11


def constants(dtype: str, optimizer: str, settings: Settings, penalty: Penalty | None,
              rate: float = 0.0, negative_slope: float | None = None) -> np.ndarray:  # fmt: skip
    """Scalars the kernels need, already in the parameters' float width: 0, 1, 2, the
    optimizer's, the penalty's, dropout's and the activations' (numba_activations)."""
    l1, l2 = penalty or (0.0, 0.0)
    values = [0.0, 1.0, 2.0, *optimizer_constants(optimizer, settings), l1, l2, 2 * l2,
              1.0 / (1.0 - rate)]  # fmt: skip
    assert len(values) == FIRST
    return np.array(values + activation_constants(negative_slope), dtype=dtype)


@njit(cache=True, error_model="numpy", inline="always")
def _mix(x):
    """nn/dropout.py's splitmix on one uint64."""
    x = x + GAMMA
    x = (x ^ (x >> S30)) * MIX1
    x = (x ^ (x >> S27)) * MIX2
    return x ^ (x >> S31)


@njit(cache=True, error_model="numpy")
def _fill_drop(drop, key, step, nb, first, hidden, rate, k):
    """Each hidden unit's dropout factor for the batch's nb samples at update step, as
    nn/dropout.masks computes it: drop[first + j, b] is 0 or k[KEPT]."""
    for b in range(nb):
        for j in range(hidden):
            h = _mix(key ^ _mix(np.uint64(step) ^ _mix(np.uint64(b) ^ _mix(np.uint64(j)))))
            u = np.float64(h >> S11) * 2.0**-53
            drop[first + j, b] = k[KEPT] if u >= rate else k[ZERO]


@njit(cache=True, error_model="numpy", inline="always")
def _bce(z, y, nbf, k, c):
    """A sample's BCE from its logit z, and the derivative by z divided by nbf."""
    e = exp_neg(-abs(z), c)  # shared by the sigmoid and the log term
    s = k[ONE] / (k[ONE] + e)
    p = s if z >= k[ZERO] else e * s
    # relu, not max(): max stops the loop vectorising
    return relu(z, k) - z * y + log1p_unit(e, c), (p - y) / nbf


@njit(cache=True, error_model="numpy", inline="always")
def _mse(z, y, nbf, k, c):
    """A sample's squared error of sigmoid(z), and the derivative by z divided by nbf."""
    p = sigmoid(z, k, c)
    d = p - y
    return d * d, k[TWO] * d * p * (k[ONE] - p) / nbf


@njit(cache=True, error_model="numpy", inline="always")
def _penalize(theta, grad, woff, boff, k):
    """Add each weight's penalty gradient l1 sign(w) + 2 l2 w to grad (biases have none), and
    return the penalty, layer by layer l1 sum |w| + l2 sum w^2, as regularizers.py."""
    total = k[ZERO]
    for layer in range(woff.shape[0]):
        absolute, square = k[ZERO], k[ZERO]
        for p in range(woff[layer], boff[layer]):
            w = theta[p]
            sign = k[ONE] if w > k[ZERO] else (-k[ONE] if w < k[ZERO] else k[ZERO])
            absolute += abs(w)
            square += w * w
            grad[p] = grad[p] + (k[L1] * sign + k[TWO_L2] * w)
        total = total + (k[L1] * absolute + k[L2] * square)
    return total


def loss_code(loss: str, outputs: int) -> int:
    """The kernels' code for a loss on this many output units."""
    return SOFTMAX_MSE if loss == "mse" and outputs > 1 else LOSS_CODES[loss]


@njit(cache=True, error_model="numpy", inline="always")
def _dot(p, i, q, j, nb, k):
    """sum(p[i, :nb] * q[j, :nb]): lane_dot's interleaved sums, then the rest in order."""
    full = nb - nb % LANES
    total = lane_dot(p, i, q, j, full) if full else k[ZERO]
    for b in range(full, nb):
        total += p[i, b] * q[j, b]
    return total


def _forward_rows(theta, nb, sizes, woff, boff, uoff, zs, acts, drop, k, c):
    """Layer by layer over the batch's nb samples, whose inputs are in acts[:d, :nb].

    Each logit is sum_i a_i * w_ij (i in order, numba_math.weighted_rows),
    then + bias, as the NumPy engine computes it; the output logits land in
    zs[-1, :nb]. The variant's activation has no branch on its kind, so
    the loop vectorises.
    """
    n_layers = sizes.shape[0] - 1
    for layer in range(n_layers):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        for j in range(fan_out):
            u = uoff[layer + 1] + j
            weighted_rows(acts, uoff[layer], theta, woff[layer] + j, fan_out, fan_in, zs, u, nb)
            bias = theta[boff[layer] + j]
            for b in range(nb):
                zs[u, b] = zs[u, b] + bias
            if layer == n_layers - 1:
                continue
            for b in range(nb):
                acts[u, b] = activation(zs[u, b], k, c)
            if DROPOUT:  # the hidden unit times its factor (drop holds 1s where none applies)
                for b in range(nb):
                    acts[u, b] = acts[u, b] * drop[u, b]


def _backward_rows(theta, grad, nb, sizes, woff, boff, uoff, zs, acts, ds, ones, drop, k, c):
    """Set grad to the batch's gradient, given each sample's dL/dz of the output in ds[-1, :nb]."""
    n_layers = sizes.shape[0] - 1
    for layer in range(n_layers - 1, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        for i in range(fan_in):
            v = uoff[layer] + i
            for j in range(fan_out):
                u = uoff[layer + 1] + j
                grad[woff[layer] + i * fan_out + j] = _dot(acts, v, ds, u, nb, k)
        # a loop of its own: inside the weights' loop, the bias sums made the whole
        # loop 6x slower on digits' 64-32-10 network (the assembly does not say why)
        for j in range(fan_out):
            grad[boff[layer] + j] = _dot(ds, uoff[layer + 1] + j, ones, 0, nb, k)
        if layer == 0:
            continue
        for i in range(fan_in):
            v = uoff[layer] + i
            weighted_rows(ds, uoff[layer + 1], theta, woff[layer] + i * fan_out, 1, fan_out, ds,
                          v, nb)  # fmt: skip
            if DROPOUT:  # the derivative at the unit's own activation, then its factor
                for b in range(nb):
                    a = activation(zs[v, b], k, c)
                    ds[v, b] = ds[v, b] * derivative(zs[v, b], a, k, c) * drop[v, b]
            else:
                for b in range(nb):
                    ds[v, b] = ds[v, b] * derivative(zs[v, b], acts[v, b], k, c)


def _batch_by_rows(theta, grad, nb, net, zs, acts, ds, targets, values, ones, k, c):
    """Set grad to the gradient of the batch in acts[:d, :nb]; return the summed loss.

    net = (sizes, woff, boff, uoff, loss code, dropout factors).
    """
    sizes, woff, boff, uoff, loss, drop = net
    nbf, out = k[ONE] * nb, zs.shape[0] - 1
    _forward_rows(theta, nb, sizes, woff, boff, uoff, zs, acts, drop, k, c)
    if SOFTMAX:
        softmax_rows(zs, acts, ds, targets, values, uoff[-1], sizes[-1], nb, loss, k, c)
    elif loss == 0:
        for b in range(nb):
            values[0, b], ds[out, b] = _bce(zs[out, b], targets[0, b], nbf, k, c)
    else:
        for b in range(nb):
            values[0, b], ds[out, b] = _mse(zs[out, b], targets[0, b], nbf, k, c)
    _backward_rows(theta, grad, nb, sizes, woff, boff, uoff, zs, acts, ds, ones, drop, k, c)
    return _dot(values, 0, ones, 0, nb, k)


def _batch_by_samples(theta, grad, nb, net, acts, targets, z, a, d, k, c):
    """As _batch_by_rows, one sample after another; z, a, d hold the sample's units."""
    sizes, woff, boff, uoff, loss, drop = net
    grad[:] = k[ZERO]
    nbf, n_layers, out = k[ONE] * nb, sizes.shape[0] - 1, z.shape[0] - 1
    total = k[ZERO]
    for b in range(nb):
        for j in range(sizes[0]):
            a[j] = acts[j, b]
        for layer in range(n_layers):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            for j in range(fan_out):
                u, s = uoff[layer + 1] + j, k[ZERO]
                for i in range(fan_in):
                    s += a[uoff[layer] + i] * theta[woff[layer] + i * fan_out + j]
                z[u] = s + theta[boff[layer] + j]
                a[u] = activation(z[u], k, c)
                if DROPOUT:  # an output unit's factor is 1
                    a[u] = a[u] * drop[u, b]
        if SOFTMAX:
            value = softmax_sample(z, a, d, targets, b, uoff[-1], sizes[-1], nb, loss, k, c)
        elif loss == 0:
            value, d[out] = _bce(z[out], targets[0, b], nbf, k, c)
        else:
            value, d[out] = _mse(z[out], targets[0, b], nbf, k, c)
        total += value
        for layer in range(n_layers - 1, -1, -1):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            for j in range(fan_out):
                u = uoff[layer + 1] + j
                grad[boff[layer] + j] += d[u]
                for i in range(fan_in):
                    grad[woff[layer] + i * fan_out + j] += a[uoff[layer] + i] * d[u]
            if layer == 0:
                continue
            for i in range(fan_in):
                v, s = uoff[layer] + i, k[ZERO]
                for j in range(fan_out):
                    s += d[uoff[layer + 1] + j] * theta[woff[layer] + i * fan_out + j]
                if DROPOUT:
                    raw = activation(z[v], k, c)
                    d[v] = s * derivative(z[v], raw, k, c) * drop[v, b]
                else:
                    d[v] = s * derivative(z[v], a[v], k, c)
    return total


@njit(cache=True, error_model="numpy", inline="always")
def _plateau_end(monitored, rate_r, best, wait, rest, plateau):
    """One epoch's end of ReduceLROnPlateau for one run, as schedules.plateau_update."""
    if rest > 0:
        rest -= 1
        wait = 0
    if monitored < best - plateau[2]:
        return rate_r, monitored, 0, rest
    if rest == 0:
        wait += 1
        if wait >= plateau[1] and rate_r > plateau[5]:
            return max(rate_r * plateau[0], plateau[4]), best, 0, int(plateau[3])
    return rate_r, best, wait, rest


def train_kernel(x, y, orders, theta, lr, curve, penalties, held_x, held_y, trained, validation,
                 keys, epochs, shuffled, sizes, woff, boff, uoff, loss, opt, batch, table,
                 factors, scheduled, plateau, stop, dropping, k, c):  # fmt: skip
    """Train runs r = 0..R-1 in turn; theta (R, P) is updated in place, curve (R, E) (the data
    loss) and, in a REGULARIZED variant, penalties (R, E) filled.

    The arguments up to curve have a leading run axis: callers give each
    thread a slice of it (the kernel releases the GIL). table is
    numba_optimizers.step_table's (one row will do for optimizers without);
    scheduled, update s (from 0) has rate lr[r] * factors[s], else lr[r]. In an
    ADAPTIVE variant the run's rate starts at lr[r] and each epoch's end applies
    schedules.plateau_update to it, plateau holding (factor, patience, min_delta,
    cooldown, min_lr, min_lr in float32 as Keras compares it). A STOPPING
    variant applies stopping.stop_update at each epoch's end (stop holding
    patience, min_delta, restore_best, the rule: 1 scikit-learn's) to the training loss
    (1) or to the loss
    of held_x, held_y (2, each epoch's in validation), and sets trained[r]. A
    DROPOUT variant drops hidden units at rate dropping[0] by the masks of run r's key
    keys[r] (_fill_drop).
    """
    runs, m, dim, ko = x.shape[0], x.shape[1], x.shape[2], y.shape[2]
    units = uoff[-1] + sizes[-1]
    tabled = table.shape[0] > 1
    for r in range(runs):
        th = theta[r]
        grad, m1, m3 = np.zeros_like(th), np.zeros_like(th), np.zeros_like(th)
        m2 = np.full_like(th, k[M2_START])  # adagrad's initial accumulator, else 0
        zs = np.zeros((units, batch), th.dtype)
        acts, ds = np.zeros_like(zs), np.zeros_like(zs)
        values, ones = np.zeros((4, batch), th.dtype), np.ones((1, batch), th.dtype)
        targets = np.zeros((ko, batch), th.dtype)
        z, a, d = np.zeros(units, th.dtype), np.zeros(units, th.dtype), np.zeros(units, th.dtype)
        drop = np.ones((units, batch if DROPOUT else 1), th.dtype)
        # built once a run: made for every batch, this tuple's reference counting alone
        # made batch size 1 take twice as long
        net = (sizes, woff, boff, uoff, loss, drop)
        step, rate_r, best, wait, rest = 0, lr[r], np.inf, 0, 0
        if STOPPING:  # the weights of the best epoch
            kept, watched_best, waited, trained[r] = th.copy(), np.inf, 0, epochs
        if STOPPING == 2:  # the hold-out's buffers
            nh = held_x.shape[1]
            hz = np.zeros((units, nh), th.dtype)
            hacts, hds = np.zeros_like(hz), np.zeros_like(hz)
            hvalues, hones = np.zeros((4, nh), th.dtype), np.ones((1, nh), th.dtype)
            htargets, scratch = np.zeros((ko, nh), th.dtype), np.zeros_like(th)
            hnet = (sizes, woff, boff, uoff, loss, np.ones((units, nh if DROPOUT else 1),
                                                          th.dtype))  # no dropout: all kept
        for e in range(epochs):
            total, penalty = k[ZERO], k[ZERO]
            for start in range(0, m, batch):
                nb = min(batch, m - start)
                if shuffled or batch < m or e == 0:  # one full batch is loaded once
                    for b in range(nb):
                        idx = orders[r, e, start + b] if shuffled else start + b
                        for j in range(dim):
                            acts[j, b] = x[r, idx, j]
                        for j in range(ko):
                            targets[j, b] = y[r, idx, j]
                if DROPOUT:
                    _fill_drop(drop, keys[r], step, nb, uoff[1], uoff[-1] - uoff[1], dropping[0],
                               k)  # fmt: skip
                if nb >= ROWS_FROM:
                    batch_loss = _batch_by_rows(
                        th, grad, nb, net, zs, acts, ds, targets, values, ones, k, c
                    )
                else:
                    batch_loss = _batch_by_samples(th, grad, nb, net, acts, targets, z, a, d, k, c)
                nbf = k[ONE] * nb
                if REGULARIZED:  # before the update, on the weights the batch saw
                    penalty += _penalize(th, grad, woff, boff, k) * nbf
                rate = rate_r * factors[step] if scheduled else rate_r
                step += 1
                _step(th, grad, m1, m2, m3, opt, rate, table[step if tabled else 0], k)
                total += batch_loss / nbf * nbf  # Keras: the batch's mean loss x its size
            curve[r, e] = total / m
            if REGULARIZED:
                penalties[r, e] = penalty / m
            if ADAPTIVE or STOPPING:  # the training loss, penalty included
                monitored = curve[r, e] + penalties[r, e] if REGULARIZED else curve[r, e]
            if ADAPTIVE:  # ReduceLROnPlateau at the epoch's end
                rate_r, best, wait, rest = _plateau_end(monitored, rate_r, best, wait, rest,
                                                        plateau)  # fmt: skip
            if STOPPING == 2:  # the hold-out's loss on the epoch-end weights, penalty added
                for b in range(nh):
                    for j in range(dim):
                        hacts[j, b] = held_x[r, b, j]
                    for j in range(ko):
                        htargets[j, b] = held_y[r, b, j]
                held = _batch_by_rows(th, scratch, nh, hnet, hz, hacts, hds, htargets, hvalues,
                                      hones, k, c)  # fmt: skip
                validation[r, e] = held / (k[ONE] * nh)
                monitored = validation[r, e]
                if REGULARIZED:
                    monitored += _penalize(th, scratch, woff, boff, k)
            if STOPPING:  # EarlyStopping at the epoch's end, as stopping.stop_update
                bar = watched_best - stop[1]
                if stop[3] > 0:  # scikit-learn's rule: the best follows every decrease
                    improved, moves = monitored <= bar, monitored < watched_best
                else:  # Keras': the best moves on an improvement past min_delta
                    improved = moves = monitored < bar
                waited = 0 if improved else waited + 1
                if moves:
                    watched_best = monitored
                    kept[:] = th
                if not improved and e > 0 and waited >= stop[0]:
                    trained[r] = e + 1
                    break
        if STOPPING and stop[2] > 0:  # restore_best: the best epoch's weights
            th[:] = kept


def predict_kernel(x, theta, out, sizes, woff, boff, uoff, k, c):
    """Output logits out (R, n, k) of every run on its own inputs x (R, n, d)."""
    units = uoff[-1] + sizes[-1]
    n, dim = x.shape[1], x.shape[2]
    for r in range(x.shape[0]):
        zs = np.zeros((units, n), theta.dtype)
        acts = np.zeros_like(zs)
        for b in range(n):
            for j in range(dim):
                acts[j, b] = x[r, b, j]
        _forward_rows(theta[r], n, sizes, woff, boff, uoff, zs, acts, zs, k, c)  # no dropout
        for j in range(sizes[-1]):
            for b in range(n):
                out[r, b, j] = zs[uoff[-1] + j, b]


class Kernels(NamedTuple):
    """One variant's compiled entry points (numba dispatchers)."""

    train: Any
    predict: Any


# the functions whose code calls activation or derivative or reads SOFTMAX, or calls one
# that does
SPECIALISED = ("_forward_rows", "_backward_rows", "_batch_by_rows", "_batch_by_samples",
               "train_kernel", "predict_kernel")  # fmt: skip


def kernels(activation: str, softmax: bool, extended: bool = False, regularized: bool = False,
            adaptive: bool = False, stopping: int = 0, dropped: bool = False
            ) -> Kernels:  # fmt: skip
    """A variant's kernels (see _kernels), one set per variant in a process."""
    return _kernels(activation, softmax, extended, regularized, adaptive, stopping, dropped)


@cache
def _kernels(activation: str, softmax: bool, extended: bool, regularized: bool,
             adaptive: bool, stopping: int, dropped: bool) -> Kernels:  # fmt: skip
    """A variant's kernels, compiled (or loaded from numba's disk cache) on their first call.

    Each copy shares its code with the function above of the same name, but
    looks its globals up in the variant's own namespace: there `activation`
    and `derivative` are the variant's pair from numba_activations.RULES,
    SOFTMAX, REGULARIZED, ADAPTIVE, STOPPING and DROPOUT hold its values,
    `_step` its optimizer step (plain, or extended: numba_optimizers), and the
    names in SPECIALISED the variant's copies. A copy's own name keeps its cache file apart.
    Prediction depends on neither the step nor the penalty: those variants
    share the plain one's.
    """
    value, grad = RULES[activation]
    scope = dict(globals(), activation=value, derivative=grad, SOFTMAX=softmax,
                 REGULARIZED=regularized, ADAPTIVE=adaptive, STOPPING=stopping, DROPOUT=dropped,
                 _step=step_function(extended))  # fmt: skip
    variant = (f"{activation}_{'softmax' if softmax else 'unit'}"
               f"{'_extended' if extended else ''}{'_penalty' if regularized else ''}"
               f"{'_plateau' if adaptive else ''}{f'_stop{stopping}' if stopping else ''}"
               f"{'_dropout' if dropped else ''}")
    for name in SPECIALISED:
        copy = types.FunctionType(globals()[name].__code__, scope, f"{name}_{variant}")
        copy.__qualname__ = copy.__name__
        scope[name] = njit(cache=True, nogil=True, error_model="numpy")(copy)
    plain = not (extended or regularized or adaptive or stopping or dropped)
    predict = scope["predict_kernel"] if plain else kernels(activation, softmax).predict
    return Kernels(scope["train_kernel"], predict)
