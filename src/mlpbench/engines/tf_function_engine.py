"""All of training as one compiled TensorFlow function: what an expert writes when
`fit`'s per-epoch overhead dominates a tiny network.

R runs train together as a leading run axis (like the NumPy engine): weights
are (R, fan_in, fan_out) Keras variables, batches are gathered per run with
the run's own epoch order, and the gradient of the summed per-run losses is,
for each run's weights, that run's own gradient. Conventions:
- forward as Keras Dense: a @ W + b, hidden activation, sigmoid output (or a
  softmax over k >= 3 outputs);
- bce is tf.nn.sigmoid_cross_entropy_with_logits and cce
  tf.nn.softmax_cross_entropy_with_logits (what Keras uses on its TensorFlow
  backend, unclipped), mse is mean((p - y)^2) of the sigmoid's or softmax's p;
  gradients by tf.GradientTape, updates by the Keras optimizer objects themselves;
- a weight penalty, l1 sum |W| + l2 sum W^2 of each run's kernels, is added to
  that run's batch loss before the tape differentiates it, and returned apart;
- epochs, full batches and the one short last batch are tf.range loops with
  static shapes, so the same graph compiles under XLA (engine `tf-xla`);
- timing: compile() makes a 1-epoch call that traces (and, for XLA, compiles)
  the function, then resets weights and optimizer state; fit() is the full
  call; the harness times both and the forward pass on the test set.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from mlpbench.config.core import Config
from mlpbench.engines.base import Engine, EpochCallback, Fit, Problem, Trainer
from mlpbench.engines.keras_engine import device_scope, make_optimizer
from mlpbench.nn import activations, regularizers

# each hidden activation of (z, leaky_relu's slope), as Keras' TensorFlow backend computes it
# but leaky_relu, whose TensorFlow op holds the slope in float32 even in float64 runs
ACTIVATIONS = {
    "sigmoid": lambda z, s: tf.sigmoid(z), "tanh": lambda z, s: tf.tanh(z),
    "relu": lambda z, s: tf.nn.relu(z), "linear": lambda z, s: z,
    "leaky_relu": lambda z, s: tf.where(z > 0, z, tf.cast(s, z.dtype) * z),
    "elu": lambda z, s: tf.nn.elu(z),
    "selu": lambda z, s: tf.nn.selu(z), "gelu": lambda z, s: tf.nn.gelu(z, approximate=False),
    "silu": lambda z, s: tf.nn.silu(z), "softplus": lambda z, s: tf.math.softplus(z),
    "sin": lambda z, s: tf.sin(z),
}  # fmt: skip
# each train() call builds its own function, which TensorFlow reports as "retracing"
tf.get_logger().setLevel("ERROR")


def _per_run_loss(loss: str, outputs: int):
    def bce(z, y):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z), [1, 2])

    def cce(z, y):
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z), [1])

    def mse(z, y):
        p = tf.sigmoid(z) if outputs == 1 else tf.nn.softmax(z)
        return tf.reduce_mean(tf.square(p - y), [1, 2])

    return {"bce": bce, "cce": cce, "mse": mse}[loss]


def _logits(weights, x, config: Config):
    act, s = ACTIVATIONS[config.activation], activations.slope(config.negative_slope)
    a = x
    for w, b in zip(weights[0:-2:2], weights[1:-2:2]):
        a = act(tf.matmul(a, w) + b[:, None, :], s)
    return tf.matmul(a, weights[-2]) + weights[-1][:, None, :]


def make_trainer(config: Config, weights, optimizer, shuffled: bool, xla: bool):
    """A compiled function (x, y, orders, epochs) -> per-epoch data loss and penalty curves,
    each (epochs, R)."""
    outputs = config.layer_sizes[-1]
    loss_fn = _per_run_loss(config.loss, outputs)
    penalty = config.penalty
    m, batch = config.train_size, config.batch
    full_batches, rest = divmod(m, batch)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            per_run = loss_fn(_logits(weights, xb, config), yb)
            penalties = tf.zeros_like(per_run)
            if penalty is not None:
                penalties = regularizers.value(weights, penalty, tf.experimental.numpy)
            total = tf.reduce_sum(per_run + penalties)
        optimizer.apply(tape.gradient(total, weights), weights)
        return per_run, penalties

    @tf.function(jit_compile=xla)
    def run(x, y, orders, epochs):
        curve = tf.TensorArray(x.dtype, size=epochs)
        penalty_curve = tf.TensorArray(x.dtype, size=epochs)
        runs, dim = x.shape[0], x.shape[2]
        for e in tf.range(epochs):
            if shuffled:
                xe = tf.gather(x, orders[:, e], batch_dims=1)
                ye = tf.gather(y, orders[:, e], batch_dims=1)
            else:
                xe, ye = x, y
            total, penalized = tf.zeros([runs], x.dtype), tf.zeros([runs], x.dtype)
            for j in tf.range(full_batches):
                xb = tf.slice(xe, [0, j * batch, 0], [runs, batch, dim])
                yb = tf.slice(ye, [0, j * batch, 0], [runs, batch, outputs])
                value, extra = step(xb, yb)
                total, penalized = total + value * batch, penalized + extra * batch
            if rest:
                value, extra = step(xe[:, m - rest :], ye[:, m - rest :])
                total, penalized = total + value * rest, penalized + extra * rest
            curve = curve.write(e, total / m)
            penalty_curve = penalty_curve.write(e, penalized / m)
        return curve.stack(), penalty_curve.stack()

    return run


class TfTrainer(Trainer):
    """Keras variables for every run, and the traced training and prediction functions."""

    def __init__(self, config: Config, problem: Problem, dtype: str, device: str, xla: bool):
        data, params, orders, factors = problem[:4]
        runs = len(params[0])
        shuffled = orders is not None
        self.config, self.device = config, device
        with device_scope(device):
            self.weights = [keras.Variable(p, dtype=dtype) for p in params]
            optimizer = make_optimizer(config, config.lr, factors, dtype)
            optimizer.build(self.weights)
            fresh_optimizer = [v.numpy() for v in optimizer.variables]
            self.x, self.y = tf.constant(data.x_train), tf.constant(data.y_train)
            self.orders = tf.constant(orders if shuffled else np.zeros((runs, 1, 1), np.int32))
            self.trainer = make_trainer(config, self.weights, optimizer, shuffled, xla)
            self.predict = tf.function(lambda x: _logits(self.weights, x, config))
            self.trainer(self.x, self.y, self.orders, tf.constant(1))  # trace (and compile)
            self.predict(tf.constant(data.x_test))
            for w, p in zip(self.weights, params):
                w.assign(p)
            for v, value in zip(optimizer.variables, fresh_optimizer):
                v.assign(value)

    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """The whole loop in one call."""
        with device_scope(self.device):
            curve, penalty = self.trainer(self.x, self.y, self.orders,
                                          tf.constant(self.config.epochs))  # fmt: skip
            curve, penalty = curve.numpy().T, penalty.numpy().T
        if on_epoch:
            on_epoch(curve.shape[0] * self.config.epochs)
        penalty = None if self.config.penalty is None else penalty
        return Fit(curve, [w.numpy() for w in self.weights], None, penalty)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The traced forward pass."""
        with device_scope(self.device):
            return self.predict(tf.constant(x)).numpy()


class TfFunctionEngine(Engine):
    """All runs in one tf.function; XLA-compiled when xla is set."""

    def __init__(self, xla: bool = False):
        self.xla = xla

    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Trace (and with XLA compile) a 1-epoch call, then reset weights and optimizer."""
        return TfTrainer(config, problem, dtype, device, self.xla)

    def devices(self) -> tuple[str, ...]:
        """The CPU, and the GPU where TensorFlow sees one."""
        return ("cpu", "gpu") if tf.config.list_physical_devices("GPU") else ("cpu",)

    def versions(self) -> dict[str, str]:
        """TensorFlow, Keras (for its optimizers) and the thread pool size."""
        threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
        return {
            "numpy": np.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "tensorflow threads": str(threads),
        }


ENGINE = TfFunctionEngine()
