"""The conformance suite catches a wrong activation derivative in every engine family.

Each test breaks one activation's derivative on purpose (the value stays
right, so only training can tell) in one compiled or framework engine, and
checks that the conformance measure then exceeds its tolerance by far (WRONG,
one for every registered activation):
- sigmoid: a instead of a (1 - a); tanh: 1 - a instead of 1 - a^2;
- relu, leaky_relu, elu: 1 everywhere; selu: its scale everywhere; linear: 0;
- gelu, silu, softplus, sin: the value a instead of the derivative.
numba's kernels are compiled, so its mutants are patched copies of the
source, each run in a subprocess with its own compile cache.

Optimizer rules likewise: Nesterov's look-ahead dropped and AdamW's decay
coupled into the gradient (L2, not decoupled) must each fail the pairwise
conformance measure, in numba (patched source) and in the Keras engine (its
optimizer swapped for a mutant of Keras' own class); so must a schedule read
one update late, and a weight penalty applied to the biases too (numba,
Keras with a bias regularizer, tf-function); and Keras' own EarlyStopping and
ReduceLROnPlateau waiting one epoch more than asked.

The code that turns runs into verdicts is held the same way: PLANTED is a
fixed list of small bugs in the statistics, claims, tuning choice, seed
streams, store keys and leases, timing, bounds, formatting and the CSV
reader, and each must fail the test file of its own module, run against a
patched copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from mlpbench import engines
from mlpbench.config.core import Config
from mlpbench.nn.activations import ACTIVATIONS as REGISTERED
from mlpbench.nn.activations import SELU_SCALE
from test_conformance import TOLERANCE, config_for, distance

WRONG = {  # (z, a) -> the broken derivative, in any array library
    "sigmoid": lambda z, a: a,
    "tanh": lambda z, a: 1 - a,
    "relu": lambda z, a: z * 0 + 1,
    "linear": lambda z, a: z * 0,
    "leaky_relu": lambda z, a: z * 0 + 1,  # the slope below zero dropped
    "elu": lambda z, a: z * 0 + 1,
    "selu": lambda z, a: z * 0 + SELU_SCALE,  # the scale everywhere
    "gelu": lambda z, a: a,  # the value for the derivative
    "silu": lambda z, a: a,
    "softplus": lambda z, a: a,
    "sin": lambda z, a: a,  # sin for cos
}
ACTIVATIONS = tuple(WRONG)
NUMBA_SOURCE = {  # the text of numba_activations.RULES each mutant replaces, and its mutant
    "sigmoid": ("lambda z, a, k, c: a * (k[ONE] - a)", "lambda z, a, k, c: a"),
    "tanh": ("lambda z, a, k, c: k[ONE] - a * a", "lambda z, a, k, c: k[ONE] - a"),
    "relu": ("lambda z, a, k, c: k[ONE] if z > k[ZERO] else k[ZERO]", "lambda z, a, k, c: k[ONE]"),
    "linear": ("_rule(lambda z, k, c: z, lambda z, a, k, c: k[ONE])",
               "_rule(lambda z, k, c: z, lambda z, a, k, c: k[ZERO])"),
    "leaky_relu": ("k[ONE] if z > k[ZERO] else k[SLOPE]", "k[ONE]"),
    "elu": ("k[ONE] if z > k[ZERO] else a + k[ONE]", "k[ONE]"),
    "selu": ("k[SCALE] if z >= k[ZERO] else a + k[SCALE_ALPHA]", "k[SCALE]"),
    "gelu": ("return k[HALF] * math.erfc(-z * k[SQRT_HALF]) + z * phi", "return a"),
    "silu": ("return s * (k[ONE] + z * (k[ONE] - s))", "return a"),
    "softplus": ("lambda z, a, k, c: sigmoid(z, k, c)", "lambda z, a, k, c: a"),
    "sin": ("lambda z, a, k, c: math.cos(z)", "lambda z, a, k, c: a"),
}  # fmt: skip


def test_every_activation_has_a_mutant():
    assert set(WRONG) == set(NUMBA_SOURCE) == set(REGISTERED)


def _config(activation: str):
    return config_for(activation, (4, 3), "mse", "sgd", None)


def _assert_caught(name: str, activation: str) -> None:
    curve, weights = distance(name, "cpu", _config(activation))
    tolerance = TOLERANCE[engines.default_dtype(name)]
    assert curve > 10 * tolerance or weights > 10 * tolerance, (name, activation, curve, weights)


def _tf_broken(activation: str):
    """The engine's own activation of (z, slope) with a wrong derivative."""
    import tensorflow as tf

    value = sys.modules["mlpbench.engines.tf_function_engine"].ACTIVATIONS[activation]

    def broken(z, s):
        @tf.custom_gradient
        def inner(z):
            a = value(z, s)
            return a, lambda g: g * WRONG[activation](z, a)

        return inner(z)

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

    def broken(z, s):
        @jax.custom_jvp
        def inner(z):
            return value(z, s)

        @inner.defjvp
        def _jvp(primals, tangents):
            (z,), (t,) = primals, tangents
            a = value(z, s)
            return a, t * WRONG[activation](z, a)

        return inner(z)

    monkeypatch.setitem(jax_engine.ACTIVATIONS, activation, broken)
    _assert_caught("jax", activation)


