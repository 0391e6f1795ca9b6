"""Keras 3 optimizers as pure (init, update) pairs, optax style.

`update(grads, state) -> (updates, state)`; the caller applies
`param + update`. The rules are written over an array namespace `xp` (NumPy
here; the JAX engine passes jax.numpy, and a traced per-run rate), so one
text of each rule serves both. Each rule below is the one in keras/src/optimizers (read
from Keras 3.15's source), with Keras' defaults, and scalar coefficients are
computed in the parameters' float width as Keras does (beta powers in
float32 for a float32 model). With t the update's number from 1 and g the
gradient:

- sgd:     m <- momentum * m - lr * g;  p <- p + m, or with nesterov
           p <- p + momentum * m - lr * g (plain p <- p - lr * g at momentum 0)
- rmsprop: v <- rho * v + (1 - rho) * g^2;  centered: a <- rho * a + (1 - rho) * g,
           d = v - a^2 + eps, else d = v + eps (epsilon inside the root);
           i = lr * g / sqrt(d);  p <- p - i, or with momentum m <- momentum * m + i,
           p <- p - m
- adam:    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
           m <- m + (g - m) * (1 - beta_1);  v <- v + (g^2 - v) * (1 - beta_2)
           amsgrad: v^ <- max(v^, v) replaces v below
           p <- p - alpha * m / (sqrt(v) + eps)  (Kingma & Ba's "epsilon hat" form)
- adamw:   adam with weight decay 0.004 by default
- adagrad: a <- a + g^2 (a starts at initial_accumulator, 0.1);
           p <- p - lr * g / sqrt(a + eps)
- adamax:  m <- m + (g - m) * (1 - beta_1);  u <- max(beta_2 * u, |g|)
           p <- p - lr * m / ((1 - beta_1^t) * (u + eps))
- nadam:   mu_t = beta_1 * (1 - 0.5 * 0.96^t);  P_t = P_(t-1) * beta_1 * (1 - 0.5 * 0.96^t)
           (the running product of mu, P_0 = 1); m and v as adam's;
           m^ = mu_(t+1) * m / (1 - P_t * mu_(t+1)) + (1 - mu_t) * g / (1 - P_t)
           p <- p - lr * m^ / (sqrt(v / (1 - beta_2^t)) + eps)
- lion:    p <- p - lr * sign(beta_1 * m + (1 - beta_1) * g);
           m <- beta_2 * m + (1 - beta_2) * g  (beta_2 0.99 by default)

Weight decay, on every optimizer, is Keras 3's decoupled form: before each
update every parameter (biases included) becomes p - p * weight_decay * lr,
and the update is computed from the gradient taken before it (decayed()).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from mlpbench.nn.model import Params


class Settings(NamedTuple):
    """Every optimizer's settings, at Keras 3's defaults (where one optimizer's default
    differs, its Rule says so)."""

    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.9
    centered: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    amsgrad: bool = False
    epsilon: float = 1e-7
    initial_accumulator: float = 0.1
    weight_decay: float = 0.0


DEFAULTS = Settings()
NADAM_DECAY = 0.96  # Keras' fixed momentum-schedule base in Nadam


class Optimizer(NamedTuple):
    """A pair of pure functions over lists of parameter-shaped arrays."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any], tuple[Params, Any]]


def _zeros(params: Params, xp: Any) -> Params:
    return [xp.zeros_like(p) for p in params]


def _moment(values: Params, old: Params, beta: float, f: Callable[[Any], Any]) -> Params:
    """Keras' running moment, old + (value - old) * (1 - beta), one per parameter."""
    return [o + (v - o) * f(1 - beta) for v, o in zip(values, old)]


def _scalar(arrays: Params, xp: Any) -> Callable[[Any], Any]:
    """Constructor for scalars in the arrays' float width."""
    dtype = arrays[0].dtype
    return lambda v: xp.asarray(v, dtype)


class SgdState(NamedTuple):
    """The momentum buffer (empty at momentum 0)."""

    m: Params


