"""JAX: the whole training of every run as one compiled program, on the CPU or a GPU.

One run's training is `lax.scan` over epochs, each a `lax.scan` over its
mini-batches (the short last batch, when B does not divide m, is one more
step with its own static shape); `vmap` maps it over the run axis, learning
rate included, so a learning-rate x seed grid is one program. Conventions:
- forward as Keras Dense: a @ W + b, hidden activation, output logit; every
  matrix product at precision HIGHEST, so a GPU never rounds float32
  operands to TF32;
- bce is softplus(z) - z*y = max(z, 0) - z*y + log1p(e^-|z|) on the logit,
  unclipped (the TensorFlow rule, as losses.py); cce is logsumexp(z) - sum(y z)
  over k >= 3 softmax outputs; mse is mean((p - y)^2) of the sigmoid's or
  softmax's p; gradients by jax.value_and_grad of the batch mean;
- optimizers are Keras 3's rules, the very text of optimizers.py run over
  jax.numpy with the run's traced rate, every constant cast to the
  parameters' float width (so a float32 run stays float32); weight decay
  likewise (optimizers.decayed); with a schedule, update s (counted in the
  scan's carry) rebuilds the rule at rate lr * factors[s], both in the run's
  float width, as the numba engine multiplies them;
- a weight penalty (regularizers.value of one run) is added to the batch mean before
  value_and_grad differentiates it, and carried apart for the penalty curve;
- float32 by default; float64 works because x64 is enabled when this module
  is imported (every array here is given its dtype explicitly);
- the per-epoch loss is the sample-weighted mean of the batch losses, each
  before its update, summed in the run's float width;
- compile() moves nothing but compiles ahead of time (`lower().compile()`)
  for the shapes at hand; fit() is host-to-device transfer, training and
  the transfer back, which is what a user waits for.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from jax import lax

from mlpbench.config.core import Config
from mlpbench.engines.base import Engine, EpochCallback, Fit, Problem, Trainer
from mlpbench.nn import activations, optimizers, regularizers
from mlpbench.nn.activations import SELU_ALPHA, SELU_SCALE

jax.config.update("jax_enable_x64", True)

# each hidden activation of (z, leaky_relu's slope); leaky_relu and selu written out, as
# jax.nn's derivatives at z = 0 differ from TensorFlow's (and ours): leaky_relu 1 for the slope,
# selu its scale times alpha for its scale
ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": lambda z, s: jax.nn.sigmoid(z), "tanh": lambda z, s: jnp.tanh(z),
    "relu": lambda z, s: jax.nn.relu(z), "linear": lambda z, s: z,
    "leaky_relu": lambda z, s: jnp.where(z > 0, z, s * z), "elu": lambda z, s: jax.nn.elu(z),
    "selu": lambda z, s: jnp.where(z >= 0, SELU_SCALE * z, SELU_SCALE * SELU_ALPHA * jnp.expm1(
        jnp.minimum(z, 0))), "gelu": lambda z, s: jax.nn.gelu(z, approximate=False),
    "silu": lambda z, s: jax.nn.silu(z), "softplus": lambda z, s: jax.nn.softplus(z),
    "sin": lambda z, s: jnp.sin(z),
}  # fmt: skip


def _bce(z, y):
    # softplus(z) = max(z, 0) + log1p(e^-|z|), with a derivative (the sigmoid) that is
    # right at z = 0 too: differentiating max and abs there gives -y instead of 1/2 - y
    return jnp.mean(jax.nn.softplus(z) - z * y)


def _cce(z, y):
    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1))


def _mse(z, y):
    p = jax.nn.sigmoid(z) if z.shape[-1] == 1 else jax.nn.softmax(z, axis=-1)
    return jnp.mean(jnp.square(p - y))


LOSSES: dict[str, Callable] = {"bce": _bce, "cce": _cce, "mse": _mse}


def logits_one(params, x, config: Config):
    """One run's output logits (count, 1)."""
    act, s = ACTIVATIONS[config.activation], activations.slope(config.negative_slope)
    a = x
    for w, b in zip(params[0:-2:2], params[1:-2:2]):
        a = act(jnp.matmul(a, w, precision=lax.Precision.HIGHEST) + b, s)
    return jnp.matmul(a, params[-2], precision=lax.Precision.HIGHEST) + params[-1]


