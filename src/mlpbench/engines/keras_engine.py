"""Keras 3 `model.fit`, the way the seed report's author trained: one run at a time.

The backend is whatever KERAS_BACKEND says (TensorFlow by default). Conventions:
- the network is Input -> Dense(h, activation) ... -> Dense(1, "sigmoid"), or
  Dense(k, "softmax") for k >= 3 classes, its weights set to the run's shared
  Glorot initialisation; float32 unless asked;
- loss "binary_crossentropy": on the TensorFlow backend the sigmoid keeps its
  logits and the loss is sigmoid_cross_entropy_with_logits, unclipped (the
  JAX backend clips probabilities to [1e-7, 1 - 1e-7] instead);
  "categorical_crossentropy" likewise takes the softmax's logits
  (softmax_cross_entropy_with_logits); "mse" on the output layer as usual;
- optimizers are Keras' own classes (SGD, RMSprop, Adam, AdamW, Adagrad,
  Adamax, Nadam, Lion) given the rate and every setting the optimizer reads,
  each at its Keras default unless the configuration sets it; weight decay
  is the optimizer's own `weight_decay` (decoupled, on every variable); a
  schedule is a LearningRateSchedule reading the harness's table of rates,
  lr * factors[s] computed in float64 and cast to the model's width, at
  Keras' own step count (tests/test_schedules.py holds the factors equal to
  Keras' ExponentialDecay, InverseTimeDecay, CosineDecay and
  PiecewiseConstantDecay);
- batch order: fit reads a tf.data pipeline that replays the run's epoch
  permutations (at full batch, the whole set every epoch), with
  steps_per_epoch set so one iterator runs through all epochs and Keras never
  reshuffles. Handing fit NumPy arrays instead makes Keras 3 rebuild its input
  pipeline every epoch: about 19 ms per epoch on our 2-core machine against
  0.7 ms for the whole full-batch step this way, which would swamp the timing;
- timing: per group, one model is built and compiled and a warm-up (a 2-epoch
  fit and a predict) traces every function first; that is compile(). Each
  run then resets weights and optimizer state and its fit is timed on its
  own; test logits come from a model sharing the layers, stopping at the logit;
- a weight penalty is keras.regularizers.L1L2 as every Dense layer's
  kernel_regularizer; fit then also tracks the data loss as a metric (the
  loss function itself, MeanMetricWrapper), and the penalty curve is
  History's loss less that metric;
- the loss curve is Keras' History: the sample-weighted mean of batch losses;
- early stopping and the plateau schedule are Keras' own EarlyStopping and
  ReduceLROnPlateau callbacks (stopping.py and schedules.py write their rules
  out); val_loss is fit's validation_data, the run's hold-out, in one batch.
  Each run's reset restores the optimizer's learning-rate variable, which
  ReduceLROnPlateau lowers. Keras' EarlyStopping has its own rule only
  (stop_rule = "sklearn" is refused).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np

from mlpbench.config.core import Config
from mlpbench.engines.base import Engine, EpochCallback, Fit, Problem, Trainer
from mlpbench.nn import activations
from mlpbench.nn.optimizers import OPTIMIZERS, Settings
from mlpbench.nn.schedules import SCHEDULES

# each optimizer's Keras class; it is given every setting the optimizer reads, by Keras' name
KERAS_OPTIMIZERS = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW",
                    "adagrad": "Adagrad", "adamax": "Adamax", "nadam": "Nadam", "lion": "Lion"}
KERAS_NAMES = {"initial_accumulator": "initial_accumulator_value"}


def keras_optimizer(optimizer: str, settings: Settings, lr: Any
                    ) -> keras.optimizers.Optimizer:  # fmt: skip
    """Keras' own optimizer object, every setting the optimizer reads passed explicitly."""
    s = settings
    kwargs = {KERAS_NAMES.get(n, n): getattr(s, n) for n in OPTIMIZERS[optimizer].uses}
    # weight decay: None for none, but AdamW wants a number
    if s.weight_decay or optimizer == "adamw":
        kwargs["weight_decay"] = s.weight_decay
    return getattr(keras.optimizers, KERAS_OPTIMIZERS[optimizer])(learning_rate=lr, **kwargs)


class TableSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The harness's rate of every update, lr * factors[s], read at Keras' step count s (the
    last rate holds past the end: Keras' warm-up fit makes no more updates than a run)."""

    def __init__(self, rates: np.ndarray):
        self.rates = keras.ops.convert_to_tensor(rates)
        self.last = len(rates) - 1

    def __call__(self, step):
        return keras.ops.take(self.rates, keras.ops.minimum(step, self.last))


def make_optimizer(config: Config, lr: float, factors: np.ndarray | None, dtype: str
                   ) -> keras.optimizers.Optimizer:  # fmt: skip
    """The configuration's optimizer, as Keras builds it, its rate scheduled by factors."""
    rate = lr if factors is None else TableSchedule((lr * factors).astype(dtype))
    return keras_optimizer(config.optimizer, config.settings, rate)


LOSSES = {"bce": "binary_crossentropy", "cce": "categorical_crossentropy",
          "mse": "mean_squared_error"}  # fmt: skip
# Keras' own activations, each of (z, leaky_relu's slope)
ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": lambda z, s: keras.activations.sigmoid(z),
    "tanh": lambda z, s: keras.activations.tanh(z), "relu": lambda z, s: keras.activations.relu(z),
    "linear": lambda z, s: keras.activations.linear(z),
    "leaky_relu": lambda z, s: keras.activations.leaky_relu(z, negative_slope=s),
    "elu": lambda z, s: keras.activations.elu(z), "selu": lambda z, s: keras.activations.selu(z),
    "gelu": lambda z, s: keras.activations.gelu(z, approximate=False),
    "silu": lambda z, s: keras.activations.silu(z),
    "softplus": lambda z, s: keras.activations.softplus(z), "sin": lambda z, s: keras.ops.sin(z),
}  # fmt: skip


def _tf():
    import tensorflow as tf

    return tf


def device_scope(device: str):
    """Pin TensorFlow work to the CPU or the first GPU; other backends choose themselves."""
    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    return _tf().device("/GPU:0" if device == "gpu" else "/CPU:0")


def build_model(config: Config, dtype: str, factors: np.ndarray | None
                ) -> tuple[keras.Model, keras.Model]:  # fmt: skip
    """The configuration's network, compiled with its loss and optimizer, and its logit model.

    The output is Dense(k) followed by a sigmoid (k = 1) or softmax Activation
    layer, which trains exactly as Dense(k, activation) (the activation still
    hands its logits to the loss); the second model shares the layers and
    stops at the logits.
    """
    inputs = keras.Input((config.layer_sizes[0],), dtype=dtype)
    penalty = config.penalty
    regularizer = None if penalty is None else keras.regularizers.L1L2(*penalty)
    rule, slope = ACTIVATIONS[config.activation], activations.slope(config.negative_slope)
    a = inputs
    for h in config.hidden:
        a = keras.layers.Dense(h, activation=lambda z: rule(z, slope), dtype=dtype,
                               kernel_regularizer=regularizer)(a)  # fmt: skip
    outputs = config.layer_sizes[-1]
    logit = keras.layers.Dense(outputs, dtype=dtype, kernel_regularizer=regularizer)(a)
    output = keras.layers.Activation("sigmoid" if outputs == 1 else "softmax", dtype=dtype)(logit)
    model = keras.Model(inputs, output)
    optimizer = make_optimizer(config, config.lr, factors, dtype)
    loss = keras.losses.get(LOSSES[config.loss])
    metrics = [] if penalty is None else [keras.metrics.MeanMetricWrapper(loss, DATA_LOSS)]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    model.optimizer.build(model.trainable_variables)
    return model, keras.Model(inputs, logit)


def epochs_dataset(x: np.ndarray, y: np.ndarray, orders: np.ndarray | None, batch: int):
    """Every epoch's batches in the run's own order: ceil(m / B) batches per epoch.

    orders is (E, m), or None at full batch, where every epoch is the whole set.
    """
    tf = _tf()
    xs, ys = tf.constant(x), tf.constant(y)
    if orders is None:
        return tf.data.Dataset.from_tensors((xs, ys)).repeat()

    def epoch(order):  # batched within the epoch, so its last batch stays short
        data = tf.data.Dataset.from_tensor_slices((tf.gather(xs, order), tf.gather(ys, order)))
        return data.batch(batch)

    return tf.data.Dataset.from_tensor_slices(orders).flat_map(epoch)


DATA_LOSS = "data_loss"  # the metric that tracks the loss without the penalty


def callbacks(config: Config) -> list[keras.callbacks.Callback]:
    """Keras' own EarlyStopping and ReduceLROnPlateau, with the configuration's settings."""
    out: list[keras.callbacks.Callback] = []
    if config.early_stopping != "none":
        s = config.stopping_settings
        out.append(keras.callbacks.EarlyStopping(
            monitor=config.early_stopping, patience=s["stop_patience"],
            min_delta=s["stop_min_delta"], restore_best_weights=s["restore_best"]))
    if SCHEDULES[config.schedule].adaptive:
        s = config.schedule_settings
        out.append(keras.callbacks.ReduceLROnPlateau(
            monitor="loss", factor=s["plateau_factor"], patience=s["plateau_patience"],
            min_delta=s["plateau_min_delta"], cooldown=s["plateau_cooldown"],
            min_lr=s["min_lr"]))
    return out


class Epochs(NamedTuple):
    """One run's fit: per-epoch data loss, penalty and hold-out data loss (NaN without one),
    each as long as the epochs it trained."""

    curve: np.ndarray
    penalty: np.ndarray
    validation: np.ndarray


