"""The from-scratch NumPy reference engine: R runs advanced together.

Every array carries a leading run axis, so 20 runs at full batch cost about
as much as one. Numerical conventions:
- float64 by default, float32 on request (data, weights and optimizer state
  alike; scalar coefficients cast to the same width, as Keras does);
- the forward pass is model.forward; the sigmoid is the overflow-free form in
  model.sigmoid; BCE works on the output logit with no clipping and MSE on
  sigmoid(logit) (see losses.py);
- optimizer rules and epsilon placement as in optimizers.py (Keras 3); with a
  schedule, update s rebuilds the rule at rate lr * factors[s] (float64, then
  cast to the run's width as every coefficient is) and keeps its state;
- a weight penalty (regularizers.py) is computed on the weights each batch
  sees and its gradient added to the data loss's before the update;
- dropout multiplies each hidden activation by its mask's factor (0, or
  1 / (1 - rate)) in training's forward pass and the backward pass through
  it, the activation's derivative taken at the unmasked value;
- the per-epoch loss is what Keras' History shows: the sample-weighted mean
  of the mini-batch losses, each taken before its update (the data loss, and
  the penalty apart);
- the plateau schedule (schedules.plateau_update) reads each epoch's loss plus
  penalty at the epoch's end and sets the next epoch's rate, and early
  stopping (stopping.stop_update) reads the same loss, or the hold-out's on the
  epoch-end weights plus their penalty; under either, runs train one at a
  time, each at its own rate and for its own epochs.
"""

from __future__ import annotations

import time

import numpy as np

from mlpbench.config.core import Config
from mlpbench.data.dataset import Dataset
from mlpbench.engines.base import Engine, EpochCallback, Fit, Problem, Trainer
from mlpbench.nn import dropout, regularizers, schedules, stopping
from mlpbench.nn.activations import Hidden
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.model import Params, forward, logits
from mlpbench.nn.optimizers import OPTIMIZERS, apply_updates, decayed
from mlpbench.nn.schedules import SCHEDULES


