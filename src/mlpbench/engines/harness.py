"""The one way every engine is run: shared start, timing, metrics and records.

`train` prepares the problem (data, initial weights and batch order of each
seed, identical for every engine), times the engine's compile, fit and test
prediction apart, computes every metric from the logits by the NumPy
definitions (`logit_metrics`), flags diverged runs and returns one
`RunResult` per seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mlpbench.data.dataset import Dataset, batch_orders, stack_datasets
from mlpbench.data.streams import dropout_keys
from mlpbench.engines.base import EpochCallback, Problem
from mlpbench.engines.registry import (
    check_engine,
    check_supports,
    default_dtype,
    has_device,
    load,
    spec,
)
from mlpbench.engines.results import CURVES, METRICS, RunResult
from mlpbench.errors import UsageError
from mlpbench.nn.activations import probabilities
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.model import Params, init_params

if TYPE_CHECKING:
    from mlpbench.config.core import Config


def prepare(config: Config, seeds: Sequence[int], dtype: str) -> Problem:
    """Data, initial weights and batch order of each seed, on a leading run axis.

    With a validation fraction, the last points of the train set are held out
    and take the test set's place, so tuning never sees the test set; early
    stopping on val_loss holds out the last points of what is left (held).
    """
    data = stack_datasets(config, seeds)
    data = Dataset(*(a.astype(dtype) for a in data))
    if config.validation:
        k = round(config.validation * config.m)
        x, y = data.x_train, data.y_train
        data = Dataset(x[:, :-k], y[:, :-k], x[:, -k:], y[:, -k:])
    held, k = None, config.train_size
    if k < data.x_train.shape[1]:
        x, y = data.x_train, data.y_train
        data, held = data._replace(x_train=x[:, :k], y_train=y[:, :k]), (x[:, k:], y[:, k:])
    params = init_params(config.layer_sizes, seeds, dtype, config.init, config.activation)
    orders = batch_orders(seeds, config.train_size, config.epochs, config.batch,
                          config.shuffle is not False)
    keys = dropout_keys(list(seeds)) if config.dropout else None
    return Problem(data, params, orders, config.rate_factors(), held, keys)


def accuracy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Percent of samples classed right, per run: one output >= 0.5 predicts class 1; of k
    softmax outputs, the largest (the first of equals) predicts its class."""
    if p.shape != y.shape:
        raise ValueError(f"outputs {p.shape} and targets {y.shape} must have one shape")
    if p.shape[-1] == 1:
        return ((p >= 0.5) == (y > 0.5)).mean(axis=(1, 2)) * 100.0
    return (p.argmax(axis=-1) == y.argmax(axis=-1)).mean(axis=1) * 100.0


def _per_run(seconds: float, own: np.ndarray | None, runs: int) -> np.ndarray:
    """Each run's share of a wall time: 1/R, or in proportion to its own time."""
    if own is None or not np.all(np.isfinite(own)) or own.sum() <= 0:
        return np.full(runs, seconds / runs)
    if np.shape(own) != (runs,):
        raise ValueError(f"need one time per run ({runs}), got shape {np.shape(own)}")
    return np.asarray(own, dtype=np.float64) * (seconds / own.sum())