MUTANT_SCRIPT = """
import sys
from test_conformance import config_for, distance
print(*distance("numba", "cpu", config_for(sys.argv[1], (4, 3), "mse", "sgd", None)))
"""


def _patched_runs(tmp_path: Path, module: str, mutants: dict[str, tuple[str, str, list[str]]]
                  ) -> dict[str, tuple[float, float]]:  # fmt: skip
    """For each mutant (right text, wrong text, script and arguments): a copy of the package
    with one line of engines/<module> replaced, run in its own process with its own compile
    cache, side by side; the (curve, weights) distance each prints."""
    package = Path(engines.__file__).parents[1]
    procs = {}
    for i, (name, (right, wrong, argv)) in enumerate(mutants.items()):
        root = tmp_path / f"mutant{i}"
        shutil.copytree(package, root / "mlpbench", ignore=shutil.ignore_patterns("__pycache__"))
        source = root / "mlpbench" / "engines" / module
        text = source.read_text()
        assert text.count(right) == 1, right
        source.write_text(text.replace(right, wrong))
        env = {"PYTHONPATH": f"{root}{':'}{Path(__file__).parent}", "PATH": "/usr/bin:/bin",
               "NUMBA_CACHE_DIR": str(root / "cache")}  # fmt: skip
        procs[name] = subprocess.Popen([sys.executable, "-c", *argv], env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    distances = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        curve, weights = map(float, out.split()[-2:])
        distances[name] = (curve, weights)
    return distances


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_numba_wrong_derivative_is_caught(tmp_path):
    """A patched copy of the package for each activation, compiled and measured side by
    side."""
    mutants = {a: (right, wrong, [MUTANT_SCRIPT, a]) for a, (right, wrong) in NUMBA_SOURCE.items()}
    for activation, (curve, weights) in _patched_runs(tmp_path, "numba_activations.py",
                                                      mutants).items():  # fmt: skip
        limit = 10 * TOLERANCE["float64"]
        assert curve > limit or weights > limit, (activation, curve, weights)


OPTIMIZER_MUTANTS = {  # name: (a case's optimizer settings, numba's line, its mutant)
    "nesterov dropped": (
        {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True},
        "theta[p] = theta[p] + (m1[p] * k[MOMENTUM] - g * lr if nesterov else m1[p])",
        "theta[p] = theta[p] + m1[p]"),
    "adamw decay coupled": (
        {"optimizer": "adamw", "lr": 0.05, "weight_decay": 0.05},
        "theta[p] = theta[p] - theta[p] * k[WD] * lr",
        "g = g + theta[p] * k[WD]"),
}  # fmt: skip


def _assert_patch_caught(name: str, config: Config, patch: Callable[[], object]) -> None:
    """The float32 framework engine agrees with the reference as it is, and once patch has
    broken one of its rules, fails the conformance measure by far."""
    right = distance(name, "cpu", config)
    assert max(right) <= TOLERANCE["float32"], right
    patch()
    curve, weights = distance(name, "cpu", config)
    assert curve > 10 * TOLERANCE["float32"] or weights > 10 * TOLERANCE["float32"], (
        name, curve, weights)


def _optimizer_case(settings: dict):
    return Config(m=20, n=8, hidden=(4, 3), loss="mse", epochs=12, **settings)


def _keras_mutant(name: str):
    """keras_engine.make_optimizer with one rule broken, Keras' classes doing the rest."""
    import keras

    class CoupledAdamW(keras.optimizers.Adam):  # L2 in the gradient, no decoupled decay
        def __init__(self, wd: float, **kwargs):
            super().__init__(**kwargs)
            self.coupled = wd

        def update_step(self, gradient, variable, learning_rate):
            super().update_step(gradient + self.coupled * variable, variable, learning_rate)

    def make(config, lr, factors, dtype):
        if name == "nesterov dropped":
            return keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum)
        return CoupledAdamW(config.settings.weight_decay, learning_rate=lr)

    return make


