"""All of training as one compiled TensorFlow function: what an expert writes when
`fit`'s per-epoch overhead dominates a tiny network.

R runs train together as a leading run axis (like the NumPy engine): weights
are (R, fan_in, fan_out) Keras variables, batches are gathered per run with
the run's own epoch order, and the gradient of the summed per-run losses is,
for each run's weights, that run's own gradient. Conventions:
- forward as Keras Dense: a @ W + b, hidden activation, sigmoid output;
- bce is tf.nn.sigmoid_cross_entropy_with_logits (what Keras uses on its
  TensorFlow backend, unclipped), mse is mean((sigmoid(z) - y)^2); gradients by
  tf.GradientTape, updates by the Keras optimizer objects themselves;
- epochs, full batches and the one short last batch are tf.range loops with
  static shapes, so the same graph compiles under XLA (engine `tf-xla`);
- timing: a 1-epoch call traces (and, for XLA, compiles) the function; that is
  compile_time_s. Weights and optimizer state are then reset and the full call
  is train_time_s; test_time_s is the compiled forward pass on the test set;
  times are per run, 1/R of the group's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from mlpbench.config import Config
from mlpbench.engines import EpochCallback, RunResult, accuracy, collect, prepare
from mlpbench.engines.keras_engine import OPTIMIZERS, device_scope

ACTIVATIONS = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu}
# each train() call builds its own function, which TensorFlow reports as "retracing"
tf.get_logger().setLevel("ERROR")


def _per_run_loss(loss: str):
    def bce(z, y):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z), [1, 2])

    def mse(z, y):
        return tf.reduce_mean(tf.square(tf.sigmoid(z) - y), [1, 2])

    return {"bce": bce, "mse": mse}[loss]


def _logits(weights, x, activation):
    a = x
    for w, b in zip(weights[0:-2:2], weights[1:-2:2]):
        a = ACTIVATIONS[activation](tf.matmul(a, w) + b[:, None, :])
    return tf.matmul(a, weights[-2]) + weights[-1][:, None, :]


def make_trainer(config: Config, weights, optimizer, shuffled: bool, xla: bool):
    """A compiled function (x, y, orders, epochs) -> per-epoch loss curve (epochs, R)."""
    loss_fn = _per_run_loss(config.loss)
    m, batch = config.train_size, config.batch
    full_batches, rest = divmod(m, batch)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            per_run = loss_fn(_logits(weights, xb, config.activation), yb)
            total = tf.reduce_sum(per_run)
        optimizer.apply(tape.gradient(total, weights), weights)
        return per_run

    @tf.function(jit_compile=xla)
    def run(x, y, orders, epochs):
        curve = tf.TensorArray(x.dtype, size=epochs)
        runs, dim = x.shape[0], x.shape[2]
        for e in tf.range(epochs):
            if shuffled:
                xe = tf.gather(x, orders[:, e], batch_dims=1)
                ye = tf.gather(y, orders[:, e], batch_dims=1)
            else:
                xe, ye = x, y
            total = tf.zeros([runs], x.dtype)
            for j in tf.range(full_batches):
                xb = tf.slice(xe, [0, j * batch, 0], [runs, batch, dim])
                yb = tf.slice(ye, [0, j * batch, 0], [runs, batch, 1])
                total += step(xb, yb) * batch
            if rest:
                total += step(xe[:, m - rest :], ye[:, m - rest :]) * rest
            curve = curve.write(e, total / m)
        return curve.stack()

    return run


def train(
    config: Config,
    seeds: Sequence[int],
    dtype: str = "float32",
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    xla: bool = False,
) -> list[RunResult]:
    """Train all runs together inside one tf.function (XLA-compiled with xla=True)."""
    data, params, orders = prepare(config, seeds, dtype)
    runs = len(seeds)
    shuffled = orders is not None
    with device_scope(device):
        weights = [keras.Variable(p, dtype=dtype) for p in params]
        optimizer = OPTIMIZERS[config.optimizer](config.lr)
        optimizer.build(weights)
        fresh_optimizer = [v.numpy() for v in optimizer.variables]
        x, y = tf.constant(data.x_train), tf.constant(data.y_train)
        order_arg = tf.constant(orders if shuffled else np.zeros((runs, 1, 1), np.int32))
        trainer = make_trainer(config, weights, optimizer, shuffled, xla)
        predict = tf.function(lambda inputs: _logits(weights, inputs, config.activation))

        start = time.perf_counter()
        trainer(x, y, order_arg, tf.constant(1))
        predict(tf.constant(data.x_test))
        compile_time = time.perf_counter() - start
        for w, p in zip(weights, params):
            w.assign(p)
        for v, value in zip(optimizer.variables, fresh_optimizer):
            v.assign(value)

        start = time.perf_counter()
        curve = trainer(x, y, order_arg, tf.constant(config.epochs)).numpy().T
        train_time = time.perf_counter() - start
        x_test = tf.constant(data.x_test)
        start = time.perf_counter()
        z_test = predict(x_test).numpy()
        test_time = time.perf_counter() - start
        z_train = predict(x).numpy()
        final = [w.numpy() for w in weights]
    loss_fn = _per_run_loss(config.loss)
    metrics = {
        "train_accuracy": accuracy(tf.sigmoid(z_train).numpy(), data.y_train),
        "test_accuracy": accuracy(tf.sigmoid(z_test).numpy(), data.y_test),
        "train_loss": loss_fn(z_train, data.y_train).numpy(),
        "test_loss": loss_fn(z_test, data.y_test).numpy(),
        "train_time_s": np.full(runs, train_time / runs),
        "test_time_s": np.full(runs, test_time / runs),
        "compile_time_s": np.full(runs, compile_time),
    }
    if on_epoch:
        on_epoch(runs * config.epochs)
    return collect(seeds, curve, final, metrics)


def devices() -> tuple[str, ...]:
    """The CPU, and the GPU where TensorFlow sees one."""
    return ("cpu", "gpu") if tf.config.list_physical_devices("GPU") else ("cpu",)


def versions() -> dict[str, str]:
    """TensorFlow, Keras (for its optimizers) and the thread pool size."""
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    return {
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow threads": str(threads),
    }
