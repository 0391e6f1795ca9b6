"""Engines: runs together equal runs alone, and every engine follows the same trajectory.

Tolerances: in float64 the numba engine does the NumPy engine's arithmetic with
gradients summed in its own fixed order instead of by BLAS, and its own exp
(within 1 ulp, as NumPy's is), so the two differ only by rounding, amplified
a little over a few hundred updates: 1e-10 relative on the final weights
leaves ~3 orders of margin over what we observe (~1e-13) while a wrong
epsilon placement or a missing bias correction moves weights by >1e-4. Batch
sizes cover both of the numba engine's ways through a batch (by rows from 8
samples, else sample by sample) and sums whose length is not a multiple of
its 8 lanes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mlpbench import engines
from mlpbench.config.core import Config

ENGINE_NAMES = [name for name in ("numpy", "numba") if engines.available(name)]
# (loss, optimizer, lr) settings that train stably at every batch size below
SETTINGS = [
    ("bce", "sgd", 0.5),
    ("bce", "rmsprop", 0.01),
    ("bce", "adam", 0.05),
    ("mse", "sgd", 2.0),
    ("mse", "rmsprop", 0.01),
    ("mse", "adam", 0.05),
]


def _flat(results):
    return np.concatenate([np.ravel(p) for r in results for p in r.params])


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))


@pytest.mark.parametrize("name", ENGINE_NAMES)
@pytest.mark.parametrize("batch", [None, 7])
def test_runs_together_equal_runs_alone(name, batch):
    config = Config(m=50, n=10, epochs=8, batch_size=batch, optimizer="adam", lr=0.05)
    together = engines.train(name, config, [11, 12, 13])
    for r in together:
        (alone,) = engines.train(name, config, [r.seed])
        np.testing.assert_allclose(r.loss_curve, alone.loss_curve, rtol=1e-12)
        for a, b in zip(r.params, alone.params):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        for k in ("train_accuracy", "test_accuracy", "train_loss", "test_loss"):
            assert r.metrics[k] == pytest.approx(alone.metrics[k], rel=1e-12)


@pytest.mark.skipif("numba" not in ENGINE_NAMES, reason="numba not installed")
@pytest.mark.parametrize(("loss", "optimizer", "lr"), SETTINGS)
@pytest.mark.parametrize("batch", [None, 32, 13, 7, 1])
def test_numba_matches_numpy_in_float64(loss, optimizer, lr, batch):
    config = Config(
        m=64,
        n=16,
        loss=loss,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch,
        epochs=3 if batch == 1 else 30,
    )
    ref = engines.train("numpy", config, [0, 1])
    fast = engines.train("numba", config, [0, 1])
    assert _rel(_flat(fast), _flat(ref)) < 1e-10
    curves = np.array([r.loss_curve for r in ref]), np.array([r.loss_curve for r in fast])
    assert _rel(curves[1], curves[0]) < 1e-10
    for a, b in zip(ref, fast):
        assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]


@pytest.mark.skipif("numba" not in ENGINE_NAMES, reason="numba not installed")
@pytest.mark.parametrize(("loss", "optimizer", "lr"), SETTINGS)
def test_numba_matches_numpy_in_float32(loss, optimizer, lr):
    # float32 rounding compounds over 40 updates: agree to 1e-4, not to 1e-10
    config = Config(m=64, n=16, loss=loss, optimizer=optimizer, lr=lr, batch_size=16, epochs=10)
    ref = engines.train("numpy", config, [0, 1], "float32")
    fast = engines.train("numba", config, [0, 1], "float32")
    assert _rel(_flat(fast), _flat(ref)) < 1e-4


def test_float32_reference_is_close_to_float64():
    config = Config(m=64, n=16, optimizer="adam", lr=0.05, batch_size=16, epochs=10)
    a = engines.train("numpy", config, [0], "float32")
    b = engines.train("numpy", config, [0], "float64")
    assert 0 < _rel(_flat(a), _flat(b)) < 1e-4


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_divergence_is_flagged_not_averaged(name):
    # relu units are unbounded: a huge step overflows the logits to inf, then inf - inf = NaN
    config = Config(data="linear-int", m=40, n=10, epochs=5, lr=1e100, activation="relu")
    results = engines.train(name, config, [0, 1])
    assert all(r.diverged for r in results)
    sane = engines.train(name, config.replace(lr=1.0), [0])
    assert not sane[0].diverged


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_learning_actually_happens(name):
    config = Config(epochs=300, lr=10.0)
    results = engines.train(name, config, [0, 1, 2])
    for r in results:
        assert r.loss_curve[-1] < 0.3 * r.loss_curve[0]
        assert r.metrics["test_accuracy"] >= 90.0
        assert r.metrics["train_time_s"] > 0


VARIANTS_SCRIPT = """
import json, sys
from mlpbench import engines
from mlpbench.config.core import Config
from mlpbench.engines import numba_kernels, numba_softmax

def compiled():  # signatures of the softmax code, compiled or loaded in this process
    return len(numba_softmax.softmax_rows.signatures + numba_softmax.softmax_sample.signatures)

unit = engines.train("numba", Config(m=20, n=4, epochs=2, batch_size=4), [0])
after_unit = compiled()
soft = engines.train("numba", Config(data=sys.argv[1], loss="cce", epochs=2, batch_size=8), [0])
stats = [numba_kernels.kernels(*v).train.stats for v in (("sigmoid", False), ("sigmoid", True))]
print(json.dumps({"after_unit": after_unit, "after_softmax": compiled(),
                  "hits": [sum(s.cache_hits.values()) for s in stats],
                  "curves": [unit[0].loss_curve.tolist(), soft[0].loss_curve.tolist()]}))
"""


@pytest.mark.skipif("numba" not in ENGINE_NAMES, reason="numba not installed")
def test_numba_compiles_only_the_variant_a_config_uses(tmp_path):
    """With an empty compile cache, a sigmoid-output config leaves the softmax code
    uncompiled; a softmax config then compiles it. A second process loads both
    variants from the cache (none overwrites the other) and trains the same."""
    rows = ["a,b,c,y"] + [f"{i % 7},{i % 5},{i % 3},{'pqr'[i % 3]}" for i in range(30)]
    (tmp_path / "three.csv").write_text("\n".join(rows) + "\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-c", VARIANTS_SCRIPT, str(tmp_path / "three.csv")]
    cold, warm = (json.loads(subprocess.run(argv, env=env, capture_output=True, text=True,
                                            check=True).stdout) for _ in range(2))  # fmt: skip
    assert (cold["after_unit"], cold["after_softmax"]) == (0, 2)
    assert cold["hits"] == [0, 0] and min(warm["hits"]) >= 1
    assert warm["curves"] == cold["curves"]


def test_tensorflow_start_up_chatter_is_dropped_and_other_stderr_kept(capfd):
    import os

    from mlpbench.engines.registry import _without_chatter

    with _without_chatter():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see\n")
        os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


@pytest.mark.skipif(not engines.available("keras"), reason="keras not installed")
def test_loading_a_tensorflow_engine_prints_no_start_up_lines():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from mlpbench.engines.registry import load; "
                           "load('keras'); load('tf-function')"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert "oneDNN" not in done.stderr and "absl::InitializeLog" not in done.stderr