@pytest.mark.parametrize("mutant", sorted(OPTIMIZER_MUTANTS))
def test_keras_engine_broken_optimizer_rule_is_caught(mutant, monkeypatch):
    if not engines.available("keras"):
        pytest.skip("keras not installed")
    from mlpbench.engines import keras_engine

    _assert_patch_caught("keras", _optimizer_case(OPTIMIZER_MUTANTS[mutant][0]), lambda: (
        monkeypatch.setattr(keras_engine, "make_optimizer", _keras_mutant(mutant))))


OPTIMIZER_MUTANT_SCRIPT = """
import json, sys
from test_mutations import _optimizer_case
from test_conformance import distance
print(*distance("numba", "cpu", _optimizer_case(json.loads(sys.argv[1]))))
"""


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_numba_broken_optimizer_rule_is_caught(tmp_path):
    """Patched copies of numba_optimizers.py, compiled and measured side by side."""
    mutants = {name: (right, wrong, [OPTIMIZER_MUTANT_SCRIPT, json.dumps(settings)])
               for name, (settings, right, wrong) in OPTIMIZER_MUTANTS.items()}  # fmt: skip
    for mutant, (curve, weights) in _patched_runs(tmp_path, "numba_optimizers.py",
                                                  mutants).items():  # fmt: skip
        limit = 10 * TOLERANCE["float64"]
        assert curve > limit or weights > limit, (mutant, curve, weights)


# a schedule read one update late: update s gets the rate of s + 1
SCHEDULE_CASE = {"optimizer": "sgd", "lr": 0.5, "schedule": "exponential", "decay_rate": 0.5,
                 "decay_steps": 3}  # fmt: skip
SCHEDULE_MUTANT = ("rate = rate_r * factors[step] if scheduled else rate_r",
                   "rate = rate_r * factors[min(step + 1, factors.shape[0] - 1)] if scheduled "
                   "else rate_r")  # fmt: skip
# the plateau schedule reducing one wait late: at patience + 1 epochs without improvement
PLATEAU_CASE = {"optimizer": "sgd", "lr": 0.5, "schedule": "plateau", "plateau_patience": 1,
                "plateau_min_delta": 0.01}  # fmt: skip
PLATEAU_MUTANT = ("if wait >= plateau[1] and rate_r > plateau[5]:",
                  "if wait > plateau[1] and rate_r > plateau[5]:")


