"""Each optimizer's update rule, written out by hand and compared step by step."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.nn.optimizers import (
    OPTIMIZERS,
    Settings,
    SgdState,
    adagrad,
    adam,
    adamax,
    apply_updates,
    build,
    decayed,
    lion,
    nadam,
    resolve,
    rmsprop,
    sgd,
)


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


# every switch on, so every buffer an optimizer can keep is made
EVERY_SWITCH = {"sgd": {"momentum": 0.9, "nesterov": True},
                "rmsprop": {"momentum": 0.5, "centered": True},
                "adam": {"amsgrad": True}, "adamw": {"amsgrad": True}}  # fmt: skip


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_stays_float32(name):
    params = [np.ones((2, 3), dtype=np.float32)]
    settings = resolve(name, EVERY_SWITCH.get(name, {}) | {"weight_decay": 0.1})
    opt = build(name, 0.1, settings)
    state = opt.init(params)
    for _ in range(2):
        updates, state = opt.update([np.full((2, 3), 0.5, dtype=np.float32)], state)
    assert updates[0].dtype == np.float32
    assert decayed(params, 0.1, 0.1)[0].dtype == np.float32
    arrays = [a for part in state if isinstance(part, list) for a in part]
    assert arrays and all(a.dtype == np.float32 for a in arrays)


def test_plain_sgd_keeps_no_buffer():
    assert sgd(0.1).init([np.ones(3)]) == SgdState([])


def test_sgd_momentum_and_nesterov_rules(problem):
    """Keras' SGD: m <- mu m - lr g; p <- p + m, or p + mu m - lr g with Nesterov."""
    params, grads = problem
    lr, mu = 0.1, 0.9
    for nesterov in (False, True):
        want = [p.copy() for p in params]
        m = [np.zeros_like(p) for p in params]
        for g in grads:
            m = [mu * mi - lr * gi for mi, gi in zip(m, g)]
            step = [mu * mi - lr * gi for mi, gi in zip(m, g)] if nesterov else m
            want = [w + si for w, si in zip(want, step)]
        got = _trajectory(sgd(lr, Settings(momentum=mu, nesterov=nesterov)), params, grads)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-13)


def test_nesterov_looks_ahead_on_the_first_step():
    # one step from m = 0: plain momentum moves by -lr g, Nesterov by -(1 + mu) lr g
    g = [np.array([2.0])]
    for nesterov, want in ((False, -0.2), (True, -0.38)):
        opt = sgd(0.1, Settings(momentum=0.9, nesterov=nesterov))
        np.testing.assert_allclose(opt.update(g, opt.init(g))[0][0], want, rtol=1e-14)


def test_centered_rmsprop_with_momentum_rule(problem):
    params, grads = problem
    lr, rho, mu, eps = 0.01, 0.9, 0.5, 1e-7
    want = [p.copy() for p in params]
    v, a, m = ([np.zeros_like(p) for p in params] for _ in range(3))
    for g in grads:
        v = [rho * vi + (1 - rho) * gi**2 for vi, gi in zip(v, g)]
        a = [rho * ai + (1 - rho) * gi for ai, gi in zip(a, g)]
        step = [lr * gi / np.sqrt(vi - ai**2 + eps) for gi, vi, ai in zip(g, v, a)]
        m = [mu * mi + si for mi, si in zip(m, step)]
        want = [w - mi for w, mi in zip(want, m)]
    got = _trajectory(rmsprop(lr, Settings(momentum=mu, centered=True)), params, grads)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_amsgrad_divides_by_the_largest_second_moment():
    # a large gradient, then small ones: v falls (beta_2 0.5 makes it fall fast), v_max does
    # not, so amsgrad's third step is about sqrt(12.5 / 50) = 1/2 of adam's
    grads = [[np.array([10.0])], [np.array([0.1])], [np.array([0.1])]]
    steps = {}
    for amsgrad in (False, True):
        opt, params = adam(0.1, Settings(beta_2=0.5, amsgrad=amsgrad)), [np.zeros(1)]
        state = opt.init(params)
        for g in grads:
            updates, state = opt.update(g, state)
        steps[amsgrad] = abs(updates[0][0])
        if amsgrad:
            np.testing.assert_allclose(state.v_max[0], 0.5 * 10.0**2, rtol=1e-14)
    np.testing.assert_allclose(steps[True] / steps[False], np.sqrt(12.5075 / 50), rtol=1e-3)


def test_adagrad_starts_its_sum_at_the_initial_accumulator():
    opt = adagrad(0.5, Settings(initial_accumulator=0.1, epsilon=1e-7))
    updates, state = opt.update([np.array([1.0])], opt.init([np.zeros(1)]))
    np.testing.assert_allclose(state.accumulator[0], 1.1)
    np.testing.assert_allclose(updates[0], -0.5 / np.sqrt(1.1 + 1e-7), rtol=1e-14)