def make_train(config: Config, shuffled: bool, scheduled: bool) -> Callable:
    """(params, x, y, orders, lr, factors) of R runs -> (final params, data loss and penalty
    curves (R, epochs)); factors, the schedule's, are shared by the runs."""
    loss = LOSSES[config.loss]
    settings, penalty = config.settings, config.penalty
    m, batch = config.train_size, config.batch
    full_batches, rest = divmod(m, batch)

    def batch_loss(params, xb, yb):
        value = loss(logits_one(params, xb, config), yb)
        extra = jnp.zeros_like(value)
        if penalty is not None:
            extra = regularizers.value(params, penalty, jnp, run_axis=False)
        return value + extra, (value, extra)

    value_and_grad = jax.value_and_grad(batch_loss, has_aux=True)

    def train_one(params, x, y, orders, lr, factors):
        optimizer = optimizers.build(config.optimizer, lr, settings, jnp)

        def step(carry, batch_xy):
            params, state, s = carry
            (_, values), grads = value_and_grad(params, *batch_xy)
            rate = lr * factors[s] if scheduled else lr
            rule = optimizer
            if scheduled:  # the rule at this update's rate; its state goes on
                rule = optimizers.build(config.optimizer, rate, settings, jnp)
            updates, state = rule.update(grads, state)
            params = optimizers.decayed(params, settings.weight_decay, rate, jnp)
            return ([p + u for p, u in zip(params, updates)], state, s + 1), jnp.stack(values)

        def epoch(carry, order):
            xe, ye = (x[order], y[order]) if shuffled else (x, y)
            head = full_batches * batch
            batches = (xe[:head].reshape(full_batches, batch, -1),
                       ye[:head].reshape(full_batches, batch, -1))  # fmt: skip
            carry, values = lax.scan(step, carry, batches)  # (batches, 2): loss, penalty
            total = jnp.sum(values, axis=0) * batch
            if rest:
                carry, value = step(carry, (xe[head:], ye[head:]))
                total = total + value * rest
            return carry, total / m

        carry = (params, optimizer.init(params), jnp.zeros((), jnp.int32))
        xs = orders if shuffled else None
        (params, _, _), curves = lax.scan(epoch, carry, xs, length=config.epochs)
        return params, curves[:, 0], curves[:, 1]

    return jax.vmap(train_one, in_axes=(0, 0, 0, 0 if shuffled else None, 0, None))


def _device(device: str):
    return jax.devices("gpu" if device == "gpu" else "cpu")[0]


class JaxTrainer(Trainer):
    """The training program compiled ahead of time for these shapes and this device."""

    def __init__(self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str):
        data, params, orders, factors = problem[:4]
        self.device, self.activation = _device(device), config.activation
        self.penalized = config.penalty
        shuffled = orders is not None
        self.host_args = (params, data.x_train, data.y_train,
                          orders if shuffled else np.zeros((), np.int32),
                          np.asarray(lrs, dtype=dtype),
                          np.ones(1, dtype) if factors is None
                          else factors.astype(dtype))  # fmt: skip
        args = jax.device_put(self.host_args, self.device)
        train = make_train(config, shuffled, factors is not None)
        self.train = jax.jit(train).lower(*args).compile()
        predict = jax.jit(jax.vmap(lambda p, x: logits_one(p, x, config)))
        self.predict = {
            x.shape: predict.lower(args[0], jax.device_put(x, self.device)).compile()
            for x in (data.x_train, data.x_test)
        }
        self.params = None

    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """Inputs to the device, the compiled program, results back."""
        args = jax.device_put(self.host_args, self.device)
        params, curve, penalty = jax.block_until_ready(self.train(*args))
        self.params = params
        curve = np.asarray(curve)
        if on_epoch:
            on_epoch(curve.size)
        penalty = None if self.penalized is None else np.asarray(penalty)
        return Fit(curve, [np.asarray(p) for p in params], None, penalty)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The compiled forward pass of every run."""
        z = self.predict[x.shape](self.params, jax.device_put(x, self.device))
        return np.asarray(z)


class JaxEngine(Engine):
    """jit + lax.scan + vmap; CPU, or the GPU where JAX sees one."""

    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Trace and compile training and prediction for these shapes, ahead of time."""
        return JaxTrainer(config, problem, lrs, dtype, device)

    def devices(self) -> tuple[str, ...]:
        """The CPU, and the GPU where JAX sees one."""
        try:
            return ("cpu", "gpu") if jax.devices("gpu") else ("cpu",)
        except RuntimeError:  # no GPU backend in this jaxlib
            return ("cpu",)

    def versions(self) -> dict[str, str]:
        """JAX, jaxlib and the devices it sees."""
        kinds = sorted({d.device_kind for d in jax.devices()})
        return {"numpy": np.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                "jax backend": jax.default_backend(), "jax devices": ", ".join(kinds)}  # fmt: skip


ENGINE = JaxEngine()
