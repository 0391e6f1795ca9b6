"""Each optimizer's update rule, written out by hand and compared step by step."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.nn.optimizers import OPTIMIZERS, adam, apply_updates, rmsprop, sgd


def _trajectory(opt, params, grads_seq):
    state = opt.init(params)
    for g in grads_seq:
        updates, state = opt.update(g, state)
        params = apply_updates(params, updates)
    return params


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(2, 3)), rng.normal(size=(2,))]
    grads = [[rng.normal(size=(2, 3)), rng.normal(size=(2,))] for _ in range(5)]
    return params, grads


def test_sgd_rule(problem):
    params, grads = problem
    lr = 0.3
    want = [p.copy() for p in params]
    for g in grads:
        want = [w - lr * gi for w, gi in zip(want, g)]
    got = _trajectory(sgd(lr), params, grads)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_rmsprop_rule_has_epsilon_inside_the_root(problem):
    params, grads = problem
    lr, rho, eps = 0.01, 0.9, 1e-7
    want = [p.copy() for p in params]
    v = [np.zeros_like(p) for p in params]
    for g in grads:
        v = [rho * vi + (1 - rho) * gi**2 for vi, gi in zip(v, g)]
        want = [w - lr * gi / np.sqrt(vi + eps) for w, gi, vi in zip(want, g, v)]
    got = _trajectory(rmsprop(lr), params, grads)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_adam_rule_has_bias_correction_in_the_step_size(problem):
    params, grads = problem
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    want = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, g in enumerate(grads, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi**2 for vi, gi in zip(v, g)]
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        want = [w - alpha * mi / (np.sqrt(vi) + eps) for w, mi, vi in zip(want, m, v)]
    got = _trajectory(adam(lr), params, grads)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_adam_first_step_moves_each_weight_by_about_lr():
    # with bias correction the first step is lr * g / (|g| + eps'), i.e. ~lr in magnitude
    params = [np.zeros(3)]
    updates, _ = adam(0.01).update([np.array([5.0, -0.2, 1e-3])], adam(0.01).init(params))
    np.testing.assert_allclose(np.abs(updates[0]), 0.01, rtol=5e-3)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_stays_float32(name):
    params = [np.ones((2, 3), dtype=np.float32)]
    opt = OPTIMIZERS[name](0.1)
    updates, state = opt.update([np.full((2, 3), 0.5, dtype=np.float32)], opt.init(params))
    assert updates[0].dtype == np.float32
    arrays = [a for part in state if isinstance(part, list) for a in part]
    if name == "sgd":
        assert state == ()  # plain SGD keeps no state at all
    else:
        assert arrays and all(a.dtype == np.float32 for a in arrays)