def sgd(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Gradient descent, with momentum and Nesterov's look-ahead when asked."""

    def init(params: Params) -> SgdState:
        return SgdState(_zeros(params, xp) if s.momentum else [])

    def update(grads: Params, state: SgdState) -> tuple[Params, SgdState]:
        f = _scalar(grads, xp)
        if not s.momentum:
            return [-(g * f(lr)) for g in grads], state
        mu = f(s.momentum)
        m = [mi * mu - g * f(lr) for g, mi in zip(grads, state.m)]
        if s.nesterov:
            return [mi * mu - g * f(lr) for g, mi in zip(grads, m)], SgdState(m)
        return m, SgdState(m)

    return Optimizer(init, update)


class RmsPropState(NamedTuple):
    """Running means of squared gradients and (centered) of gradients; momentum buffer."""

    velocity: Params
    average: Params
    m: Params


def rmsprop(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """RMSProp, centred and with momentum when asked."""

    def init(params: Params) -> RmsPropState:
        return RmsPropState(_zeros(params, xp), _zeros(params, xp) if s.centered else [],
                            _zeros(params, xp) if s.momentum else [])  # fmt: skip

    def update(grads: Params, state: RmsPropState) -> tuple[Params, RmsPropState]:
        f = _scalar(grads, xp)
        rho, rest, eps = f(s.rho), f(1 - s.rho), f(s.epsilon)
        velocity = [rho * v + rest * g * g for g, v in zip(grads, state.velocity)]
        average = [rho * a + rest * g for g, a in zip(grads, state.average)]
        if s.centered:
            denominators = [v - a * a + eps for v, a in zip(velocity, average)]
        else:
            denominators = [v + eps for v in velocity]
        steps = [f(lr) * g / xp.sqrt(d) for g, d in zip(grads, denominators)]
        m = [f(s.momentum) * mi + i for mi, i in zip(state.m, steps)]
        return [-i for i in (m if s.momentum else steps)], RmsPropState(velocity, average, m)

    return Optimizer(init, update)


class AdamState(NamedTuple):
    """Step count, first and second moment estimates, and (amsgrad) the largest second."""

    count: Any
    m: Params
    v: Params
    v_max: Params


def adam(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Adam, with amsgrad when asked."""

    def init(params: Params) -> AdamState:
        return AdamState(xp.zeros((), xp.int64), _zeros(params, xp), _zeros(params, xp),
                         _zeros(params, xp) if s.amsgrad else [])  # fmt: skip

    def update(grads: Params, state: AdamState) -> tuple[Params, AdamState]:
        f = _scalar(grads, xp)
        count = state.count + 1
        t = f(count)
        alpha = f(lr) * xp.sqrt(f(1) - f(s.beta_2) ** t) / (f(1) - f(s.beta_1) ** t)
        m = _moment(grads, state.m, s.beta_1, f)
        v = _moment([g * g for g in grads], state.v, s.beta_2, f)
        v_max = [xp.maximum(a, b) for a, b in zip(state.v_max, v)]
        used = v_max if s.amsgrad else v
        updates = [-(mi * alpha / (xp.sqrt(vi) + f(s.epsilon))) for mi, vi in zip(m, used)]
        return updates, AdamState(count, m, v, v_max)

    return Optimizer(init, update)


class AdagradState(NamedTuple):
    """Sum of squared gradients, from initial_accumulator."""

    accumulator: Params


def adagrad(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Adagrad: each weight's rate shrinks with the gradients it has seen."""

    def init(params: Params) -> AdagradState:
        return AdagradState([xp.full_like(p, s.initial_accumulator) for p in params])

    def update(grads: Params, state: AdagradState) -> tuple[Params, AdagradState]:
        f = _scalar(grads, xp)
        acc = [a + g * g for g, a in zip(grads, state.accumulator)]
        return ([-(f(lr) * g / xp.sqrt(a + f(s.epsilon))) for g, a in zip(grads, acc)],
                AdagradState(acc))  # fmt: skip

    return Optimizer(init, update)


class AdamaxState(NamedTuple):
    """Step count, first moment and the decaying largest gradient."""

    count: Any
    m: Params
    u: Params


def adamax(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Adamax: Adam with the infinity norm in place of the second moment."""

    def init(params: Params) -> AdamaxState:
        return AdamaxState(xp.zeros((), xp.int64), _zeros(params, xp), _zeros(params, xp))

    def update(grads: Params, state: AdamaxState) -> tuple[Params, AdamaxState]:
        f = _scalar(grads, xp)
        count = state.count + 1
        correction = f(1) - f(s.beta_1) ** f(count)
        m = _moment(grads, state.m, s.beta_1, f)
        u = [xp.maximum(f(s.beta_2) * ui, xp.abs(g)) for g, ui in zip(grads, state.u)]
        updates = [-(f(lr) * mi / (correction * (ui + f(s.epsilon)))) for mi, ui in zip(m, u)]
        return updates, AdamaxState(count, m, u)

    return Optimizer(init, update)


class NadamState(NamedTuple):
    """Step count, the running product of the momentum schedule, and Adam's moments."""

    count: Any
    product: Any
    m: Params
    v: Params


def nadam_schedule(f: Callable[[Any], Any], beta_1: float, t: Any) -> Any:
    """Nadam's momentum at step t, beta_1 * (1 - 0.5 * 0.96^t), in f's float width."""
    return f(beta_1) * (f(1) - f(0.5) * f(NADAM_DECAY) ** t)


def nadam(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Nadam: Adam with Nesterov momentum, on Keras' momentum schedule."""

    def init(params: Params) -> NadamState:
        one = _scalar(params, xp)(1)
        return NadamState(xp.zeros((), xp.int64), one, _zeros(params, xp), _zeros(params, xp))

    def update(grads: Params, state: NadamState) -> tuple[Params, NadamState]:
        f = _scalar(grads, xp)
        count = state.count + 1
        t, b1, b2 = f(count), f(s.beta_1), f(s.beta_2)
        # Keras updates the product first, as product * beta_1 * (1 - 0.5 * 0.96^t)
        product = state.product * b1 * (f(1) - f(0.5) * f(NADAM_DECAY) ** t)
        mu, mu_next = nadam_schedule(f, s.beta_1, t), nadam_schedule(f, s.beta_1, f(count + 1))
        product_next = product * mu_next
        m = _moment(grads, state.m, s.beta_1, f)
        v = _moment([g * g for g in grads], state.v, s.beta_2, f)
        power = b2**t
        updates = []
        for g, mi, vi in zip(grads, m, v):
            m_hat = mu_next * mi / (f(1) - product_next) + (f(1) - mu) * g / (f(1) - product)
            updates.append(-(m_hat * f(lr) / (xp.sqrt(vi / (f(1) - power)) + f(s.epsilon))))
        return updates, NadamState(count, product, m, v)

    return Optimizer(init, update)


class LionState(NamedTuple):
    """The momentum buffer."""

    m: Params


def lion(lr: Any, s: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """Lion: a step of lr in the sign of an interpolated momentum."""

    def init(params: Params) -> LionState:
        return LionState(_zeros(params, xp))

    def update(grads: Params, state: LionState) -> tuple[Params, LionState]:
        f = _scalar(grads, xp)
        b1, b2 = f(s.beta_1), f(s.beta_2)
        updates = [-(f(lr) * xp.sign(mi * b1 + g * f(1 - s.beta_1)))
                   for g, mi in zip(grads, state.m)]  # fmt: skip
        m = [mi * b2 + g * f(1 - s.beta_2) for g, mi in zip(grads, state.m)]
        return updates, LionState(m)

    return Optimizer(init, update)


class Rule(NamedTuple):
    """An optimizer: its builder, the settings it reads, and its defaults unlike Settings'
    as (name, value) pairs."""

    build: Callable[..., Optimizer]
    uses: tuple[str, ...]
    defaults: tuple[tuple[str, Any], ...] = ()


_ADAM = ("beta_1", "beta_2", "epsilon")
OPTIMIZERS: dict[str, Rule] = {
    "sgd": Rule(sgd, ("momentum", "nesterov")),
    "rmsprop": Rule(rmsprop, ("rho", "momentum", "centered", "epsilon")),
    "adam": Rule(adam, (*_ADAM, "amsgrad")),
    "adamw": Rule(adam, (*_ADAM, "amsgrad"), (("weight_decay", 0.004),)),
    "adagrad": Rule(adagrad, ("initial_accumulator", "epsilon")),
    "adamax": Rule(adamax, _ADAM),
    "nadam": Rule(nadam, _ADAM),
    "lion": Rule(lion, ("beta_1", "beta_2"), (("beta_2", 0.99),)),
}
EVERY_OPTIMIZER = ("weight_decay",)  # settings every optimizer reads


def default(optimizer: str, name: str) -> Any:
    """Keras' default of one setting for one optimizer."""
    return dict(OPTIMIZERS[optimizer].defaults).get(name, getattr(DEFAULTS, name))


def at_default(optimizer: str, name: str, value: Any) -> bool:
    """Whether a setting is not given (None) or given at the optimizer's own default."""
    return value is None or value == default(optimizer, name)


def uses(optimizer: str, name: str) -> bool:
    """Whether the optimizer reads this setting."""
    return name in EVERY_OPTIMIZER or name in OPTIMIZERS[optimizer].uses


def resolve(optimizer: str, given: dict[str, Any]) -> Settings:
    """The settings an optimizer trains with: those given (None: not given) over its defaults."""
    values = {n: default(optimizer, n) if given.get(n) is None else given[n]
              for n in Settings._fields}  # fmt: skip
    # numbers as floats (Keras refuses an integer momentum), switches as they are
    return Settings(**{n: v if isinstance(v, bool) else float(v) for n, v in values.items()})


def build(optimizer: str, lr: Any, settings: Settings = DEFAULTS, xp: Any = np) -> Optimizer:
    """The named optimizer's pure pair at these settings."""
    return OPTIMIZERS[optimizer].build(lr, settings, xp)


def decayed(params: Params, weight_decay: float, lr: Any, xp: Any = np) -> Params:
    """Keras 3's decoupled weight decay, p - p * wd * lr, applied before an update."""
    if not weight_decay:
        return params
    f = _scalar(params, xp)
    return [p - p * f(weight_decay) * f(lr) for p in params]


def apply_updates(params: Params, updates: Params) -> Params:
    """New parameters p + u, shapes checked so no run axis broadcasts silently."""
    for p, u in zip(params, updates, strict=True):
        if p.shape != u.shape:
            raise ValueError(f"update shape {u.shape} does not match parameter {p.shape}")
    return [p + u for p, u in zip(params, updates)]
