"""Every engine by name: where it lives, what it needs, what it can train.

Adding an engine is one module holding an `Engine` subclass named `ENGINE`
and one line here; the conformance suite (tests/test_conformance.py) then
holds it to the NumPy reference with no test edits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlpbench.engines.base import Capabilities, Engine, EngineSpec
from mlpbench.errors import UsageError
from mlpbench.nn.schedules import SCHEDULES

if TYPE_CHECKING:
    from mlpbench.config.core import Config


_TF = "pip install 'mlpbench[tf]'"
_FLOAT32_FIRST = ("float32", "float64")

_CORE = "pip install mlpbench"
_FAST = "pip install 'mlpbench[fast]'"
_JAX = "pip install 'mlpbench[jax]'"
_FRAMEWORK = Capabilities(dtypes=_FLOAT32_FIRST, gpu=True)

ENGINES: dict[str, EngineSpec] = {
    "numpy": EngineSpec(
        "mlpbench.engines.numpy_engine", "numpy", _CORE, "float64",
        Capabilities(plateau=True, stopping=True, dropout=True),
    ),
    "numba": EngineSpec(
        "mlpbench.engines.numba_engine", "numba", _FAST, "float64",
        Capabilities(per_run_lr=True, plateau=True, stopping=True, dropout=True),
    ),
    "keras": EngineSpec("mlpbench.engines.keras_engine", "keras", _TF, "float32",
                        dataclasses.replace(_FRAMEWORK, plateau=True, stopping=True,
                                            stop_rules=frozenset({"keras"}))),  # its callbacks
    "tf-function": EngineSpec(
        "mlpbench.engines.tf_function_engine", "tensorflow", _TF, "float32", _FRAMEWORK
    ),
    "tf-xla": EngineSpec(
        "mlpbench.engines.tf_xla_engine", "tensorflow", _TF, "float32", _FRAMEWORK
    ),
    "jax": EngineSpec(
        "mlpbench.engines.jax_engine",
        "jax",
        _JAX,
        "float32",
        Capabilities(per_run_lr=True, gpu=True),
    ),
}


def spec(name: str) -> EngineSpec:
    """The registry entry of a known engine (unknown names get one line)."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    return ENGINES[name]


def available(name: str) -> bool:
    """Whether the engine's library can be imported here."""
    return name in ENGINES and importlib.util.find_spec(ENGINES[name].needs) is not None


def installed() -> list[str]:
    """Every registered engine whose library is installed, in registry order."""
    return [name for name in ENGINES if available(name)]


def default_engine() -> str:
    """The fastest engine installed: numba where present, else the NumPy reference."""
    return "numba" if available("numba") else "numpy"


def check_engine(name: str) -> str:
    """Reject unknown or uninstalled engines with one line saying what to do."""
    info = spec(name)
    if not available(name):
        raise UsageError(f"engine {name!r} needs {info.needs}; install it with: {info.install}")
    return name


def default_dtype(name: str) -> str:
    """The engine's natural float width: float64 for ours, float32 for the frameworks."""
    return spec(name).dtype


def check_supports(name: str, config: Config, dtype: str) -> None:
    """Refuse, before any work, a configuration or float width the engine cannot train."""
    caps = spec(name).capabilities
    asked = {"activation": (config.activation, caps.activations),
             "loss": (config.loss, caps.losses),
             "optimizer": (config.optimizer, caps.optimizers),
             "dtype": (dtype, caps.dtypes)}  # fmt: skip
    if config.early_stopping != "none":
        asked["stop_rule"] = (config.stopping_settings["stop_rule"], caps.stop_rules)
    for what, (value, allowed) in asked.items():
        if allowed is not None and value not in allowed:
            raise UsageError(
                f"engine {name!r} cannot train {what} {value!r}; it supports: "
                + ", ".join(sorted(allowed))
            )
    # what a configuration asks of an engine that computes as it trains: (asked, capability,
    # the choice as the message names it, why it takes an engine of its own)
    needs = ((bool(config.dropout), "dropout", f"dropout {config.dropout:g}",
              "every engine must drop the same units"),
             (config.early_stopping != "none", "stopping",
              f"early_stopping {config.early_stopping!r}", "each run stops on its own losses"),
             (SCHEDULES[config.schedule].adaptive, "plateau", f"schedule {config.schedule!r}",
              "its rate follows each run's losses"))  # fmt: skip
    for asked, capability, what, why in needs:
        if asked and not getattr(caps, capability):
            able = [e for e, s in ENGINES.items() if getattr(s.capabilities, capability)]
            raise UsageError(f"engine {name!r} cannot train {what} ({why}); engines that can: "
                             f"{', '.join(able)}")


# TensorFlow's C++ start-up lines, written before its log level (TF_CPP_MIN_LOG_LEVEL) applies
CHATTER = ("All log messages before absl::InitializeLog() is called",
           "oneDNN custom operations are on")  # fmt: skip


@contextlib.contextmanager
def _without_chatter() -> Iterator[None]:
    """Whatever an import writes to the process's stderr, less the CHATTER lines (written
    from C++, so Python's sys.stderr never sees them)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines
                                     if not any(c in line for c in CHATTER)))  # fmt: skip


def load(name: str) -> Engine:
    """Import an engine module on first use and return its engine; a library that fails to
    start (a bad KERAS_BACKEND, say) is one line naming the engine and the cause."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    module = ENGINES[check_engine(name)].module
    try:
        if module in sys.modules:
            return sys.modules[module].ENGINE
        with _without_chatter():
            return importlib.import_module(module).ENGINE
    except (ImportError, ValueError, RuntimeError) as e:
        if isinstance(e, UsageError):
            raise
        raise UsageError(f"engine {name!r} cannot start: {type(e).__name__}: {e}") from None


def gpu_driver_present() -> bool:
    """Whether this machine shows a GPU driver at all (NVIDIA's device files, or WSL's), so
    that without one no framework is imported just to be told there is no GPU."""
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "dxg").exists()


def has_device(name: str, device: str) -> bool:
    """Whether the engine is installed and can run on the device here (every engine has a CPU)."""
    if not available(name):
        return False
    if device == "cpu":
        return True
    if not spec(name).capabilities.gpu or not gpu_driver_present():
        return False
    return device in load(name).devices()


def unavailable(name: str, device: str) -> str:
    """Why a study column on this engine and device cannot run here, or '' when it can."""
    if not available(name):
        return f"needs {spec(name).needs} ({spec(name).install})"
    return "" if has_device(name, device) else f"no {device.upper()} here"
