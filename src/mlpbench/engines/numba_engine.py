"""The compiled engine: the NumPy engine's mathematics as numba kernels.

The kernels and their numerical conventions are in numba_kernels.py and
numba_math.py; this module lays out the parameters, calls the kernels and
times them. Compiled code is cached on disk; compile_time_s is the first
call's cost (compile or cache load) of the configuration's kernel variant in
this process, measured apart from training."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from mlpbench.config.core import Config
from mlpbench.engines.base import Engine, EpochCallback, Fit, Problem, Trainer
from mlpbench.engines.numba_kernels import constants, kernels, loss_code
from mlpbench.engines.numba_math import math_constants
from mlpbench.engines.numba_optimizers import OPTIMIZER_CODES, extended, step_table
from mlpbench.nn import stopping
from mlpbench.nn.model import Params
from mlpbench.nn.schedules import SCHEDULES


def layout(sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Offsets of each layer's weights and biases in the flat vector, and of its units."""
    woff, boff, uoff, pos = [], [], [0], 0
    for fan_in, fan_out in itertools.pairwise(sizes):
        woff.append(pos)
        pos += fan_in * fan_out
        boff.append(pos)
        pos += fan_out
        uoff.append(uoff[-1] + fan_in)
    return tuple(np.array(a, dtype=np.int64) for a in (sizes, woff, boff, uoff))


def flatten(params: Params) -> np.ndarray:
    """[W1, b1, ...] with a run axis -> one contiguous (R, P) array."""
    return np.ascontiguousarray(np.concatenate([p.reshape(p.shape[0], -1) for p in params], 1))


def unflatten(theta: np.ndarray, like: Params) -> Params:
    """Inverse of flatten, shaped like the given parameters."""
    out, pos = [], 0
    for p in like:
        size = int(np.prod(p.shape[1:]))
        out.append(theta[:, pos : pos + size].reshape(p.shape))
        pos += size
    return out


def _in_threads(kernel, per_run: tuple[np.ndarray, ...], shared: tuple) -> np.ndarray:
    """Call kernel run by run, the runs split over numba's threads; return each run's seconds."""
    runs = per_run[0].shape[0]
    seconds = np.zeros(runs)
    bounds = np.linspace(0, runs, min(runs, numba.get_num_threads()) + 1).astype(int)

    def call(lo: int, hi: int) -> None:
        for r in range(lo, hi):
            start = time.perf_counter()
            kernel(*(a[r : r + 1] for a in per_run), *shared)
            seconds[r] = time.perf_counter() - start

    with ThreadPoolExecutor(len(bounds) - 1) as pool:
        list(pool.map(call, bounds[:-1], bounds[1:]))
    return seconds


def _plateau(config: Config, dtype: str) -> np.ndarray:
    """The plateau schedule's settings as the kernel reads them (train_kernel)."""
    p = config.schedule_settings
    return np.array([p["plateau_factor"], p["plateau_patience"], p["plateau_min_delta"],
                     p["plateau_cooldown"], p["min_lr"], np.float32(p["min_lr"])],
                    dtype=dtype)  # fmt: skip


STOPPING_CODES = {"none": 0, "loss": 1, "val_loss": 2}  # numba_kernels.STOPPING


def _stop(config: Config, dtype: str) -> np.ndarray:
    """Early stopping's settings as the kernel reads them: patience, min_delta, restore, and
    the rule (1: scikit-learn's, 0: Keras')."""
    p = stopping.DEFAULTS | config.stopping_settings  # without stopping: unread defaults
    return np.array([p["stop_patience"], p["stop_min_delta"], float(p["restore_best"]),
                     float(p["stop_rule"] == "sklearn")], dtype=dtype)  # fmt: skip


# a variant's first call in this process: what compiling or loading its kernels cost
_first_call_s: dict[tuple, float] = {}