def test_keras_schedule_off_by_one_step_is_caught(monkeypatch):
    if not engines.available("keras"):
        pytest.skip("keras not installed")
    import keras

    from mlpbench.engines import keras_engine

    class Late(keras_engine.TableSchedule):
        def __call__(self, step):
            return keras.ops.take(self.rates, keras.ops.minimum(step + 1, self.last))

    _assert_patch_caught("keras", _optimizer_case(SCHEDULE_CASE),
                         lambda: monkeypatch.setattr(keras_engine, "TableSchedule", Late))


# the weight penalty applied to the biases too (Keras' bias_regularizer beside its kernel one)
PENALTY_CASE = {"optimizer": "sgd", "lr": 0.5, "l2": 0.05}
PENALTY_MUTANT = ("for p in range(woff[layer], boff[layer]):",
                  "for p in range(woff[layer], woff[layer + 1] if layer + 1 < woff.shape[0] "
                  "else theta.shape[0]):")  # fmt: skip


# a stopped run still being updated: its epochs counted where it stopped, its training going on
STOPPED_CASE = {"optimizer": "sgd", "lr": 0.5, "early_stopping": "loss", "stop_patience": 1,
                "stop_min_delta": 0.01}  # fmt: skip
STOPPED_MUTANT = ("trained[r] = e + 1\n                    break",
                  "trained[r] = min(trained[r], e + 1)")
# dropout's kept units not scaled up by 1 / (1 - rate)
DROPOUT_CASE = {"optimizer": "sgd", "lr": 0.5, "dropout": 0.3}
DROPOUT_MUTANT = ("drop[first + j, b] = k[KEPT] if u >= rate else k[ZERO]",
                  "drop[first + j, b] = k[ONE] if u >= rate else k[ZERO]")
KERNEL_MUTANTS = {"schedule one update late": (SCHEDULE_CASE, SCHEDULE_MUTANT),
                  "dropout not rescaled": (DROPOUT_CASE, DROPOUT_MUTANT),
                  "penalty on the biases": (PENALTY_CASE, PENALTY_MUTANT),
                  "plateau one wait late": (PLATEAU_CASE, PLATEAU_MUTANT),
                  "stopped run still updated": (STOPPED_CASE, STOPPED_MUTANT)}  # fmt: skip


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_numba_kernel_mutants_are_caught(tmp_path):
    """Patched copies of numba_kernels.py, compiled and measured side by side."""
    mutants = {name: (*mutant, [OPTIMIZER_MUTANT_SCRIPT, json.dumps(case)])
               for name, (case, mutant) in KERNEL_MUTANTS.items()}  # fmt: skip
    for name, (curve, weights) in _patched_runs(tmp_path, "numba_kernels.py", mutants).items():
        assert curve > 10 * TOLERANCE["float64"] or weights > 10 * TOLERANCE["float64"], name


@pytest.mark.parametrize("name", ["keras", "tf-function"])
def test_framework_penalty_on_biases_is_caught(name, monkeypatch):
    if not engines.available(name):
        pytest.skip(f"{name} not installed")
    from mlpbench.nn import regularizers

    def patch() -> None:
        if name == "keras":
            import keras

            class BiasedDense(keras.layers.Dense):
                def __init__(self, *args, kernel_regularizer=None, **kwargs):
                    super().__init__(*args, kernel_regularizer=kernel_regularizer,
                                     bias_regularizer=kernel_regularizer, **kwargs)  # fmt: skip

            monkeypatch.setattr(keras.layers, "Dense", BiasedDense)
        else:  # the penalty's reading of [W1, b1, ...] takes every parameter
            monkeypatch.setattr(regularizers, "kernels", lambda params: list(params))

    _assert_patch_caught(name, _optimizer_case(PENALTY_CASE), patch)


class Planted(NamedTuple):
    """A small bug in a module that turns runs into verdicts, and the test file that must
    catch it: the module's own."""

    module: str  # under src/mlpbench
    right: str  # text that occurs once in the module
    wrong: str  # what the bug puts there
    tests: str  # the test file that must fail


