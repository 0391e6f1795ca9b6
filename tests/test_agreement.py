"""Every engine follows the same trajectory from the same start, over 200 updates.

The conformance suite (test_conformance.py) holds every engine to the
reference over 12 updates of many networks; here each loss x optimizer pair
trains 200 updates of the seed network on every installed engine and the
NumPy engine in float32, and must agree within the tolerances that `mlpbench
agree` flags (stated and justified in mlpbench/agree.py). Then optimizers
broken on purpose (epsilon misplaced, bias correction dropped) must fail them.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import engines
from mlpbench.analysis.agree import CURVE_TOLERANCE, WEIGHT_TOLERANCE, difference
from mlpbench.config.core import Config
from mlpbench.engines import numpy_engine
from mlpbench.nn import optimizers as opt_rules
from mlpbench.service import agree

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

SEEDS = [0, 1]
PAIRS = [
    ("bce", "sgd", 2.0),
    ("bce", "rmsprop", 0.01),
    ("bce", "adam", 0.05),
    ("mse", "sgd", 2.0),
    ("mse", "rmsprop", 0.01),
    ("mse", "adam", 0.05),
]


def _config(loss, optimizer, lr, batch=None, m=64):
    epochs = 200 if batch is None else max(1, 200 // -(-m // batch))
    return Config(m=m, n=32, loss=loss, optimizer=optimizer, lr=lr, batch_size=batch, epochs=epochs)


@pytest.mark.parametrize("batch", [None, 16])
@pytest.mark.parametrize(("loss", "optimizer", "lr"), PAIRS)
def test_engines_agree(loss, optimizer, lr, batch):
    config = _config(loss, optimizer, lr, batch)
    _, rows = agree(config, engines.installed(), SEEDS)
    f32 = engines.train("numpy", config, SEEDS, "float32")
    rows.append(difference(f32, engines.train("numpy", config, SEEDS), "numpy", "float32"))
    # numba in float64 meets these with room to spare, but not 1e-10 here: near
    # convergence the gradient is a sum with heavy cancellation and RMSProp divides
    # it by its own size, so BLAS-versus-sequential summation order grows to ~1e-5
    # over 200 updates (test_engines checks 1e-10 over the first epochs).
    for row in rows:
        assert row.curve <= CURVE_TOLERANCE, row
        assert row.weights <= WEIGHT_TOLERANCE, row


def _rmsprop_epsilon_outside_root(lr, rho=0.9, eps=1e-7):
    """RMSProp with Adam's epsilon placement: g / (sqrt(v) + eps), not g / sqrt(v + eps)."""

    def update(grads, state):
        v = [rho * vi + (1 - rho) * g * g for g, vi in zip(grads, state.velocity)]
        updates = [-(lr * g / (np.sqrt(vi) + eps)) for g, vi in zip(grads, v)]
        return updates, opt_rules.RmsPropState(v, [], [])

    return opt_rules.Optimizer(opt_rules.rmsprop(lr).init, update)


def _adam(lr, bias_correction=True, eps_inside=False, b1=0.9, b2=0.999, eps=1e-7):
    """Adam with one detail optionally wrong."""

    def update(grads, state):
        t = state.count + 1
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t) if bias_correction else lr
        m = [mi + (g - mi) * (1 - b1) for g, mi in zip(grads, state.m)]
        v = [vi + (g * g - vi) * (1 - b2) for g, vi in zip(grads, state.v)]
        denominators = [np.sqrt(vi + eps) if eps_inside else np.sqrt(vi) + eps for vi in v]
        updates = [-(alpha * mi / d) for mi, d in zip(m, denominators)]
        return updates, opt_rules.AdamState(t, m, v, [])

    return opt_rules.Optimizer(opt_rules.adam(lr).init, update)


BROKEN = {
    "rmsprop epsilon outside the root": ("rmsprop", 0.01, _rmsprop_epsilon_outside_root),
    "adam without bias correction": ("adam", 0.05, lambda lr: _adam(lr, bias_correction=False)),
    "adam epsilon inside the root": ("adam", 0.05, lambda lr: _adam(lr, eps_inside=True)),
}


@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_tolerance_catches_a_broken_optimizer(broken, loss, monkeypatch):
    optimizer, lr, make = BROKEN[broken]
    config = _config(loss, optimizer, lr)
    keras_runs = engines.train("keras", config, SEEDS)
    correct = engines.train("numpy", config, SEEDS)
    good = difference(keras_runs, correct, "keras", "float32")
    assert good.curve <= CURVE_TOLERANCE and good.weights <= WEIGHT_TOLERANCE

    rule = opt_rules.OPTIMIZERS[optimizer]
    broken_rule = rule._replace(build=lambda lr, settings, xp=np: make(lr))
    monkeypatch.setitem(numpy_engine.OPTIMIZERS, optimizer, broken_rule)
    wrong = engines.train("numpy", config, SEEDS)
    bad = difference(keras_runs, wrong, "keras", "float32")
    assert bad.curve > CURVE_TOLERANCE or bad.weights > WEIGHT_TOLERANCE, bad


def test_helper_optimizers_are_right_when_not_broken():
    """The Adam written out in this file, unbroken, is Keras' rule (so a failure above is real)."""
    grads = [np.array([0.3, -2.0, 1e-4])]
    params = [np.zeros(3)]
    a, b = _adam(0.1), opt_rules.adam(0.1)
    sa, sb = a.init(params), b.init(params)
    for _ in range(5):
        ua, sa = a.update(grads, sa)
        ub, sb = b.update(grads, sb)
        np.testing.assert_allclose(ua[0], ub[0], rtol=1e-14)
