"""One interface, several engines in sibling modules, imported only when used.

An engine module exposes

    train(config, seeds, dtype, device, on_epoch=None) -> list[RunResult]
    devices() -> tuple[str, ...]      # "cpu", and "gpu" where it can use one here
    versions() -> dict[str, str]      # libraries and thread counts its numbers depend on

and trains len(seeds) runs of one configuration. Every engine starts from
`prepare(...)`: the same data, initial weights and batch order for a seed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import NamedTuple

import numpy as np

from mlpbench.config import Config
from mlpbench.data import Dataset, batch_orders, stack_datasets
from mlpbench.errors import UsageError
from mlpbench.losses import LOSSES
from mlpbench.model import Params, init_params, sigmoid


class EngineInfo(NamedTuple):
    """Where an engine lives, what it needs, and its natural float width."""

    module: str
    needs: str
    install: str
    dtype: str


ENGINES: dict[str, EngineInfo] = {
    "numpy": EngineInfo(
        "mlpbench.engines.numpy_engine", "numpy", "pip install mlpbench", "float64"
    ),
    "numba": EngineInfo(
        "mlpbench.engines.numba_engine", "numba", "pip install 'mlpbench[fast]'", "float64"
    ),
    "keras": EngineInfo(
        "mlpbench.engines.keras_engine", "keras", "pip install 'mlpbench[tf]'", "float32"
    ),
    "tf-function": EngineInfo(
        "mlpbench.engines.tf_function_engine", "tensorflow", "pip install 'mlpbench[tf]'", "float32"
    ),
    "tf-xla": EngineInfo(
        "mlpbench.engines.tf_xla_engine", "tensorflow", "pip install 'mlpbench[tf]'", "float32"
    ),
}

METRICS = (
    "train_accuracy",
    "test_accuracy",
    "train_loss",
    "test_loss",
    "train_time_s",
    "test_time_s",
    "compile_time_s",
)

EpochCallback = Callable[[int], None]


@dataclass
class RunResult:
    """What one run produced; accuracies in percent, times in seconds."""

    seed: int
    metrics: dict[str, float]
    loss_curve: np.ndarray
    params: list
    diverged: bool


class Problem(NamedTuple):
    """Everything an engine needs for R runs, identical across engines."""

    data: Dataset
    params: Params
    orders: np.ndarray | None


def prepare(config: Config, seeds: Sequence[int], dtype: str) -> Problem:
    """Data, initial weights and batch order of each seed, on a leading run axis.

    With a validation fraction, the last points of the train set are held out
    and take the test set's place, so tuning never sees the test set.
    """
    data = stack_datasets(config.data, config.m, config.n, seeds)
    data = Dataset(*(a.astype(dtype) for a in data))
    if config.validation:
        k = config.train_size
        x, y = data.x_train, data.y_train
        data = Dataset(x[:, :k], y[:, :k], x[:, k:], y[:, k:])
    params = init_params(config.layer_sizes, seeds, dtype)
    orders = batch_orders(seeds, config.train_size, config.epochs, config.batch)
    return Problem(data, params, orders)


def accuracy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Percent of outputs on the right side of 0.5 (output >= 0.5 predicts 1), per run."""
    if p.shape != y.shape:
        raise ValueError(f"outputs {p.shape} and targets {y.shape} must have one shape")
    return ((p >= 0.5) == (y > 0.5)).mean(axis=(1, 2)) * 100.0


def _per_run(seconds: float | np.ndarray, runs: int) -> np.ndarray:
    if np.ndim(seconds) == 0:
        return np.full(runs, seconds / runs)
    if np.shape(seconds) != (runs,):
        raise ValueError(f"need one time per run ({runs}), got shape {np.shape(seconds)}")
    return np.asarray(seconds, dtype=np.float64)


def logit_metrics(
    config: Config,
    data: Dataset,
    z_train: np.ndarray,
    z_test: np.ndarray,
    times: tuple[float | np.ndarray, float | np.ndarray, float],
) -> dict[str, np.ndarray]:
    """Metrics of R runs from their output logits (R, count, 1), by the NumPy definitions.

    times are those of training and of predicting the test set, each either
    per run (R,) or the wall time of all R runs together (each run is given
    1/R), and the one-off compile time.
    """
    runs = z_train.shape[0]
    train_time, test_time, compile_time = times
    loss = LOSSES[config.loss].value
    return {
        "train_accuracy": accuracy(sigmoid(z_train), data.y_train),
        "test_accuracy": accuracy(sigmoid(z_test), data.y_test),
        "train_loss": loss(z_train, data.y_train),
        "test_loss": loss(z_test, data.y_test),
        "train_time_s": _per_run(train_time, runs),
        "test_time_s": _per_run(test_time, runs),
        "compile_time_s": np.full(runs, compile_time),
    }


def collect(
    seeds: Sequence[int], curve: np.ndarray, params: Params, metrics: dict[str, np.ndarray]
) -> list[RunResult]:
    """Split per-run arrays (leading run axis) into one RunResult per seed.

    A run diverged when its loss became NaN or infinite at any point.
    """
    if set(metrics) != set(METRICS):
        raise ValueError(f"engine returned metrics {sorted(metrics)}, expected {sorted(METRICS)}")
    return [
        RunResult(
            seed=int(seed),
            metrics={k: float(v[r]) for k, v in metrics.items()},
            loss_curve=np.asarray(curve[r], dtype=np.float64),
            params=[np.asarray(p[r]).tolist() for p in params],
            diverged=not (np.isfinite(curve[r]).all() and np.isfinite(metrics["train_loss"][r])),
        )
        for r, seed in enumerate(seeds)
    ]


def available(name: str) -> bool:
    """Whether the engine's library can be imported here."""
    return name in ENGINES and importlib.util.find_spec(ENGINES[name].needs) is not None


def default_engine() -> str:
    """The fastest engine installed: numba where present, else the NumPy reference."""
    return "numba" if available("numba") else "numpy"


def check_engine_name(name: str) -> str:
    """Reject engine names mlpbench does not know."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    return name


def check_engine(name: str) -> str:
    """Reject unknown or uninstalled engines with one line saying what to do."""
    if not available(check_engine_name(name)):
        info = ENGINES[name]
        raise UsageError(f"engine {name!r} needs {info.needs}; install it with: {info.install}")
    return name


def load(name: str) -> ModuleType:
    """Import an engine module on first use."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    return importlib.import_module(ENGINES[check_engine(name)].module)


def default_dtype(name: str) -> str:
    """The engine's natural float width: float64 for ours, float32 for Keras and TensorFlow."""
    return ENGINES[check_engine_name(name)].dtype


def has_device(name: str, device: str) -> bool:
    """Whether an installed engine can run on the device here (every engine has a CPU)."""
    return device == "cpu" or (available(name) and device in load(name).devices())
