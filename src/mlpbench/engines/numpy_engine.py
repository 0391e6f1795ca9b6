"""The from-scratch NumPy reference engine: R runs advanced together.

Every array carries a leading run axis, so 20 runs at full batch cost about
as much as one. Numerical conventions:
- float64 by default, float32 on request (data, weights and optimizer state
  alike; scalar coefficients cast to the same width, as Keras does);
- the sigmoid is the overflow-free form in model.sigmoid; BCE works on the
  output logit with no clipping and MSE on sigmoid(logit) (see losses.py);
- optimizer rules and epsilon placement as in optimizers.py (Keras 3);
- the per-epoch loss is what Keras' History shows: the sample-weighted mean
  of the mini-batch losses, each taken before its update;
- train_time_s and test_time_s are the run's share (1/R) of the wall time of
  training and of predicting the test set for all R runs together.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from mlpbench.config import Config
from mlpbench.engines import EpochCallback, RunResult, collect, logit_metrics, prepare
from mlpbench.losses import LOSSES
from mlpbench.model import ACTIVATIONS, Params
from mlpbench.optimizers import OPTIMIZERS, apply_updates


def forward(params: Params, x: np.ndarray, activation: str) -> tuple[list, list, np.ndarray]:
    """Pre-activations and activations of each hidden layer, and the output logit (R, B, 1)."""
    act, _ = ACTIVATIONS[activation]
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
    """Output logits only, for prediction."""
    return forward(params, x, activation)[2]


def loss_and_grads(
    params: Params, x: np.ndarray, y: np.ndarray, activation: str, loss: str
) -> tuple[np.ndarray, Params]:
    """Per-run batch loss (R,) and its gradient for every parameter, by backpropagation."""
    _, dact = ACTIVATIONS[activation]
    pres, acts, logit = forward(params, x, activation)
    delta = LOSSES[loss].grad(logit, y)  # dL/dz of the output layer, (R, B, 1)
    grads: Params = [np.empty(0)] * len(params)
    for layer in reversed(range(len(params) // 2)):
        w = params[2 * layer]
        grads[2 * layer] = acts[layer].transpose(0, 2, 1) @ delta
        grads[2 * layer + 1] = delta.sum(axis=1)
        if layer > 0:
            delta = (delta @ w.transpose(0, 2, 1)) * dact(pres[layer - 1], acts[layer])
    return LOSSES[loss].value(logit, y), grads


def train(
    config: Config,
    seeds: Sequence[int],
    dtype: str = "float64",
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
) -> list[RunResult]:
    """Train len(seeds) runs of one configuration together."""
    data, params, orders = prepare(config, seeds, dtype)
    optimizer = OPTIMIZERS[config.optimizer](config.lr)
    state = optimizer.init(params)
    runs, m, batch = len(seeds), config.train_size, config.batch
    curve = np.zeros((runs, config.epochs))

    with np.errstate(all="ignore"):  # diverged runs are detected, not warned about
        start = time.perf_counter()
        for epoch in range(config.epochs):
            if orders is None:
                x, y = data.x_train, data.y_train
            else:
                order = orders[:, epoch, :, None]
                x = np.take_along_axis(data.x_train, order, axis=1)
                y = np.take_along_axis(data.y_train, order, axis=1)
            total = np.zeros(runs)
            for s in range(0, m, batch):
                xb, yb = x[:, s : s + batch], y[:, s : s + batch]
                value, grads = loss_and_grads(params, xb, yb, config.activation, config.loss)
                total += value * xb.shape[1]
                updates, state = optimizer.update(grads, state)
                params = apply_updates(params, updates)
            curve[:, epoch] = total / m
            if on_epoch:
                on_epoch(runs)
        train_time = time.perf_counter() - start

        z_train = logits(params, data.x_train, config.activation)
        start = time.perf_counter()
        z_test = logits(params, data.x_test, config.activation)
        test_time = time.perf_counter() - start
        metrics = logit_metrics(config, data, z_train, z_test, (train_time, test_time, 0.0))
    return collect(seeds, curve, params, metrics)


def devices() -> tuple[str, ...]:
    """Where this engine can run here: the CPU only."""
    return ("cpu",)


def versions() -> dict[str, str]:
    """Libraries this engine's numbers depend on."""
    return {"numpy": np.__version__, "numpy engine threads": "1"}
