"""Keras 3 `model.fit`, the way the seed report's author trained: one run at a time.

The backend is whatever KERAS_BACKEND says (TensorFlow by default). Conventions:
- the network is Input -> Dense(h, activation) ... -> Dense(1, "sigmoid"), its
  weights set to the run's shared Glorot initialisation; float32 unless asked;
- loss "binary_crossentropy": on the TensorFlow backend the sigmoid keeps its
  logits and the loss is sigmoid_cross_entropy_with_logits, unclipped (the
  JAX backend clips probabilities to [1e-7, 1 - 1e-7] instead); "mse" as usual;
- optimizers are keras.optimizers.SGD / RMSprop / Adam with the rates given and
  Keras defaults otherwise (rho 0.9, betas 0.9 / 0.999, epsilon 1e-7);
- batch order: fit reads a tf.data pipeline that replays the run's epoch
  permutations (at full batch, the whole set every epoch), with
  steps_per_epoch set so one iterator runs through all epochs and Keras never
  reshuffles. Handing fit NumPy arrays instead makes Keras 3 rebuild its input
  pipeline every epoch: about 19 ms per epoch on our 2-core machine against
  0.7 ms for the whole full-batch step this way, which would swamp the timing;
- timing: per group, one model is built and compiled and a warm-up (a 2-epoch
  fit, predict and evaluate) traces every function first; that cost is
  compile_time_s. Each run then resets weights and optimizer state, and its
  fit is train_time_s and its predict on the test set test_time_s;
- the loss curve is Keras' History: the sample-weighted mean of batch losses.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence

import keras
import numpy as np

from mlpbench.config import Config
from mlpbench.engines import EpochCallback, RunResult, accuracy, collect, prepare
from mlpbench.optimizers import ADAM_BETA_1, ADAM_BETA_2, EPSILON, RMSPROP_RHO

OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(
        learning_rate=lr, rho=RMSPROP_RHO, epsilon=EPSILON
    ),
    "adam": lambda lr: keras.optimizers.Adam(
        learning_rate=lr, beta_1=ADAM_BETA_1, beta_2=ADAM_BETA_2, epsilon=EPSILON
    ),
}
LOSSES = {"bce": "binary_crossentropy", "mse": "mean_squared_error"}


def _tf():
    import tensorflow as tf

    return tf


def device_scope(device: str):
    """Pin TensorFlow work to the CPU or the first GPU; other backends choose themselves."""
    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    return _tf().device("/GPU:0" if device == "gpu" else "/CPU:0")


def build_model(config: Config, dtype: str) -> keras.Model:
    """The configuration's network, compiled with its loss and optimizer."""
    layers = [keras.Input((config.layer_sizes[0],), dtype=dtype)]
    layers += [
        keras.layers.Dense(h, activation=config.activation, dtype=dtype) for h in config.hidden
    ]
    layers.append(keras.layers.Dense(1, activation="sigmoid", dtype=dtype))
    model = keras.Sequential(layers)
    model.compile(optimizer=OPTIMIZERS[config.optimizer](config.lr), loss=LOSSES[config.loss])
    model.optimizer.build(model.trainable_variables)
    return model


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


def _fit(model, config: Config, x, y, orders, epochs: int) -> list[float]:
    data = epochs_dataset(x, y, None if orders is None else orders[:epochs], config.batch)
    steps = math.ceil(len(x) / config.batch)
    history = model.fit(data, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
    return history.history["loss"]


def _reset(model, weights: list[np.ndarray], optimizer_state: list[np.ndarray]) -> None:
    model.set_weights(weights)
    for variable, value in zip(model.optimizer.variables, optimizer_state):
        variable.assign(value)


def train(
    config: Config,
    seeds: Sequence[int],
    dtype: str = "float32",
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
) -> list[RunResult]:
    """Train the runs one after another with model.fit, as a Keras user would."""
    data, params, orders = prepare(config, seeds, dtype)
    runs, n_test = len(seeds), data.x_test.shape[1]
    metrics = {
        k: np.zeros(runs) for k in ("train_loss", "test_loss", "train_time_s", "test_time_s")
    }
    curve = np.zeros((runs, config.epochs))
    final: list[list[np.ndarray]] = []
    p_train, p_test = np.zeros(data.y_train.shape), np.zeros(data.y_test.shape)
    with device_scope(device):
        start = time.perf_counter()
        model = build_model(config, dtype)
        fresh_optimizer = [v.numpy() for v in model.optimizer.variables]
        run_orders = None if orders is None else orders[0]
        _fit(model, config, data.x_train[0], data.y_train[0], run_orders, min(2, config.epochs))
        model.predict(data.x_test[0], batch_size=n_test, verbose=0)
        model.evaluate(data.x_test[0], data.y_test[0], batch_size=n_test, verbose=0)
        compile_time = time.perf_counter() - start

        for r in range(runs):
            _reset(model, [p[r] for p in params], fresh_optimizer)
            x, y = data.x_train[r], data.y_train[r]
            run_orders = None if orders is None else orders[r]
            start = time.perf_counter()
            curve[r] = _fit(model, config, x, y, run_orders, config.epochs)
            metrics["train_time_s"][r] = time.perf_counter() - start
            start = time.perf_counter()
            p_test[r] = model.predict(data.x_test[r], batch_size=n_test, verbose=0)
            metrics["test_time_s"][r] = time.perf_counter() - start
            p_train[r] = model.predict(x, batch_size=len(x), verbose=0)
            metrics["train_loss"][r] = model.evaluate(x, y, batch_size=len(x), verbose=0)
            metrics["test_loss"][r] = model.evaluate(
                data.x_test[r], data.y_test[r], batch_size=n_test, verbose=0
            )
            final.append(model.get_weights())
            if on_epoch:
                on_epoch(config.epochs)
    metrics["train_accuracy"] = accuracy(p_train, data.y_train)
    metrics["test_accuracy"] = accuracy(p_test, data.y_test)
    metrics["compile_time_s"] = np.full(runs, compile_time)
    stacked = [np.stack(parts) for parts in zip(*final)]
    return collect(seeds, curve, stacked, metrics)


def devices() -> tuple[str, ...]:
    """The CPU, and the GPU where TensorFlow sees one."""
    if keras.backend.backend() == "tensorflow" and _tf().config.list_physical_devices("GPU"):
        return ("cpu", "gpu")
    return ("cpu",)


def versions() -> dict[str, str]:
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
