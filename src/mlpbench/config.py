"""One training configuration, validated once so every engine can trust it."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from mlpbench.data import DATASETS
from mlpbench.errors import UsageError
from mlpbench.losses import LOSSES
from mlpbench.model import ACTIVATIONS
from mlpbench.optimizers import OPTIMIZERS

# Config fields whose values are names in a registry: the registry is the one source
REGISTRIES: dict[str, tuple[str, dict]] = {
    "data": ("data set", DATASETS),
    "activation": ("activation", ACTIVATIONS),
    "loss": ("loss", LOSSES),
    "optimizer": ("optimizer", OPTIMIZERS),
}
DTYPE_NAMES = ("float64", "float32")
MAX_EPOCHS = 10_000_000  # per run; more would take hours even on the smallest problem
DASK_WAIT_S = 60.0  # how long to wait for a Dask scheduler's first worker
DEVICE_NAMES = ("cpu", "gpu")


@dataclass(frozen=True)
class Config:
    """What is trained: data, network, loss, optimizer and schedule (not the engine)."""

    data: str = "quadratic"
    m: int = 1000
    n: int = 100
    hidden: tuple[int, ...] = (3,)
    activation: str = "sigmoid"
    loss: str = "bce"
    optimizer: str = "sgd"
    lr: float = 10.0
    batch_size: int | None = None
    epochs: int = 1000
    validation: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, (list, tuple)):
            raise UsageError(
                f"hidden must be a list of layer sizes such as [3], got {self.hidden!r}"
            )
        object.__setattr__(self, "hidden", tuple(self.hidden))
        _validate(self)

    @property
    def train_size(self) -> int:
        """Points trained on: m less the validation hold-out (the last points drawn)."""
        return self.m - round(self.validation * self.m)

    @property
    def batch(self) -> int:
        """The mini-batch size actually used: None means full batch (all trained points)."""
        return self.train_size if self.batch_size is None else self.batch_size

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units per layer, input to output: (2, 3, 1) for the seed network."""
        return (2, *self.hidden, 1)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: batch size resolved, so full batch and B = m are one config."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["batch_size"] = self.batch
        d["lr"] = float(self.lr)
        d["validation"] = float(self.validation)
        return d

    def key(self) -> str:
        """Stable identity of the configuration for the store."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(Config))


@dataclass(frozen=True)
class Job:
    """How a configuration is run: engine, float width and device. The unit of storage."""

    config: Config
    engine: str
    dtype: str = "float64"
    device: str = "cpu"

    def describe(self) -> str:
        """Short label for progress bars and tables."""
        return f"{self.engine}, {self.dtype}" + (", GPU" if self.device == "gpu" else "")


def _choice(name: str, value: object, allowed: tuple[str, ...], field: str | None = None) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise UsageError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}", field)


def _positive_int(name: str, value: object, field: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, got {value!r}", field)


def _validate(c: Config) -> None:
    for name, (what, registry) in REGISTRIES.items():
        _choice(what, getattr(c, name), tuple(registry), name)
    for name in ("m", "n", "epochs"):
        _positive_int(name, getattr(c, name), name)
    if c.epochs > MAX_EPOCHS:
        raise UsageError(f"epochs must be at most {MAX_EPOCHS} per run, got {c.epochs}", "epochs")
    if not c.hidden:
        raise UsageError("hidden must list at least one layer size, got []", "hidden")
    for units in c.hidden:
        _positive_int("hidden layer size", units, "hidden")
    lr_ok = isinstance(c.lr, (int, float)) and not isinstance(c.lr, bool)
    if not lr_ok or not math.isfinite(c.lr) or c.lr <= 0:
        raise UsageError(f"learning rate must be a finite number > 0, got {c.lr!r}", "lr")
    v = c.validation
    v_ok = isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1
    if not v_ok or (v > 0 and not 1 <= round(v * c.m) < c.m):
        raise UsageError(
            f"validation must be a fraction in [0, 1) leaving points on both sides of m = {c.m},"
            f" got {v!r}",
            "validation",
        )
    if c.batch_size is not None:
        _positive_int("batch size", c.batch_size, "batch_size")
        if c.batch_size > c.train_size:
            where = "m" if c.train_size == c.m else "the trained points"
            raise UsageError(
                f"batch size must be between 1 and {where} = {c.train_size}, got {c.batch_size}",
                "batch_size",
            )


def check_dtype(dtype: str) -> str:
    """Reject float widths the engines do not implement."""
    _choice("dtype", dtype, DTYPE_NAMES)
    return dtype


def check_device(device: str) -> str:
    """Reject devices other than cpu and gpu."""
    _choice("device", device, DEVICE_NAMES)
    return device


MAX_RUNS = 100_000  # per configuration; a million seeds would not even fit a report's table


def check_runs(runs: object) -> int:
    """Runs per configuration: a positive integer, at most MAX_RUNS (checked before a list of
    seeds is ever made, so 10^9 runs cannot exhaust memory just being enumerated)."""
    _positive_int("runs", runs)
    if runs > MAX_RUNS:  # type: ignore[operator]
        raise UsageError(f"runs must be at most {MAX_RUNS}, got {runs}")
    return int(runs)  # type: ignore[arg-type]


SEED_LIMIT = 2**63  # seeds are stored as SQLite's signed 64-bit integers


def check_seeds(first: object, runs: int) -> int:
    """Seeds first .. first + runs - 1 must lie in [0, 2^63)."""
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise UsageError(f"seed must be an integer >= 0, got {first!r}")
    if first + runs > SEED_LIMIT:
        raise UsageError(
            f"seeds {first}..{first + runs - 1} run past the largest seed 2^63 - 1; "
            f"use a seed <= {SEED_LIMIT - runs}"
        )
    return first


def memory_bytes(config: Config, runs: int) -> int:
    """A generous estimate of the memory one engine call needs for R runs of a config.

    Per run: the data (float64, inputs plus target), the weights with the
    optimizer's two moments and the gradient, the activations of the largest
    batch, the loss curve, and the batch order (int32 per epoch and point).
    """
    sizes = config.layer_sizes
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    activations = config.batch * sum(sizes) * 2
    orders = config.epochs * config.train_size if config.batch < config.train_size else 0
    per_run = 8 * ((config.m + config.n) * (sizes[0] + 1) + 4 * weights + activations)
    return runs * (per_run + 8 * config.epochs + 4 * orders)


def check_size(config: Config, runs: int, available: int) -> None:
    """Refuse, before any work, a job that could not fit in the memory there is."""
    need = memory_bytes(config, runs)
    if need > available:
        raise UsageError(
            f"{runs} run(s) of m={config.m}, n={config.n}, hidden={list(config.hidden)}, "
            f"epochs={config.epochs}, batch={config.batch} need about {need / 2**30:.3g} GiB, "
            f"more than the {available / 2**30:.3g} GiB this machine can give; "
            "use fewer runs, epochs or points, or smaller layers"
        )
