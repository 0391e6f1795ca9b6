"""The compiled engine: the NumPy engine's mathematics as numba kernels.

The kernels and their numerical conventions are in numba_kernels.py and
numba_math.py; this module lays out the parameters, calls the kernels and
times them. Compiled code is cached on disk; compile_time_s is the first
call's cost (compile or cache load) in this process, measured apart from
training."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from mlpbench.config import Config
from mlpbench.engines import EpochCallback, RunResult, collect, logit_metrics, prepare
from mlpbench.engines.numba_kernels import (
    ACTIVATION_CODES,
    LOSS_CODES,
    OPTIMIZER_CODES,
    adam_corrections,
    constants,
    predict_kernel,
    train_kernel,
)
from mlpbench.engines.numba_math import math_constants
from mlpbench.model import Params


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


def _timed(kernel, per_run: tuple[np.ndarray, ...], shared: tuple) -> np.ndarray:
    """Each run's share of the wall time of all runs, in proportion to its own time.

    The shares add up to the wall time, as the other engines' do, but keep
    the spread between runs, so a comparison of two columns has an interval.
    """
    start = time.perf_counter()
    own = _in_threads(kernel, per_run, shared)
    return own * ((time.perf_counter() - start) / own.sum())


_first_call_s: dict[str, float] = {}


def warm_up(dtype: str) -> float:
    """Compile or load the kernels for a dtype once per process; return what that cost."""
    if dtype not in _first_call_s:
        start = time.perf_counter()
        tiny = Config(m=2, n=1, epochs=1, batch_size=1)
        _run(tiny, [0], dtype)
        _first_call_s[dtype] = time.perf_counter() - start
    return _first_call_s[dtype]


def _run(config: Config, seeds: Sequence[int], dtype: str, lrs: Sequence[float] | None = None):
    data, params, orders = prepare(config, seeds, dtype)
    runs = len(seeds)
    k, c = constants(dtype), math_constants(dtype)
    shape = layout(config.layer_sizes)
    act = ACTIVATION_CODES[config.activation]
    theta = flatten(params)
    curve = np.zeros((runs, config.epochs), dtype=dtype)
    shuffled = orders is not None
    order_arg = orders if shuffled else np.zeros((runs, 1, 1), dtype=np.int32)
    lr = np.full(runs, config.lr, dtype=dtype) if lrs is None else np.asarray(lrs, dtype=dtype)
    if lr.shape != (runs,):
        raise ValueError(f"need one learning rate per run ({runs}), got shape {lr.shape}")
    batches = math.ceil(data.x_train.shape[1] / config.batch)
    steps = config.epochs * batches if config.optimizer == "adam" else 0
    per_run = (data.x_train, data.y_train[:, :, 0], order_arg, theta, lr, curve)
    codes = (LOSS_CODES[config.loss], OPTIMIZER_CODES[config.optimizer])
    loop = (config.batch, config.epochs, *adam_corrections(steps, k))
    train_time = _timed(train_kernel, per_run, (shuffled, *shape, act, *codes, *loop, k, c))
    z_train = np.zeros(data.y_train.shape[:2], dtype=dtype)
    _in_threads(predict_kernel, (data.x_train, theta, z_train), (*shape, act, k, c))
    z_test = np.zeros(data.y_test.shape[:2], dtype=dtype)
    test_time = _timed(predict_kernel, (data.x_test, theta, z_test), (*shape, act, k, c))
    times = (train_time, test_time)
    return data, unflatten(theta, params), curve, z_train[:, :, None], z_test[:, :, None], times


PER_RUN_LR = True  # train() takes lrs: a learning-rate sweep is just more runs


def train(
    config: Config,
    seeds: Sequence[int],
    dtype: str = "float64",
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    lrs: Sequence[float] | None = None,
) -> list[RunResult]:
    """Train len(seeds) runs of one configuration, spread over the cores.

    lrs, if given, sets each run's learning rate (one per seed), so a grid of
    rates x seeds trains as one group; config.lr is then ignored.
    """
    compile_time = warm_up(dtype)
    runs = len(seeds)
    with np.errstate(all="ignore"):  # diverged runs are detected, not warned about
        data, params, curve, z_train, z_test, (train_time, test_time) = _run(
            config, seeds, dtype, lrs
        )
        times = (train_time, test_time, compile_time)
        metrics = logit_metrics(config, data, z_train, z_test, times)
    if on_epoch:
        on_epoch(runs * config.epochs)
    return collect(seeds, curve, params, metrics)


def devices() -> tuple[str, ...]:
    """Where this engine can run here: the CPU only."""
    return ("cpu",)


def versions() -> dict[str, str]:
    """Libraries this engine's numbers depend on."""
    threads = str(numba.get_num_threads())
    return {"numpy": np.__version__, "numba": numba.__version__, "numba threads": threads}