def logit_metrics(
    config: Config, data: Dataset, z_train: np.ndarray, z_test: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy and loss of R runs from their output logits (R, count, k), NumPy definitions."""
    z_train, z_test = z_train.astype(np.float64), z_test.astype(np.float64)
    y_train, y_test = data.y_train.astype(np.float64), data.y_test.astype(np.float64)
    loss = LOSSES[config.loss].value
    return {
        "train_accuracy": accuracy(probabilities(z_train), y_train),
        "test_accuracy": accuracy(probabilities(z_test), y_test),
        "train_loss": loss(z_train, y_train),
        "test_loss": loss(z_test, y_test),
    }


DIVERGENCE_FACTOR = 1e6  # a loss this many times the first epoch's means the run blew up
# No network that learns comes near this weight; past it, engines overflow at different
# points (float32 squares overflow from 1.8e19), so they would disagree on NaN alone.
WEIGHT_LIMIT = 1e12


def diverged(curve: np.ndarray, params: list[np.ndarray], train_loss: float) -> bool:
    """One rule for every engine: a run diverged when its loss stopped being finite or
    some epoch's loss exceeded DIVERGENCE_FACTOR x the first epoch's, or a final weight is
    not finite or beyond WEIGHT_LIMIT in magnitude."""
    curve = np.asarray(curve, dtype=np.float64)
    if not (np.isfinite(curve).all() and np.isfinite(train_loss)):
        return True
    if any(not (np.abs(p) <= WEIGHT_LIMIT).all() for p in params):  # NaN fails <= too
        return True
    return bool(curve.max() > DIVERGENCE_FACTOR * max(float(curve[0]), np.finfo(float).tiny))


def collect(
    seeds: Sequence[int],
    curve: np.ndarray,
    params: Params,
    metrics: dict[str, np.ndarray],
    curves: dict[str, np.ndarray] | None = None,
    trained: np.ndarray | None = None,
) -> list[RunResult]:
    """Split per-run arrays (leading run axis) into one RunResult per seed, each flagged by
    `diverged`; curves holds the other per-epoch curves (CURVES names, each (R, epochs)),
    and a run that stopped early keeps its first trained[r] epochs of each."""
    if set(metrics) != set(METRICS):
        raise ValueError(f"engine returned metrics {sorted(metrics)}, expected {sorted(METRICS)}")
    runs, curves = len(seeds), curves or {}
    if curve.shape[0] != runs or any(np.shape(p)[0] != runs for p in params):
        raise ValueError(f"engine returned results for other than {runs} runs")
    for name, other in curves.items():
        if name not in CURVES or np.shape(other) != curve.shape:
            raise ValueError(f"engine returned curve {name!r} of shape {np.shape(other)}, "
                             f"expected one of {sorted(CURVES)} shaped {curve.shape}")
    epochs = np.full(runs, curve.shape[1]) if trained is None else np.asarray(trained)
    if epochs.shape != (runs,) or not np.all((epochs >= 1) & (epochs <= curve.shape[1])):
        raise ValueError(f"engine returned epochs trained {epochs} for {runs} runs of "
                         f"{curve.shape[1]} epochs")  # fmt: skip
    out = []
    for r, seed in enumerate(seeds):
        loss_curve = np.asarray(curve[r, : epochs[r]], dtype=np.float64)
        final = [p[r] for p in params]
        out.append(RunResult(
            seed=int(seed),
            metrics={k: float(v[r]) for k, v in metrics.items()},
            loss_curve=loss_curve,
            params=[np.asarray(p, dtype=np.float64).tolist() for p in final],
            diverged=diverged(loss_curve, final, metrics["train_loss"][r]),
            curves={k: np.asarray(v[r, : epochs[r]], dtype=np.float64) for k, v in curves.items()},
        ))  # fmt: skip
    return out


def _rates(name: str, config: Config, runs: int, lrs: Sequence[float] | None) -> np.ndarray:
    rates = np.full(runs, float(config.lr)) if lrs is None else np.asarray(lrs, dtype=np.float64)
    if rates.shape != (runs,):
        raise ValueError(f"need one learning rate per run ({runs}), got shape {rates.shape}")
    if not spec(name).capabilities.per_run_lr and np.any(rates != config.lr):
        raise ValueError(f"engine {name!r} trains one learning rate per call")
    return rates


def train(
    name: str,
    config: Config,
    seeds: Sequence[int],
    dtype: str | None = None,
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    lrs: Sequence[float] | None = None,
) -> list[RunResult]:
    """Train len(seeds) runs of one configuration on an engine, measured and recorded.

    lrs, if given, sets each run's learning rate (engines with per_run_lr), so
    a grid of rates x seeds trains as one call; config.lr is then ignored.
    """
    dtype = dtype or default_dtype(name)
    check_engine(name)
    check_supports(name, config, dtype)
    if not has_device(name, device):
        raise UsageError(f"engine {name!r} has no {device.upper()} here")
    engine = load(name)
    runs = len(seeds)
    problem = prepare(config, seeds, dtype)
    rates = _rates(name, config, runs, lrs)
    with np.errstate(all="ignore"):  # diverged runs are detected, not warned about
        start = time.perf_counter()
        trainer = engine.compile(config, problem, rates, dtype, device)
        compiled = time.perf_counter() - start
        start = time.perf_counter()
        fit = trainer.fit(on_epoch)
        train_time = time.perf_counter() - start
        start = time.perf_counter()
        z_test = np.asarray(trainer.logits(problem.data.x_test))
        test_time = time.perf_counter() - start
        z_train = np.asarray(trainer.logits(problem.data.x_train))
        metrics = logit_metrics(config, problem.data, z_train, z_test)
    compile_time = compiled if trainer.compile_time_s is None else trainer.compile_time_s
    metrics |= {
        "train_time_s": _per_run(train_time, fit.seconds, runs),
        "test_time_s": np.full(runs, test_time / runs),
        "compile_time_s": np.full(runs, compile_time),
    }
    if (fit.penalty is None) != (config.penalty is None):
        raise ValueError(f"engine {name!r} returned {'no ' if fit.penalty is None else ''}"
                         "penalty curve for a configuration with"
                         f"{'' if config.penalty else 'out'} a weight penalty")
    curves = {} if fit.penalty is None else {"penalty": np.asarray(fit.penalty)}
    if fit.validation is not None:
        curves["val_loss"] = np.asarray(fit.validation)
    if (fit.trained is None) != (config.early_stopping == "none"):
        raise ValueError(f"engine {name!r} returned {'no ' if fit.trained is None else ''}"
                         f"epochs trained for early_stopping {config.early_stopping!r}")
    return collect(seeds, np.asarray(fit.curve), [np.asarray(p) for p in fit.params], metrics,
                   curves, fit.trained)  # fmt: skip
