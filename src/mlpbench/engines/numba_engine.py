"""The compiled engine: the NumPy engine's exact mathematics as numba kernels.

One kernel serves every configuration: loss, optimizer, activation, batch
size, epochs and a per-run learning rate are runtime arguments, and runs are
spread over the cores with prange. Numerical conventions match
numpy_engine.py (the reference):
- float64 by default, float32 on request; constants travel in a small array
  of the parameters' dtype so float32 runs are not promoted to float64;
- sigmoid, BCE-from-logit (no clipping) and MSE, and the Keras 3 optimizer
  rules with epsilon where Keras puts it, written out once more below;
- gradients are summed sample by sample, so float64 results equal the
  NumPy engine's to rounding (about 1e-13 relative after a few epochs);
- no fastmath: IEEE arithmetic, so the trajectory is reproducible.
Parameters are flattened per run as [W1 (row-major, in x out), b1, W2, b2, ...].
Compiled code is cached on disk; compile_time_s is the first call's cost
(compile or cache load) in this process, measured apart from training.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import numba
import numpy as np
from numba import njit, prange

from mlpbench.config import Config
from mlpbench.engines import EpochCallback, RunResult, collect, logit_metrics, prepare
from mlpbench.model import Params
from mlpbench.optimizers import ADAM_BETA_1, ADAM_BETA_2, EPSILON, RMSPROP_RHO

ACTIVATION_CODES = {"sigmoid": 0, "tanh": 1, "relu": 2}
LOSS_CODES = {"bce": 0, "mse": 1}
OPTIMIZER_CODES = {"sgd": 0, "rmsprop": 1, "adam": 2}
# indices into the constants array `k`
ZERO, ONE, TWO, RHO, ONE_M_RHO, BETA_1, ONE_M_B1, BETA_2, ONE_M_B2, EPS = range(10)


def constants(dtype: str) -> np.ndarray:
    """Scalars the kernels need, already in the parameters' float width."""
    values = [0.0, 1.0, 2.0, RMSPROP_RHO, 1 - RMSPROP_RHO]
    values += [ADAM_BETA_1, 1 - ADAM_BETA_1, ADAM_BETA_2, 1 - ADAM_BETA_2, EPSILON]
    return np.array(values, dtype=dtype)


@njit(cache=True, error_model="numpy")
def _sigmoid(z, k):
    e = np.exp(-abs(z))
    s = k[ONE] / (k[ONE] + e)
    return s if z >= k[ZERO] else e * s


@njit(cache=True, error_model="numpy")
def _act(code, z, k):
    if code == 0:
        return _sigmoid(z, k)
    if code == 1:
        return np.tanh(z)
    return z if z > k[ZERO] else k[ZERO]


@njit(cache=True, error_model="numpy")
def _dact(code, z, a, k):
    if code == 0:
        return a * (k[ONE] - a)
    if code == 1:
        return k[ONE] - a * a
    return k[ONE] if z > k[ZERO] else k[ZERO]


@njit(cache=True, error_model="numpy")
def _forward(theta, nb, sizes, woff, boff, uoff, act, zs, acts, k):
    """Layer by layer over the batch's nb samples, whose inputs are in acts[:d, :nb].

    Rows of zs and acts are units, columns samples, so the inner loops run over
    contiguous samples; each logit is sum_i a_i * w_ij (i in order), then + bias,
    as the NumPy engine computes it. The output logits land in zs[-1, :nb].
    """
    n_layers = sizes.shape[0] - 1
    for layer in range(n_layers):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        for j in range(fan_out):
            u = uoff[layer + 1] + j
            for b in range(nb):
                zs[u, b] = k[ZERO]
            for i in range(fan_in):
                w = theta[woff[layer] + i * fan_out + j]
                v = uoff[layer] + i
                for b in range(nb):
                    zs[u, b] += acts[v, b] * w
            bias = theta[boff[layer] + j]
            for b in range(nb):
                zs[u, b] = zs[u, b] + bias
            if layer < n_layers - 1:
                for b in range(nb):
                    acts[u, b] = _act(act, zs[u, b], k)


@njit(cache=True, error_model="numpy")
def _loss_and_dz(loss, z, y, nb, k):
    """Per-sample loss and its derivative by the logit, the latter divided by the batch size."""
    e = np.exp(-abs(z))  # shared by the sigmoid and BCE's log term
    s = k[ONE] / (k[ONE] + e)
    p = s if z >= k[ZERO] else e * s
    if loss == 0:
        value = max(z, k[ZERO]) - z * y + np.log1p(e)
        return value, (p - y) / nb
    d = p - y
    return d * d, k[TWO] * (p - y) * p * (k[ONE] - p) / nb


