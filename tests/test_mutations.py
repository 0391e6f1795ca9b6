"""The conformance suite catches a wrong activation derivative in every engine family.

Each test breaks one activation's derivative on purpose (the value stays
right, so only training can tell) in one compiled or framework engine, and
checks that the conformance measure then exceeds its tolerance by far:
- sigmoid: a instead of a (1 - a)
- tanh:    1 - a instead of 1 - a^2
- relu:    1 everywhere instead of 1 for z > 0
numba's kernels are compiled, so its mutants are patched copies of the
source, each run in a subprocess with its own compile cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlpbench import engines
from test_conformance import TOLERANCE, config_for, distance

ACTIVATIONS = ("sigmoid", "tanh", "relu")
WRONG = {  # (z, a) -> the broken derivative, in any array library
    "sigmoid": lambda z, a: a,
    "tanh": lambda z, a: 1 - a,
    "relu": lambda z, a: z * 0 + 1,
}
NUMBA_SOURCE = {  # the line of numba_kernels._derivative each mutant replaces
    "sigmoid": ("return a * (k[ONE] - a)", "return a"),
    "tanh": ("return k[ONE] - a * a", "return k[ONE] - a"),
    "relu": ("return k[ONE] if z > k[ZERO] else k[ZERO]", "return k[ONE]"),
}


def _config(activation: str):
    return config_for(activation, (4, 3), "mse", "sgd", None)


def _assert_caught(name: str, activation: str) -> None:
    curve, weights = distance(name, "cpu", _config(activation))
    tolerance = TOLERANCE[engines.default_dtype(name)]
    assert curve > 10 * tolerance or weights > 10 * tolerance, (name, activation, curve, weights)


def _tf_broken(activation: str):
    import tensorflow as tf

    value = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu}[activation]

    @tf.custom_gradient
    def broken(z):
        a = value(z)
        return a, lambda g: g * WRONG[activation](z, a)

    return broken


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("name", ["keras", "tf-function", "tf-xla"])
def test_tensorflow_engines_wrong_derivative_is_caught(name, activation, monkeypatch):
    if not engines.available(name):
        pytest.skip(f"{name} not installed")
    module = engines.load(name).__module__
    table = sys.modules[module].ACTIVATIONS
    if name == "tf-xla":  # shares tf-function's table
        table = sys.modules["mlpbench.engines.tf_function_engine"].ACTIVATIONS
    monkeypatch.setitem(table, activation, _tf_broken(activation))
    _assert_caught(name, activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jax_wrong_derivative_is_caught(activation, monkeypatch):
    if not engines.available("jax"):
        pytest.skip("jax not installed")
    import jax

    from mlpbench.engines import jax_engine

    value = jax_engine.ACTIVATIONS[activation]
    broken = jax.custom_jvp(value)

    @broken.defjvp
    def _jvp(primals, tangents):
        (z,), (t,) = primals, tangents
        a = value(z)
        return a, t * WRONG[activation](z, a)

    monkeypatch.setitem(jax_engine.ACTIVATIONS, activation, broken)
    _assert_caught("jax", activation)


MUTANT_SCRIPT = """
import sys
from test_conformance import config_for, distance
print(*distance("numba", "cpu", config_for(sys.argv[1], (4, 3), "mse", "sgd", None)))
"""


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_numba_wrong_derivative_is_caught(tmp_path):
    """Three patched copies of the package, compiled and measured side by side."""
    package = Path(engines.__file__).parents[1]
    procs = {}
    for activation, (right, wrong) in NUMBA_SOURCE.items():
        root = tmp_path / activation
        shutil.copytree(package, root / "mlpbench", ignore=shutil.ignore_patterns("__pycache__"))
        kernels = root / "mlpbench" / "engines" / "numba_kernels.py"
        text = kernels.read_text()
        assert text.count(right) == 1, right
        kernels.write_text(text.replace(right, wrong))
        env = {"PYTHONPATH": f"{root}{':'}{Path(__file__).parent}", "PATH": "/usr/bin:/bin",
               "NUMBA_CACHE_DIR": str(root / "cache")}  # fmt: skip
        procs[activation] = subprocess.Popen(
            [sys.executable, "-c", MUTANT_SCRIPT, activation],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    for activation, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        curve, weights = map(float, out.split())
        limit = 10 * TOLERANCE["float64"]
        assert curve > limit or weights > limit, (activation, curve, weights)
