"""One training configuration, validated once so every engine can trust it."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from mlpbench.data.dataset import (
    DATASETS,
    FORMULA,
    GENERATED,
    SCALES,
    DataInfo,
    default_sizes,
    describe,
    is_file,
    rule,
)
from mlpbench.errors import UsageError
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.model import ACTIVATIONS
from mlpbench.nn.optimizers import OPTIMIZERS

# Config fields whose values are names in a registry: the registry is the one source
REGISTRIES: dict[str, tuple[str, dict]] = {
    "activation": ("activation", ACTIVATIONS),
    "loss": ("loss", LOSSES),
    "optimizer": ("optimizer", OPTIMIZERS),
}
DTYPE_NAMES = ("float64", "float32")
MAX_EPOCHS = 10_000_000  # per run; more would take hours even on the smallest problem
DASK_WAIT_S = 60.0  # how long to wait for a Dask scheduler's first worker
DEVICE_NAMES = ("cpu", "gpu")
FORMULA_RANGE = (-2.0, 2.0)


@dataclass(frozen=True)
class Config:
    """What is trained: data, network, loss, optimizer and schedule (not the engine)."""

    data: str = "quadratic"  # a data set's name, or a CSV file's path
    target: str = ""  # a CSV file's target column ("": its last)
    test: str = ""  # a CSV test file ("": a seeded split of the data file's rows)
    scale: str | None = None  # standard or none (None: standard for tables, none otherwise)
    noise: float = 0.0  # Playground's and moons' noise level, in [0, 1]
    rule: str = ""  # the formula data set's rule
    range: tuple[float, float] = FORMULA_RANGE  # the formula data set's input range
    m: int | None = None  # train points (None: 1000, or a table's rows less the test part)
    n: int | None = None  # test points (None: 100, or the rest of a table's rows)
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
        _validate_data(self)
        info = self.info
        m, n = default_sizes(info)
        object.__setattr__(self, "m", m if self.m is None else self.m)
        object.__setattr__(self, "n", n if self.n is None else self.n)
        _validate(self, info)

    @property
    def info(self) -> DataInfo:
        """Inputs, classes and rows of the data (a file is read once while unchanged)."""
        return describe(self)

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
        """Units per layer, input to output: (2, 3, 1) for the seed network; a softmax
        output has one unit per class."""
        info = self.info
        return (info.inputs, *self.hidden, info.outputs)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: batch size resolved, so full batch and B = m are one config; data
        fields at their defaults left out (so older stores keep their keys), a table's
        sha256 put in (so runs on a changed file never mix with the old one's)."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["batch_size"] = self.batch
        d["lr"] = float(self.lr)
        d["validation"] = float(self.validation)
        d["range"] = [float(v) for v in self.range]
        for name, default in DATA_DEFAULTS.items():
            if d[name] == default:
                del d[name]
        sha = self.info.sha256
        return d | ({"file_sha256": sha} if sha else {})

    def key(self) -> str:
        """Stable identity of the configuration for the store: a file's content, not its
        path."""
        d = self.as_dict()
        for name in ("data", "test"):
            if is_file(d.get(name, "")):
                d[name] = "file"
        text = json.dumps(d, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(Config))
DATA_FIELDS = ("data", "target", "test", "scale", "noise", "rule", "range", "m", "n")
# the fields a configuration leaves out of its canonical form while at their default (they
# came with user data, after stores had keys without them)
OPTIONAL_FIELDS = ("target", "test", "scale", "noise", "rule", "range")
DATA_DEFAULTS = {f.name: list(f.default) if isinstance(f.default, tuple) else f.default
                 for f in dataclasses.fields(Config) if f.name in OPTIONAL_FIELDS}  # fmt: skip


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


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate_data(c: Config) -> None:
    """The data fields, before the data are looked at; file paths made absolute."""
    for name in ("target", "test", "rule"):
        if not isinstance(getattr(c, name), str):
            raise UsageError(f"{name} must be a string, got {getattr(c, name)!r}", name)
    if not is_file(c.data):
        names = ", ".join(DATASETS)
        if not isinstance(c.data, str) or c.data not in DATASETS:
            raise UsageError(f"unknown data set {c.data!r}; allowed: {names}, or a CSV file's "
                             "path (name.csv)", "data")  # fmt: skip
        for name in ("target", "test"):
            if getattr(c, name):
                raise UsageError(f"{name} applies to a CSV data file only, not to data set "
                                 f"{c.data!r}", name)  # fmt: skip
    else:
        object.__setattr__(c, "data", os.path.abspath(c.data))
    if c.test:
        if not is_file(c.test):
            raise UsageError(f"test must be a .csv file, got {c.test!r}", "test")
        object.__setattr__(c, "test", os.path.abspath(c.test))
    if c.scale is not None:
        _choice("scale", c.scale, SCALES, "scale")
    if not _finite(c.noise) or not 0 <= c.noise <= 1:
        raise UsageError(f"noise must be a number in [0, 1], got {c.noise!r}", "noise")
    noisy = [name for name, g in GENERATED.items() if g.noisy]
    if c.noise and c.data not in noisy:
        raise UsageError(f"noise applies to data sets {', '.join(noisy)} only; got data set "
                         f"{c.data!r}", "noise")  # fmt: skip
    if not isinstance(c.range, (list, tuple)) or len(c.range) != 2 or not all(
            _finite(v) for v in c.range) or not c.range[0] < c.range[1] or not math.isfinite(
            c.range[1] - c.range[0]):  # fmt: skip
        raise UsageError(f"range must be two finite numbers low < high, a finite width apart,"
                         f" got {c.range!r}", "range")  # fmt: skip
    object.__setattr__(c, "range", (float(c.range[0]), float(c.range[1])))
    if c.data == FORMULA:
        rule(c.rule)  # checked: one line on a rule that cannot be read
    elif c.rule or c.range != FORMULA_RANGE:
        raise UsageError(f"rule and range apply to data set 'formula' only; got data set "
                         f"{c.data!r}", "rule")  # fmt: skip


def _validate_sizes(c: Config, info: DataInfo) -> None:
    for name in ("m", "n"):
        _positive_int(name, getattr(c, name), name)
    if info.rows is None:
        return
    what = os.path.basename(c.data)
    if info.test_rows is not None:
        for name, rows, source in (("m", info.rows, what), ("n", info.test_rows,
                                                            os.path.basename(c.test))):
            if getattr(c, name) > rows:
                raise UsageError(f"{name} = {getattr(c, name)} is larger than the {rows} rows"
                                 f" of {source!r}", name)  # fmt: skip
    elif c.m + c.n > info.rows:
        raise UsageError(f"m + n = {c.m} + {c.n} is more than the {info.rows} rows of "
                         f"{what!r}", "m" if c.m > info.rows - 1 else "n")  # fmt: skip


def _validate_loss(c: Config, info: DataInfo) -> None:
    k, name = len(info.classes), os.path.basename(c.data)
    if c.loss == "bce" and k > 2:
        raise UsageError(f"loss 'bce' is for two classes; data {name!r} have {k}: use cce (or "
                         "mse)", "loss")  # fmt: skip
    if c.loss == "cce" and k == 2:
        raise UsageError(f"loss 'cce' is for 3 or more classes; data {name!r} have 2: use bce "
                         "(or mse)", "loss")  # fmt: skip


def _validate(c: Config, info: DataInfo) -> None:
    for name, (what, registry) in REGISTRIES.items():
        _choice(what, getattr(c, name), tuple(registry), name)
    _validate_sizes(c, info)
    _validate_loss(c, info)
    _positive_int("epochs", c.epochs, "epochs")
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
    per_run = 8 * ((config.m + config.n) * (sizes[0] + sizes[-1]) + 4 * weights + activations)
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
