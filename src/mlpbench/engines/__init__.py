"""One interface, several engines in sibling modules, imported only when used.

base.py states the contract an engine implements, registry.py names every
engine and what it can train, harness.py runs any of them the same way and
results.py holds what a run produces (RunResult) and what the store keeps of
it (StoredRun). Everything outside this package trains through
`engines.train(name, ...)`. The engines: numpy_engine.py (the reference),
numba_engine.py (compiled: numba_kernels.py, numba_math.py,
numba_activations.py, numba_softmax.py, numba_optimizers.py), keras_engine.py,
tf_function_engine.py, tf_xla_engine.py, jax_engine.py; each documents its
numerical conventions in its docstring.

May import: mlpbench.errors, mlpbench.data, mlpbench.nn, mlpbench.config;
a framework only inside the engine module that needs it.
"""

from mlpbench.engines.base import Capabilities, Engine, EngineSpec, Fit, Problem, Trainer
from mlpbench.engines.harness import (
    METRICS,
    RunResult,
    accuracy,
    collect,
    logit_metrics,
    prepare,
    train,
)
from mlpbench.engines.registry import (
    ENGINES,
    available,
    check_engine,
    check_supports,
    default_dtype,
    default_engine,
    has_device,
    installed,
    load,
    spec,
    unavailable,
)

__all__ = [
    "ENGINES",
    "METRICS",
    "Capabilities",
    "Engine",
    "EngineSpec",
    "Fit",
    "Problem",
    "RunResult",
    "Trainer",
    "accuracy",
    "available",
    "check_engine",
    "check_supports",
    "collect",
    "default_dtype",
    "default_engine",
    "has_device",
    "installed",
    "load",
    "logit_metrics",
    "prepare",
    "spec",
    "train",
    "unavailable",
]