PLANTED: dict[str, Planted] = {
    "accuracy interval past 100%": Planted(
        "analysis/stats.py", "low, high = max(low, floor), min(high, ceiling)",
        "low, high = low, high", "test_stats.py"),
    "holm dropped": Planted(
        "analysis/compare.py", "adjusted = holm([r.p for _, r in greater])",
        "adjusted = [r.p for _, r in greater]", "test_compare.py"),
    "p <= alpha": Planted(
        "analysis/compare.py", "if math.isnan(p_holm) or p_holm >= ALPHA:",
        "if math.isnan(p_holm) or p_holm > ALPHA:", "test_compare.py"),
    "ratio supported by its point estimate": Planted(
        "analysis/compare.py", "outcome = ratio_outcome(low, high, (check.low, check.high))",
        "outcome = SUPPORTED if check.low <= ratio <= check.high else ratio_outcome(low, "
        "high, (check.low, check.high))", "test_compare.py"),
    "ratio contradicted by its point estimate": Planted(
        "analysis/compare.py", "outcome = ratio_outcome(low, high, (check.low, check.high))",
        "outcome = CONTRADICTED if not check.low <= ratio <= check.high else ratio_outcome("
        "low, high, (check.low, check.high))", "test_compare.py"),
    "claim on one pair": Planted(
        "analysis/compare.py", "        if len(a) < 2:", "        if len(a) < 1:",
        "test_compare.py"),
    "comparison of one run": Planted(
        "analysis/compare.py", "if self.result.count < 2:", "if self.result.count < 1:",
        "test_compare.py"),
    "accuracy picks the worst": Planted(
        "experiment/tune.py", 'point.mean if score == "loss" else -point.mean', "point.mean",
        "test_tune.py"),
    "diverged points not last": Planted(
        "experiment/tune.py", "return (int(point.diverged > 0), ", "return (0, ",
        "test_tune.py"),
    "one stream for all": Planted(
        "data/streams.py", "DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 1, 2",
        "DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 0, 0", "test_streams.py"),
    "weights from the order stream": Planted(
        "data/streams.py", "DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 1, 2",
        "DATA_STREAM, INIT_STREAM, ORDER_STREAM = 0, 2, 2", "test_streams.py"),
    "dropout keys from the order stream": Planted(
        "data/streams.py", "DROPOUT_STREAM = 3", "DROPOUT_STREAM = 2", "test_streams.py"),
    "dropout not rescaled": Planted(
        "nn/dropout.py", "scale = np.asarray(1.0 / (1.0 - rate), dtype=dtype)",
        "scale = np.asarray(1.0, dtype=dtype)", "test_dropout.py"),
    "dropout's derivative at the masked activation": Planted(
        "engines/numpy_engine.py", "raw = acts[layer] if masks is None else "
        "activation.value(z)", "raw = acts[layer]", "test_dropout.py"),
    "dropout's backward pass unmasked": Planted(
        "engines/numpy_engine.py", "                delta = delta * masks[layer - 1]",
        "                delta = delta * 1", "test_dropout.py"),
    "glorot with 2 for 6": Planted(
        "nn/initializers.py", "limit = math.sqrt(3 * scale / n)", "limit = math.sqrt(scale / n)",
        "test_streams.py"),
    "store key without dtype": Planted(
        "experiment/store.py", "return job.config.key(), job.engine, job.dtype, job.device",
        'return job.config.key(), job.engine, "float64", job.device', "test_store.py"),
    "config key without validation": Planted(
        "config/core.py", 'd["validation"] = float(self.validation)', 'd.pop("validation")',
        "test_config.py"),
    "a lease never lapses": Planted(
        "experiment/store.py", 'else row["expires"] > now', "else True", "test_store.py"),
    "each run the whole wall time": Planted(
        "engines/harness.py", "return np.full(runs, seconds / runs)",
        "return np.full(runs, seconds)", "test_harness.py"),
    "epochs cap exclusive": Planted(
        "config/kinds.py", "if f.high is not None and v > f.high:",
        "if f.high is not None and v >= f.high:", "test_bounds.py"),
    "seed limit inclusive": Planted(
        "config/core.py", "if first + runs > SEED_LIMIT:", "if first + runs > SEED_LIMIT + 1:",
        "test_bounds.py"),
    "validation bound inclusive": Planted(
        "config/core.py", "not 1 <= round(v * c.m) < c.m", "not 1 <= round(v * c.m) <= c.m",
        "test_bounds.py"),
    "class cap exclusive": Planted(
        "data/tables.py", "if len(order) > MAX_CLASSES:", "if len(order) >= MAX_CLASSES:",
        "test_bounds.py"),
    "formula input cap exclusive": Planted(
        "data/formula.py", "if highest > MAX_INPUTS:", "if highest >= MAX_INPUTS:",
        "test_bounds.py"),
    "losses to 4 decimals": Planted(
        "report/formatting.py", 'return f"{value:.6f}" if', 'return f"{value:.4f}" if',
        "test_formatting.py"),
    "diverged out of the finished runs": Planted(
        "report/formatting.py", "({s.diverged}/{s.count + s.diverged} diverged)",
        "({s.diverged}/{s.count} diverged)", "test_formatting.py"),
    "a loss verdict names the worse column": Planted(
        "analysis/compare.py", 'return f"{lower} lower (better)" if',
        'return f"{higher} lower (better)" if', "test_compare.py"),
    "rounding judged a thousand times too loosely": Planted(
        "report/build.py", "> ROUNDING * max(abs(x), abs(y))",
        "> 1e3 * ROUNDING * max(abs(x), abs(y))", "test_report.py"),
    "csv cells past the header ignored": Planted(
        "data/tables.py", 'cells_right = body.count(b",") == (len(x) + 1) * (width - 1)',
        "cells_right = True", "test_tables.py"),
}  # fmt: skip
TESTS = Path(__file__).parent


