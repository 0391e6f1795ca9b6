"""Keras 3 optimizers as pure (init, update) pairs, optax style.

`update(grads, state) -> (updates, state)`; the caller applies
`param + update`. Each rule below is the one in keras/src/optimizers, with
Keras' defaults, and scalar coefficients are computed in the parameters'
float width as Keras does (beta powers in float32 for a float32 model).

- sgd:     p <- p - lr * g
- rmsprop: v <- rho * v + (1 - rho) * g^2;  p <- p - lr * g / sqrt(v + eps)
           (epsilon inside the square root)
- adam:    t <- t + 1;  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
           m <- m + (g - m) * (1 - beta_1);  v <- v + (g^2 - v) * (1 - beta_2)
           p <- p - alpha * m / (sqrt(v) + eps)
           (bias correction folded into alpha, epsilon outside the root:
           Kingma & Ba's "epsilon hat" form)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from mlpbench.nn.model import Params


RMSPROP_RHO = 0.9
ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
EPSILON = 1e-7


class Optimizer(NamedTuple):
    """A pair of pure functions over lists of parameter-shaped arrays."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any], tuple[Params, Any]]


class SgdState(NamedTuple):
    """Plain SGD keeps no state."""


class RmsPropState(NamedTuple):
    """Running mean of squared gradients."""

    velocity: Params


class AdamState(NamedTuple):
    """Step count and first and second moment estimates."""

    count: int
    m: Params
    v: Params


def _zeros_like(params: Params) -> Params:
    return [np.zeros_like(p) for p in params]


def _scalar(params: Params) -> type:
    """Constructor for scalars in the parameters' float width."""
    return params[0].dtype.type


def sgd(lr: float) -> Optimizer:
    """Gradient descent without momentum (Keras SGD defaults)."""

    def init(params: Params) -> SgdState:
        return SgdState()

    def update(grads: Params, state: SgdState) -> tuple[Params, SgdState]:
        f = _scalar(grads)
        return [-(g * f(lr)) for g in grads], state

    return Optimizer(init, update)


def rmsprop(lr: float, rho: float = RMSPROP_RHO, eps: float = EPSILON) -> Optimizer:
    """RMSProp without momentum or centring (Keras defaults)."""

    def init(params: Params) -> RmsPropState:
        return RmsPropState(_zeros_like(params))

    def update(grads: Params, state: RmsPropState) -> tuple[Params, RmsPropState]:
        f = _scalar(grads)
        velocity = [f(rho) * v + f(1 - rho) * g * g for g, v in zip(grads, state.velocity)]
        updates = [-(f(lr) * g / np.sqrt(v + f(eps))) for g, v in zip(grads, velocity)]
        return updates, RmsPropState(velocity)

    return Optimizer(init, update)


def adam(
    lr: float, beta_1: float = ADAM_BETA_1, beta_2: float = ADAM_BETA_2, eps: float = EPSILON
) -> Optimizer:
    """Adam without amsgrad (Keras defaults)."""

    def init(params: Params) -> AdamState:
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(grads: Params, state: AdamState) -> tuple[Params, AdamState]:
        f = _scalar(grads)
        count = state.count + 1
        t = f(count)
        alpha = f(lr) * np.sqrt(f(1) - f(beta_2) ** t) / (f(1) - f(beta_1) ** t)
        m = [mi + (g - mi) * f(1 - beta_1) for g, mi in zip(grads, state.m)]
        v = [vi + (g * g - vi) * f(1 - beta_2) for g, vi in zip(grads, state.v)]
        updates = [-(mi * alpha / (np.sqrt(vi) + f(eps))) for mi, vi in zip(m, v)]
        return updates, AdamState(count, m, v)

    return Optimizer(init, update)


OPTIMIZERS: dict[str, Callable[[float], Optimizer]] = {
    "sgd": sgd,
    "rmsprop": rmsprop,
    "adam": adam,
}


def apply_updates(params: Params, updates: Params) -> Params:
    """New parameters p + u, shapes checked so no run axis broadcasts silently."""
    for p, u in zip(params, updates, strict=True):
        if p.shape != u.shape:
            raise ValueError(f"update shape {u.shape} does not match parameter {p.shape}")
    return [p + u for p, u in zip(params, updates)]