class NumbaTrainer(Trainer):
    """The kernels' arguments laid out once; fit trains each run on its own thread.

    Each run is timed on its own (Fit.seconds), so the harness's shares of the
    wall time keep the spread between runs and time comparisons have an interval.
    """

    def __init__(self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str):
        data, params, orders, factors = problem[:4]
        runs = len(lrs)
        settings, penalty = config.settings, config.penalty
        k = constants(dtype, config.optimizer, settings, penalty, config.dropout,
                      config.negative_slope)
        c = math_constants(dtype)
        self.shape, self.k, self.c = layout(config.layer_sizes), k, c
        step = extended(config.optimizer, settings)
        adaptive = SCHEDULES[config.schedule].adaptive
        self.stopping = STOPPING_CODES[config.early_stopping]
        self.kernels = kernels(config.activation, config.layer_sizes[-1] > 1, step,
                               penalty is not None, adaptive, self.stopping,
                               bool(config.dropout))  # fmt: skip
        self.like = params
        self.theta = flatten(params)
        self.curve = np.zeros((runs, config.epochs), dtype=dtype)
        self.penalties = np.zeros((runs, config.epochs if penalty else 1), dtype=dtype)
        self.regularized = penalty is not None
        shuffled = orders is not None
        order_arg = orders if shuffled else np.zeros((runs, 1, 1), dtype=np.int32)
        lr = np.asarray(lrs, dtype=dtype)
        held = problem.held or tuple(np.zeros((runs, 1, a.shape[2]), dtype)
                                     for a in (data.x_train, data.y_train))  # fmt: skip
        self.trained = np.full(runs, config.epochs, dtype=np.int64)
        self.validation = np.zeros((runs, config.epochs if problem.held else 1), dtype=dtype)
        keys = problem.dropout_keys
        self.per_run = (data.x_train, data.y_train, order_arg, self.theta, lr, self.curve,
                        self.penalties, *held, self.trained, self.validation,
                        np.zeros(runs, np.uint64) if keys is None else keys)  # fmt: skip
        codes = (loss_code(config.loss, config.layer_sizes[-1]), OPTIMIZER_CODES[config.optimizer])
        loop = (config.batch, step_table(config.optimizer, config.steps.total, k),
                np.ones(1, dtype) if factors is None else factors.astype(dtype),
                factors is not None, _plateau(config, dtype) if adaptive else np.zeros(6, dtype),
                _stop(config, dtype), np.array([float(config.dropout)]))  # fmt: skip
        self.shared = (shuffled, *self.shape, *codes, *loop, k, c)
        self.epochs = config.epochs

    def warm_up(self, x_test: np.ndarray) -> float:
        """Compile or load this variant's kernels once per process; return what that cost.

        The first call trains one epoch of a copy of run 0 and predicts run 0's
        test points, with arguments of the same types as the real calls.
        """
        key = (self.theta.dtype.name, self.kernels)
        if key not in _first_call_s:
            start = time.perf_counter()
            first = [a[:1].copy() for a in self.per_run]  # run 0's, its outputs copies
            self.kernels.train(*first, 1, *self.shared)
            self.logits(x_test[:1])
            _first_call_s[key] = time.perf_counter() - start
        return _first_call_s[key]

    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """All runs, spread over the cores."""
        seconds = _in_threads(self.kernels.train, self.per_run, (self.epochs, *self.shared))
        if on_epoch:
            on_epoch(len(seconds) * self.epochs)
        penalty = self.penalties if self.regularized else None
        return Fit(self.curve, unflatten(self.theta, self.like), seconds, penalty,
                   self.trained if self.stopping else None,
                   self.validation if self.stopping == 2 else None)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The compiled forward pass, runs spread over the cores."""
        z = np.zeros((*x.shape[:2], self.shape[0][-1]), dtype=self.theta.dtype)
        _in_threads(self.kernels.predict, (x, self.theta, z), (*self.shape, self.k, self.c))
        return z


class NumbaEngine(Engine):
    """The NumPy engine's arithmetic, compiled; a learning-rate sweep is just more runs."""

    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Load the process-wide kernels of the config's variant (their first-call cost is
        compile_time_s)."""
        trainer = NumbaTrainer(config, problem, lrs, dtype)
        trainer.compile_time_s = trainer.warm_up(problem.data.x_test)
        return trainer

    def versions(self) -> dict[str, str]:
        """Libraries this engine's numbers depend on."""
        threads = str(numba.get_num_threads())
        return {"numpy": np.__version__, "numba": numba.__version__, "numba threads": threads}

    def single_threaded(self) -> None:
        """Concurrent parallel regions in one process would be unsafe, and slower."""
        numba.set_num_threads(1)


ENGINE = NumbaEngine()