@pytest.mark.parametrize("name", PLANTED)
def test_a_planted_bug_fails_its_modules_own_tests(name, tmp_path):
    """A patched copy of the package first on the path; the module's test file must fail."""
    bug = PLANTED[name]
    package = Path(engines.__file__).parents[1]
    copy = tmp_path / "mlpbench"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.nb?"))
    module = copy / bug.module
    text = module.read_text()
    assert text.count(bug.right) == 1, (bug.module, bug.right)
    module.write_text(text.replace(bug.right, bug.wrong))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{TESTS}", "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(TESTS / bug.tests), "--rootdir", str(TESTS.parent)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    where = run.stdout.splitlines()[-1:] if run.stdout else run.stderr[-500:]
    assert run.returncode == 1 and " failed" in run.stdout, (name, where)
    assert str(copy) in run.stdout + run.stderr or _imports_copy(env, copy), name


def _imports_copy(env: dict, copy: Path) -> bool:
    """Whether `import mlpbench` under env loads the patched copy, not the installed one."""
    code = "import mlpbench; print(mlpbench.__file__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return out.stdout.strip().startswith(str(copy))


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
@pytest.mark.parametrize("mutant", ["stopping one wait late", "plateau one wait late"])
def test_keras_callback_one_wait_late_is_caught(mutant, monkeypatch):
    """Keras' own callbacks, their patience one more than asked: the measure must fail."""
    if not engines.available("keras"):
        pytest.skip("keras not installed")
    import keras

    case, name = ((STOPPED_CASE, "EarlyStopping") if mutant.startswith("stopping") else
                  (PLATEAU_CASE, "ReduceLROnPlateau"))  # fmt: skip
    real = getattr(keras.callbacks, name)

    class Late(real):
        def __init__(self, *args, patience: int = 0, **kwargs):
            super().__init__(*args, patience=patience + 1, **kwargs)

    _assert_patch_caught("keras", _optimizer_case(case),
                         lambda: monkeypatch.setattr(keras.callbacks, name, Late))