@njit(cache=True, error_model="numpy")
def _backward(theta, grad, nb, sizes, woff, boff, uoff, act, zs, acts, ds, k):
    """Set grad to the batch gradient, given dL/dz of each sample's output in ds[-1, :nb].

    Sums over samples run in sample order, as adding one sample at a time would.
    """
    n_layers = sizes.shape[0] - 1
    for layer in range(n_layers - 1, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        for j in range(fan_out):
            u = uoff[layer + 1] + j
            s = k[ZERO]
            for b in range(nb):
                s += ds[u, b]
            grad[boff[layer] + j] = s
            for i in range(fan_in):
                v = uoff[layer] + i
                s = k[ZERO]
                for b in range(nb):
                    s += acts[v, b] * ds[u, b]
                grad[woff[layer] + i * fan_out + j] = s
        if layer > 0:
            for i in range(fan_in):
                v = uoff[layer] + i
                for b in range(nb):
                    ds[v, b] = k[ZERO]
                for j in range(fan_out):
                    w = theta[woff[layer] + i * fan_out + j]
                    u = uoff[layer + 1] + j
                    for b in range(nb):
                        ds[v, b] += ds[u, b] * w
                for b in range(nb):
                    ds[v, b] = ds[v, b] * _dact(act, zs[v, b], acts[v, b], k)


@njit(cache=True, error_model="numpy")
def _step(theta, grad, m1, m2, opt, lr, root, denominator, k):
    """One optimizer update of every parameter, Keras 3 rules (see optimizers.py).

    For Adam, root = sqrt(1 - beta_2^t) and denominator = 1 - beta_1^t.
    """
    alpha = lr * root / denominator
    for p in range(theta.shape[0]):
        g = grad[p]
        if opt == 0:
            theta[p] = theta[p] + -(g * lr)
        elif opt == 1:
            m2[p] = k[RHO] * m2[p] + k[ONE_M_RHO] * g * g
            theta[p] = theta[p] + -(lr * g / np.sqrt(m2[p] + k[EPS]))
        else:
            m1[p] = m1[p] + (g - m1[p]) * k[ONE_M_B1]
            m2[p] = m2[p] + (g * g - m2[p]) * k[ONE_M_B2]
            theta[p] = theta[p] + -(m1[p] * alpha / (np.sqrt(m2[p]) + k[EPS]))


@njit(parallel=True, cache=True, error_model="numpy")
def train_kernel(x, y, orders, shuffled, theta, sizes, woff, boff, uoff,
                 act, loss, opt, lr, batch, epochs, curve, k):  # fmt: skip
    """Train every run r in parallel; theta (R, P) is updated in place, curve (R, E) filled."""
    runs, m, dim = x.shape[0], x.shape[1], x.shape[2]
    units = uoff[-1] + sizes[-1]
    out = units - 1
    # Adam's bias corrections depend on the step count alone: compute them once
    # for all runs (two pow calls a step would otherwise dominate batch size 1)
    steps = epochs * ((m + batch - 1) // batch) if opt == 2 else 0
    root, denominator = np.ones(steps + 1, theta.dtype), np.ones(steps + 1, theta.dtype)
    t = k[ZERO]  # step count, in the parameters' dtype as Keras keeps it
    for s in range(1, steps + 1):
        t += k[ONE]
        root[s] = np.sqrt(k[ONE] - k[BETA_2] ** t)
        denominator[s] = k[ONE] - k[BETA_1] ** t
    for r in prange(runs):
        th = theta[r]
        grad, m1, m2 = np.zeros_like(th), np.zeros_like(th), np.zeros_like(th)
        zs = np.zeros((units, batch), th.dtype)
        acts, ds = np.zeros_like(zs), np.zeros_like(zs)
        targets = np.zeros(batch, th.dtype)
        step = 0
        for e in range(epochs):
            total = k[ZERO]
            for start in range(0, m, batch):
                nb = min(batch, m - start)
                nbf = k[ONE] * nb
                for b in range(nb):
                    idx = orders[r, e, start + b] if shuffled else start + b
                    for j in range(dim):
                        acts[j, b] = x[r, idx, j]
                    targets[b] = y[r, idx]
                _forward(th, nb, sizes, woff, boff, uoff, act, zs, acts, k)
                batch_loss = k[ZERO]
                for b in range(nb):
                    value, ds[out, b] = _loss_and_dz(loss, zs[out, b], targets[b], nbf, k)
                    batch_loss += value
                _backward(th, grad, nb, sizes, woff, boff, uoff, act, zs, acts, ds, k)
                step += 1
                s = step if opt == 2 else 0
                _step(th, grad, m1, m2, opt, lr[r], root[s], denominator[s], k)
                total += batch_loss / nbf * nbf
            curve[r, e] = total / m


@njit(parallel=True, cache=True, error_model="numpy")
def predict_kernel(x, theta, sizes, woff, boff, uoff, act, out, k):
    """Output logits out (R, n) of every run on its own inputs x (R, n, d)."""
    units = uoff[-1] + sizes[-1]
    n, dim = x.shape[1], x.shape[2]
    for r in prange(x.shape[0]):
        zs = np.zeros((units, n), theta.dtype)
        acts = np.zeros_like(zs)
        for b in range(n):
            for j in range(dim):
                acts[j, b] = x[r, b, j]
        _forward(theta[r], n, sizes, woff, boff, uoff, act, zs, acts, k)
        for b in range(n):
            out[r, b] = zs[units - 1, b]


def layout(sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Offsets of each layer's weights and biases in the flat vector, and of its units."""
    woff, boff, uoff, pos = [], [], [0], 0
    for fan_in, fan_out in itertools.pairwise(sizes):
        woff.append(pos)
        pos += fan_in * fan_out
        boff.append(pos)
        pos += fan_out
        uoff.append(uoff[-1] + fan_in)
    return tuple(np.array(a, dtype=np.int64) for a in (sizes, woff, boff, uoff))


def flatten(params: Params) -> np.ndarray:
    """[W1, b1, ...] with a run axis -> one contiguous (R, P) array."""
    return np.ascontiguousarray(np.concatenate([p.reshape(p.shape[0], -1) for p in params], 1))


def unflatten(theta: np.ndarray, like: Params) -> Params:
    """Inverse of flatten, shaped like the given parameters."""
    out, pos = [], 0
    for p in like:
        size = int(np.prod(p.shape[1:]))
        out.append(theta[:, pos : pos + size].reshape(p.shape))
        pos += size
    return out


_first_call_s: dict[str, float] = {}


def warm_up(dtype: str) -> float:
    """Compile or load the kernels for a dtype once per process; return what that cost."""
    if dtype not in _first_call_s:
        start = time.perf_counter()
        tiny = Config(m=2, n=1, epochs=1, batch_size=1)
        _run(tiny, [0], dtype)
        _first_call_s[dtype] = time.perf_counter() - start
    return _first_call_s[dtype]


def _run(config: Config, seeds: Sequence[int], dtype: str, lrs: Sequence[float] | None = None):
    data, params, orders = prepare(config, seeds, dtype)
    runs = len(seeds)
    k = constants(dtype)
    shape = layout(config.layer_sizes)
    act = ACTIVATION_CODES[config.activation]
    theta = flatten(params)
    curve = np.zeros((runs, config.epochs), dtype=dtype)
    shuffled = orders is not None
    order_arg = orders if shuffled else np.zeros((runs, 1, 1), dtype=np.int32)
    lr = np.full(runs, config.lr, dtype=dtype) if lrs is None else np.asarray(lrs, dtype=dtype)
    if lr.shape != (runs,):
        raise ValueError(f"need one learning rate per run ({runs}), got shape {lr.shape}")
    start = time.perf_counter()
    train_kernel(
        data.x_train, data.y_train[:, :, 0], order_arg, shuffled, theta, *shape, act,
        LOSS_CODES[config.loss], OPTIMIZER_CODES[config.optimizer], lr, config.batch,
        config.epochs, curve, k,
    )  # fmt: skip
    train_time = time.perf_counter() - start
    z_train = np.zeros(data.y_train.shape[:2], dtype=dtype)
    predict_kernel(data.x_train, theta, *shape, act, z_train, k)
    z_test = np.zeros(data.y_test.shape[:2], dtype=dtype)
    start = time.perf_counter()
    predict_kernel(data.x_test, theta, *shape, act, z_test, k)
    test_time = time.perf_counter() - start
    return (
        data,
        unflatten(theta, params),
        curve,
        z_train[:, :, None],
        z_test[:, :, None],
        (
            train_time,
            test_time,
        ),
    )


PER_RUN_LR = True  # train() takes lrs: a learning-rate sweep is just more runs


def train(
    config: Config,
    seeds: Sequence[int],
    dtype: str = "float64",
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    lrs: Sequence[float] | None = None,
) -> list[RunResult]:
    """Train len(seeds) runs of one configuration, spread over the cores.

    lrs, if given, sets each run's learning rate (one per seed), so a grid of
    rates x seeds is a single kernel call; config.lr is then ignored.
    """
    compile_time = warm_up(dtype)
    runs = len(seeds)
    with np.errstate(all="ignore"):  # diverged runs are detected, not warned about
        data, params, curve, z_train, z_test, (train_time, test_time) = _run(
            config, seeds, dtype, lrs
        )
        times = (train_time, test_time, compile_time)
        metrics = logit_metrics(config, data, z_train, z_test, times)
    if on_epoch:
        on_epoch(runs * config.epochs)
    return collect(seeds, curve, params, metrics)


def devices() -> tuple[str, ...]:
    """Where this engine can run here: the CPU only."""
    return ("cpu",)


def versions() -> dict[str, str]:
    """Libraries this engine's numbers depend on."""
    threads = str(numba.get_num_threads())
    return {"numpy": np.__version__, "numba": numba.__version__, "numba threads": threads}