def _fit(model, config: Config, x, y, orders, epochs: int, held=None) -> Epochs:
    """model.fit for these epochs, with the configuration's callbacks."""
    data = epochs_dataset(x, y, None if orders is None else orders[:epochs], config.batch)
    steps = math.ceil(len(x) / config.batch)
    extra = {} if held is None else {"validation_data": held, "validation_batch_size":
                                     len(held[0])}  # fmt: skip
    history = model.fit(data, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0,
                        callbacks=callbacks(config), **extra).history  # fmt: skip
    total = np.asarray(history["loss"], dtype=np.float64)
    data_loss = np.asarray(history.get(DATA_LOSS, total), dtype=np.float64)
    held_loss = history.get(f"val_{DATA_LOSS}", history.get("val_loss"))
    validation = np.full_like(total, np.nan) if held_loss is None else np.asarray(held_loss)
    return Epochs(data_loss, total - data_loss, validation.astype(np.float64))


def _reset(model, weights: list[np.ndarray], optimizer_state: list[np.ndarray]) -> None:
    model.set_weights(weights)
    for variable, value in zip(model.optimizer.variables, optimizer_state):
        variable.assign(value)


class KerasTrainer(Trainer):
    """One model, reset for each run in turn; a warm-up fit traces every function first."""

    def __init__(self, config: Config, problem: Problem, dtype: str, device: str):
        self.config, self.problem, self.device = config, problem, device
        data, _, orders, factors = problem[:4]
        with device_scope(device):
            self.model, self.logit_model = build_model(config, dtype, factors)
            self.fresh_optimizer = [v.numpy() for v in self.model.optimizer.variables]
            run_orders = None if orders is None else orders[0]
            x, y = data.x_train[0], data.y_train[0]
            _fit(self.model, config, x, y, run_orders, min(2, config.epochs), self._held(0))
            self.logit_model.predict(data.x_test[0], batch_size=len(data.x_test[0]), verbose=0)
        self.final: list[list[np.ndarray]] = []

    def _held(self, r: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Run r's hold-out for val_loss, or None."""
        held = self.problem.held
        return None if held is None else (held[0][r], held[1][r])

    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """model.fit for each run, one after another, each timed on its own; a run that
        stopped early has NaN past its epochs."""
        c, (data, params, orders, _) = self.config, self.problem[:4]
        runs = len(params[0])
        parts = {name: np.full((runs, c.epochs), np.nan) for name in Epochs._fields}
        seconds, trained = np.zeros(runs), np.zeros(runs, dtype=np.int64)
        with device_scope(self.device):
            for r in range(runs):
                _reset(self.model, [p[r] for p in params], self.fresh_optimizer)
                run_orders = None if orders is None else orders[r]
                x, y = data.x_train[r], data.y_train[r]
                start = time.perf_counter()
                epochs = _fit(self.model, c, x, y, run_orders, c.epochs, self._held(r))
                seconds[r] = time.perf_counter() - start
                trained[r] = len(epochs.curve)
                for name, values in epochs._asdict().items():
                    parts[name][r, : trained[r]] = values
                self.final.append(self.model.get_weights())
                if on_epoch:
                    on_epoch(c.epochs)
        params = [np.stack(p) for p in zip(*self.final)]
        return Fit(parts["curve"], params, seconds,
                   None if c.penalty is None else parts["penalty"],
                   trained if c.early_stopping != "none" else None,
                   parts["validation"] if self.problem.held is not None else None)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Each run's trained weights set in turn, then its logits by predict."""
        out = []
        with device_scope(self.device):
            for r, weights in enumerate(self.final):
                self.model.set_weights(weights)
                out.append(self.logit_model.predict(x[r], batch_size=x.shape[1], verbose=0))
        return np.stack(out)


class KerasEngine(Engine):
    """Keras `fit`, as the seed report's author trained."""

    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Build and compile the model, and trace fit and predict with a 2-epoch warm-up."""
        return KerasTrainer(config, problem, dtype, device)

    def devices(self) -> tuple[str, ...]:
        """The CPU, and the GPU where TensorFlow sees one."""
        if keras.backend.backend() == "tensorflow" and _tf().config.list_physical_devices("GPU"):
            return ("cpu", "gpu")
        return ("cpu",)

    def versions(self) -> dict[str, str]:
        """Keras, its backend's library, and TensorFlow's thread pool size."""
        out = {
            "numpy": np.__version__,
            "keras": keras.__version__,
            "keras backend": keras.backend.backend(),
        }
        if keras.backend.backend() == "tensorflow":
            tf = _tf()
            threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
            out |= {"tensorflow": tf.__version__, "tensorflow threads": str(threads)}
        return out


ENGINE = KerasEngine()