def loss_and_grads(
    params: Params, x: np.ndarray, y: np.ndarray, activation: Hidden, loss: str,
    masks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, Params]:  # fmt: skip
    """Per-run batch loss (R,) and its gradient for every parameter, by backpropagation;
    masks, if given, are each hidden layer's dropout factors (nn/dropout.py)."""
    dact = activation.grad
    pres, acts, logit = forward(params, x, activation, masks)
    delta = LOSSES[loss].grad(logit, y)  # dL/dz of the output layer, (R, B, 1)
    grads: Params = [np.empty(0)] * len(params)
    for layer in reversed(range(len(params) // 2)):
        w = params[2 * layer]
        grads[2 * layer] = acts[layer].transpose(0, 2, 1) @ delta
        grads[2 * layer + 1] = delta.sum(axis=1)
        if layer > 0:
            z = pres[layer - 1]
            raw = acts[layer] if masks is None else activation.value(z)
            delta = (delta @ w.transpose(0, 2, 1)) * dact(z, raw)
            if masks is not None:
                delta = delta * masks[layer - 1]
    return LOSSES[loss].value(logit, y), grads


class NumpyTrainer(Trainer):
    """Mini-batch training written plainly, every run at once."""

    def __init__(self, config: Config, problem: Problem):
        self.config, self.problem = config, problem
        self.params = problem.params

    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """Every run at once; under plateau or early stopping, whose runs part as their losses
        do, one by one."""
        c, problem = self.config, self.problem
        if not (SCHEDULES[c.schedule].adaptive or c.early_stopping != "none"):
            part = self._train(problem, on_epoch)
        else:
            parts, seconds = [], []
            for r in range(len(problem.params[0])):  # each run timed on its own
                start = time.perf_counter()
                parts.append(self._train(_one_run(problem, r), on_epoch))
                seconds.append(time.perf_counter() - start)
            joined = {name: np.concatenate([getattr(p, name) for p in parts])
                      for name in ("curve", "penalty", "trained", "validation")}  # fmt: skip
            params = [np.concatenate(ps) for ps in zip(*(p.params for p in parts))]
            part = Fit(params=params, seconds=np.array(seconds), **joined)
        self.params = part.params
        stopped = c.early_stopping != "none"
        return part._replace(penalty=part.penalty if c.penalty is not None else None,
                             trained=part.trained if stopped else None,
                             validation=part.validation if problem.held is not None else None)

    def _train(self, problem: Problem, on_epoch: EpochCallback | None) -> Fit:
        """Epoch by epoch, batch by batch, in each run's own sample order: the loss curve,
        the penalty's, the trained parameters (each run's curves past its epochs trained,
        where it stopped early, are NaN)."""
        c, (data, params, orders, factors, held, keys) = self.config, problem
        settings, penalty, act = c.settings, c.penalty, c.hidden_activation
        rule = OPTIMIZERS[c.optimizer]
        optimizer, rate, step = rule.build(c.lr, settings), c.lr, 0
        state = optimizer.init(params)
        runs, m, batch = len(params[0]), c.train_size, c.batch
        adaptive = SCHEDULES[c.schedule].adaptive
        plateau = schedules.plateau_init(np.full(runs, c.lr))
        stops, watch = stopping.START, c.stopping_settings
        best_params, trained = params, c.epochs
        curve, penalties = np.full((runs, c.epochs), np.nan), np.full((runs, c.epochs), np.nan)
        validation = np.full((runs, c.epochs), np.nan)
        for epoch in range(c.epochs):
            if orders is None:
                x, y = data.x_train, data.y_train
            else:
                order = orders[:, epoch, :, None]
                x = np.take_along_axis(data.x_train, order, axis=1)
                y = np.take_along_axis(data.y_train, order, axis=1)
            total, penalized = np.zeros(runs), np.zeros(runs)
            for s in range(0, m, batch):
                xb, yb = x[:, s : s + batch], y[:, s : s + batch]
                drop = None if keys is None else dropout.masks(keys, step, xb.shape[1],
                                                               c.hidden, c.dropout, xb.dtype)
                value, grads = loss_and_grads(params, xb, yb, act, c.loss, drop)
                total += value * xb.shape[1]
                if penalty is not None:
                    penalized += regularizers.value(params, penalty) * xb.shape[1]
                    grads = regularizers.gradient(params, grads, penalty)
                if factors is not None:  # the rule at this update's rate; its state goes on
                    rate = c.lr * factors[step]
                    optimizer = rule.build(rate, settings)
                updates, state = optimizer.update(grads, state)
                params = apply_updates(decayed(params, settings.weight_decay, rate), updates)
                step += 1
            curve[:, epoch], penalties[:, epoch] = total / m, penalized / m
            if held is not None:  # the hold-out's loss on the weights at the epoch's end
                validation[:, epoch] = LOSSES[c.loss].value(
                    logits(params, held[0], act), held[1])
            if adaptive:  # one run here: its next epoch's rate, from this epoch's loss
                plateau = schedules.plateau_update(plateau, curve[:, epoch] + penalties[:, epoch],
                                                   c.schedule_settings)  # fmt: skip
                if plateau.rate[0] != rate:
                    rate = float(plateau.rate[0])
                    optimizer = rule.build(rate, settings)
            if on_epoch:
                on_epoch(runs)
            if c.early_stopping != "none":  # one run here, as Keras' EarlyStopping
                monitored = float((curve if held is None else validation)[0, epoch])
                if penalty is not None:  # Keras' loss and val_loss both carry the penalty
                    extra = penalties[:, epoch] if held is None else regularizers.value(params,
                                                                                        penalty)
                    monitored += float(extra[0])
                stops = stopping.stop_update(stops, monitored, epoch, watch)
                if epoch == 0 or stops.best_epoch == epoch:
                    best_params = params
                if stops.stopped:
                    trained = epoch + 1
                    break
        if watch.get("restore_best"):
            params = best_params
        return Fit(curve, params, None, penalties, np.full(runs, trained), validation)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The shared forward pass."""
        return logits(self.params, x, self.config.hidden_activation)


class NumpyEngine(Engine):
    """The reference every other engine is held to."""

    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Nothing to compile."""
        return NumpyTrainer(config, problem)

    def versions(self) -> dict[str, str]:
        """NumPy; one thread of ours (BLAS may use more)."""
        return {"numpy": np.__version__, "numpy engine threads": "1"}


ENGINE = NumpyEngine()


def _one_run(problem: Problem, r: int) -> Problem:
    """Run r's slice of every per-run array, its run axis kept."""
    one = slice(r, r + 1)
    return Problem(Dataset(*(a[one] for a in problem.data)), [p[one] for p in problem.params],
                   None if problem.orders is None else problem.orders[one], problem.factors,
                   None if problem.held is None else tuple(a[one] for a in problem.held),
                   None if problem.dropout_keys is None else problem.dropout_keys[one])