def test_adamax_rule(problem):
    params, grads = problem
    lr, b1, b2, eps = 0.02, 0.9, 0.999, 1e-7
    want, m, u = [p.copy() for p in params], [0 * p for p in params], [0 * p for p in params]
    for t, g in enumerate(grads, start=1):
        m = [mi + (gi - mi) * (1 - b1) for mi, gi in zip(m, g)]
        u = [np.maximum(b2 * ui, np.abs(gi)) for ui, gi in zip(u, g)]
        want = [w - lr * mi / ((1 - b1**t) * (ui + eps)) for w, mi, ui in zip(want, m, u)]
    for x, y in zip(_trajectory(adamax(lr), params, grads), want):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_nadam_rule(problem):
    """Keras' Nadam, its momentum schedule mu_t = b1 (1 - 0.5 * 0.96^t) written out."""
    params, grads = problem
    lr, b1, b2, eps = 0.02, 0.9, 0.999, 1e-7
    want, m, v = [p.copy() for p in params], [0 * p for p in params], [0 * p for p in params]
    product = 1.0
    for t, g in enumerate(grads, start=1):
        mu, mu_next = b1 * (1 - 0.5 * 0.96**t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        product *= mu
        m = [mi + (gi - mi) * (1 - b1) for mi, gi in zip(m, g)]
        v = [vi + (gi**2 - vi) * (1 - b2) for vi, gi in zip(v, g)]
        for i, (gi, mi, vi) in enumerate(zip(g, m, v)):
            m_hat = mu_next * mi / (1 - product * mu_next) + (1 - mu) * gi / (1 - product)
            want[i] = want[i] - lr * m_hat / (np.sqrt(vi / (1 - b2**t)) + eps)
    for x, y in zip(_trajectory(nadam(lr), params, grads), want):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_lion_steps_by_the_rate_in_a_sign():
    opt = lion(0.01)  # beta_1 0.9; lion's own beta_2 default is 0.99 (resolve gives it)
    state = opt.init([np.zeros(3)])
    updates, state = opt.update([np.array([5.0, -1e-6, 0.0])], state)
    np.testing.assert_array_equal(updates[0], [-0.01, 0.01, 0.0])
    assert resolve("lion", {}).beta_2 == 0.99 and resolve("adam", {}).beta_2 == 0.999


def test_weight_decay_is_decoupled_and_scaled_by_the_rate():
    params = [np.array([2.0, -4.0])]
    np.testing.assert_allclose(decayed(params, 0.1, 0.5)[0], [2.0 - 2.0 * 0.05, -4.0 + 0.2])
    assert decayed(params, 0.0, 0.5) is params
    assert resolve("adamw", {}).weight_decay == 0.004 and resolve("adam", {}).weight_decay == 0


# Keras on TensorFlow rounds a Python float to float32 wherever it calls ops.cast(x, float64)
# (momentum, betas, weight decay; the rate is a float32 variable anyway), so these cases
# use settings exact in float32 and hold float64 to rounding; Nadam's fixed 0.96 is cast
# too, which leaves it 1e-7 apart
EXACT = {"momentum": 0.875, "rho": 0.875, "beta_1": 0.875, "beta_2": 0.9990234375,
         "epsilon": 2.0**-20, "initial_accumulator": 0.125, "weight_decay": 0.125}
KERAS_CASES = [
    ("sgd", {"momentum": 0}), ("sgd", {}), ("sgd", {"nesterov": True}),
    ("sgd", {"momentum": 0, "weight_decay": 0.125}), ("rmsprop", {"weight_decay": 0}),
    ("rmsprop", {"centered": True}), ("adam", {"weight_decay": 0}), ("adam", {"amsgrad": True}),
    ("adamw", {}), ("adagrad", {"weight_decay": 0}), ("adagrad", {"initial_accumulator": 0.0}),
    ("adamax", {}), ("nadam", {}), ("lion", {}), ("lion", {"beta_2": 0.984375}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "given"), KERAS_CASES)
def test_each_rule_is_keras_own_from_the_same_gradients(name, given):
    """Keras' optimizer object and the rule here, float64, six steps of the same gradients."""
    keras = pytest.importorskip("keras")
    from mlpbench.engines.keras_engine import keras_optimizer

    rng = np.random.default_rng(7)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(6)]
    lr = 0.03125
    exact = {n: v for n, v in EXACT.items() if n in OPTIMIZERS[name].uses or n == "weight_decay"}
    settings = resolve(name, exact | given)
    theirs = keras_optimizer(name, settings, lr)
    variables = [keras.Variable(p, dtype="float64") for p in params]
    opt, ours = build(name, lr, settings), params
    state = opt.init(ours)
    for g in grads:
        theirs.apply([keras.ops.convert_to_tensor(gi, "float64") for gi in g], variables)
        updates, state = opt.update(g, state)
        ours = apply_updates(decayed(ours, settings.weight_decay, lr), updates)
    for v, p in zip(variables, ours):
        np.testing.assert_allclose(np.asarray(v), p, rtol=1e-6 if name == "nadam" else 1e-13)
