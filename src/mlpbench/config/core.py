"""One training configuration, validated once so every engine can trust it."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from typing import Any

from mlpbench.config.fields import BY_NAME, DEFAULTS_LEFT_OUT, FIELDS, SECTION_KEYS
from mlpbench.config.kinds import FORMULA_RANGE, KINDS, choice_error, count_error
from mlpbench.data.dataset import (
    DATASETS,
    FORMULA,
    GENERATED,
    DataInfo,
    check_scaling,
    default_sizes,
    describe,
    feature,
    is_file,
    rule,
)
from mlpbench.errors import UsageError, shown
from mlpbench.nn import optimizers, regularizers, schedules, stopping
from mlpbench.nn.activations import NEGATIVE_SLOPE, Hidden, hidden
from mlpbench.nn.optimizers import Settings
from mlpbench.nn.regularizers import Penalty

DTYPE_NAMES = ("float64", "float32")
DASK_WAIT_S = 60.0  # how long to wait for a Dask scheduler's first worker
DEVICE_NAMES = ("cpu", "gpu")


def from_fields(cls: type) -> type:
    """A frozen dataclass of cls with one attribute per field of FIELDS, in their order."""
    cls.__annotations__ = {f.name: f.annotation for f in FIELDS}
    for f in FIELDS:
        setattr(cls, f.name, f.default)
    return dataclass(frozen=True)(cls)


@from_fields
class Config:
    """What is trained: data, network, loss, optimizer, schedule, penalty (not the engine); its
    fields are those of `mlpbench.config.fields.FIELDS`."""

    def __post_init__(self) -> None:
        for name in ("hidden", "boundaries", "values", "features"):  # lists from a file or Python
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate_data(self)
        info = describe(self)
        object.__setattr__(self, "_info", info)  # the data as read now, kept for the key
        if self.loss is None:  # the loss the data call for
            object.__setattr__(self, "loss", "cce" if len(info.classes) > 2 else "bce")
        m, n = default_sizes(info)
        object.__setattr__(self, "m", m if self.m is None else self.m)
        object.__setattr__(self, "n", n if self.n is None else self.n)
        _validate(self, info)

    @property
    def info(self) -> DataInfo:
        """Inputs, classes, rows and sha256 of the data as this config read it; training checks
        a file still has that sha256, so runs are stored under the bytes they trained on."""
        return self._info

    @property
    def train_size(self) -> int:
        """Points trained on: m less the validation hold-out and early stopping's (the last
        points drawn)."""
        return _trained(self.m, self.validation, self.early_stopping, self.stopping_settings)

    @property
    def stopping_settings(self) -> dict[str, Any]:
        """Every setting early stopping reads, each left out at its default."""
        return stopping.resolve(self.early_stopping, {n: getattr(self, n) for n in
                                                      stopping.SETTINGS})  # fmt: skip

    @property
    def batch(self) -> int:
        """The mini-batch size actually used: None means full batch (all trained points)."""
        return self.train_size if self.batch_size is None else self.batch_size

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units per layer, input to output: (2, 3, 1) for the seed network; a softmax
        output has one unit per class."""
        info = self.info
        return (len(self.features) or info.inputs, *self.hidden, info.outputs)

    @property
    def steps(self) -> schedules.Steps:
        """Updates a run makes, per epoch (the last batch may be short) and in all."""
        return schedules.Steps.of(self.train_size, self.batch, self.epochs)

    @property
    def schedule_settings(self) -> dict[str, Any]:
        """Every setting the schedule reads, each left out at its default."""
        given = {n: getattr(self, n) for n in schedules.SETTINGS}
        return schedules.resolve(self.schedule, given, self.steps)

    def rate_factors(self) -> Any:
        """The schedule's factor of every update (total,), or None for a constant rate."""
        return schedules.factors(self.schedule, self.schedule_settings, self.steps.total)

    @property
    def settings(self) -> Settings:
        """The optimizer's settings, each left out one at its Keras 3 default."""
        return optimizers.resolve(self.optimizer, {n: getattr(self, n) for n in Settings._fields})

    @property
    def hidden_activation(self) -> Hidden:
        """The hidden layers' activation with its setting (leaky_relu's slope) bound."""
        return hidden(self.activation, self.negative_slope)

    @property
    def penalty(self) -> Penalty | None:
        """The weight penalty training adds to the loss, or None for none."""
        return regularizers.of(self.l1, self.l2)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: batch size resolved, so full batch and B = m are one config; fields
        added after the seed's left out while at their defaults (so older stores keep their
        keys), a table's sha256 put in (so runs on a changed file never mix with the old
        one's)."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["features"] = list(self.features)
        d["batch_size"] = self.batch
        d["lr"] = float(self.lr)
        d["validation"] = float(self.validation)
        d["range"] = [float(v) for v in self.range]
        for name in Settings._fields:  # a setting at its optimizer's default is not given
            value = d[name]
            if optimizers.at_default(self.optimizer, name, value):
                d[name] = None
            elif not isinstance(value, bool):
                d[name] = float(value)
        steps = self.steps
        for name in schedules.SETTINGS:  # as the optimizer's: at its default, not given
            value = d[name]
            if schedules.at_default(self.schedule, name, value, steps):
                d[name] = None
            elif name == "values":
                d[name] = [float(v) for v in value]
            elif KINDS[BY_NAME[name].kind].parse is float:  # 1 and 1.0 are one configuration
                d[name] = float(value)
        if d["negative_slope"] is not None:  # at its default, not given
            slope = float(d["negative_slope"])
            d["negative_slope"] = None if slope == NEGATIVE_SLOPE else slope
        if d["shuffle"] is True or self.batch >= self.train_size:  # at its default, or no matter
            d["shuffle"] = None
        for name in (*regularizers.SETTINGS, "dropout"):  # 1 and 1.0 are one configuration
            d[name] = float(d[name])
        for name in stopping.SETTINGS:  # as the optimizer's: at its default, not given
            if d[name] is None or d[name] == stopping.DEFAULTS[name]:
                d[name] = None
            elif KINDS[BY_NAME[name].kind].parse is float:
                d[name] = float(d[name])
        for name, default in DEFAULTS_LEFT_OUT.items():
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

    def section(self, name: str) -> dict[str, Any]:
        """One section's fields by their key in it: section("optimizer") is {"name": "sgd",
        "lr": 10.0}, as a study file's `[defaults.optimizer]` would write them (settings not
        given left out)."""
        fields = SECTION_KEYS[name].values()
        return {f.key: getattr(self, f.name) for f in fields
                if not (f.default is None and getattr(self, f.name) is None)}  # fmt: skip


def _trained(m: int, validation: float, monitor: str = "none",
             settings: dict[str, Any] | None = None) -> int:  # fmt: skip
    """Points trained on: m less the validation hold-out, then less early stopping's."""
    part = m - round(validation * m)
    return part - stopping.held_out(monitor, settings or {}, part)


def trained_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored configuration's optimizer, schedule and stopping settings as trained: each
    one they read, resolved to its default where not given, and None for those they do not
    read."""
    optimizer = stored["optimizer"]
    values = optimizers.resolve(optimizer, stored)._asdict()
    settings = {n: v if optimizers.uses(optimizer, n) else None for n, v in values.items()}
    monitor = stored.get("early_stopping", "none")
    stops = stopping.resolve(monitor, {n: stored.get(n) for n in stopping.SETTINGS})
    settings |= {n: stops.get(n) for n in stopping.SETTINGS}
    schedule = stored.get("schedule", "constant")
    if schedule == "constant":
        return settings | dict.fromkeys(schedules.SETTINGS)
    trained = _trained(stored["m"], stored.get("validation", 0.0), monitor, stops)
    steps = schedules.Steps.of(trained, stored["batch_size"], stored["epochs"])
    resolved = schedules.resolve(schedule, {n: stored.get(n) for n in schedules.SETTINGS}, steps)
    return settings | {n: resolved.get(n) for n in schedules.SETTINGS}


def trained_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """Every field of a stored configuration as trained: a field left out at its default
    given its default, each setting as trained_settings resolves it."""
    given = {n: stored.get(n, DEFAULTS_LEFT_OUT.get(n)) for n in BY_NAME}
    return given | trained_settings(stored)


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


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise UsageError(problem)


# Checked before the data are looked at (a file is read only once these hold): the strings
# first, then, once the data are known to be a set or a file, the rest. The data field's own
# check, a name or a CSV path, is _validate_data's.
STRINGS_FIRST = ("target", "test", "rule")
THEN = ("scale", "noise", "range")


def _validate_data(c: Config) -> None:
    """The data fields, before the data are looked at; file paths made absolute."""
    for name in STRINGS_FIRST:
        BY_NAME[name].check(getattr(c, name))
    if not is_file(c.data):
        names = ", ".join(DATASETS)
        if not isinstance(c.data, str) or c.data not in DATASETS:
            raise UsageError(f"unknown data set {shown(c.data)}; allowed: {names}, or a CSV file's "
                             "path (name.csv)", "data")  # fmt: skip
        for name in ("target", "test"):
            if getattr(c, name):
                raise UsageError(f"{name} applies to a CSV data file only, not to data set "
                                 f"{shown(c.data)}", name)  # fmt: skip
    else:
        object.__setattr__(c, "data", os.path.abspath(c.data))
    if c.test:
        if not is_file(c.test):
            raise UsageError(f"test must be a .csv file, got {shown(c.test)}", "test")
        object.__setattr__(c, "test", os.path.abspath(c.test))
    for name in THEN:
        BY_NAME[name].check(getattr(c, name))
    noisy = [name for name, g in GENERATED.items() if g.noisy]
    if c.noise and c.data not in noisy:
        raise UsageError(f"noise applies to data sets {', '.join(noisy)} only; got data set "
                         f"{shown(c.data)}", "noise")  # fmt: skip
    object.__setattr__(c, "range", (float(c.range[0]), float(c.range[1])))
    if c.data == FORMULA:
        rule(c.rule)  # checked: one line on a rule that cannot be read
    elif c.rule or c.range != FORMULA_RANGE:
        raise UsageError(f"rule and range apply to data set 'formula' only; got data set "
                         f"{shown(c.data)}", "rule")  # fmt: skip


def _validate_sizes(c: Config, info: DataInfo) -> None:
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


def _validate_features(c: Config, info: DataInfo) -> None:
    """Each feature readable, and reading only inputs the data have."""
    for text in c.features:
        read = feature(text).inputs
        if read > info.inputs:
            data = shown(os.path.basename(c.data))
            raise UsageError(f"feature {text!r} reads x{read}; data {data} have {info.inputs} "
                             f"inputs (x1..x{info.inputs})", "features")  # fmt: skip


def _validate_loss(c: Config, info: DataInfo) -> None:
    k, name = len(info.classes), os.path.basename(c.data)
    if c.loss == "bce" and k > 2:
        raise UsageError(f"loss 'bce' is for two classes; data {name!r} have {k}: use cce (or "
                         "mse)", "loss")  # fmt: skip
    if c.loss == "cce" and k == 2:
        raise UsageError(f"loss 'cce' is for 3 or more classes; data {name!r} have 2: use bce "
                         "(or mse)", "loss")  # fmt: skip


def _validate_settings(c: Config) -> None:
    """A setting the optimizer does not read is refused unless at its default."""
    for name in Settings._fields:
        if optimizers.at_default(c.optimizer, name, getattr(c, name)):
            continue
        if not optimizers.uses(c.optimizer, name):
            readers = [o for o in optimizers.OPTIMIZERS if optimizers.uses(o, name)]
            raise UsageError(f"{name} applies to optimizer {', '.join(readers)}, not to "
                             f"{shown(c.optimizer)}", name)  # fmt: skip
    if c.negative_slope not in (None, NEGATIVE_SLOPE) and c.activation != "leaky_relu":
        raise UsageError(f"negative_slope applies to activation leaky_relu, not to "
                         f"{shown(c.activation)}", "negative_slope")  # fmt: skip
    if c.nesterov and not c.momentum:
        raise UsageError(f"nesterov needs momentum > 0, got momentum {shown(c.momentum)}",
                         "nesterov")  # fmt: skip


def _validate(c: Config, info: DataInfo) -> None:
    """Every other field by its own rule, then the rules that join fields to the data."""
    for f in FIELDS:
        if f.name not in (*STRINGS_FIRST, *THEN, "data"):
            f.check(getattr(c, f.name))
    _validate_settings(c)
    _validate_features(c, info)
    _validate_sizes(c, info)
    _validate_loss(c, info)
    check_scaling(c)
    c.stopping_settings  # noqa: B018 - resolving refuses a setting the monitor does not read
    v = c.validation
    if v > 0 and not 1 <= round(v * c.m) < c.m:
        raise UsageError(
            f"validation must be a fraction in [0, 1) leaving points on both sides of m = {c.m},"
            f" got {shown(v)}",
            "validation",
        )
    if c.early_stopping == "val_loss":
        part = _trained(c.m, c.validation)
        held = stopping.held_out(c.early_stopping, c.stopping_settings, part)
        if not 1 <= held < part:
            raise UsageError(f"validation_fraction must leave points on both sides of the "
                             f"{part} trained, got {shown(c.validation_fraction)} "
                             f"({held} held out)", "validation_fraction")  # fmt: skip
    if c.batch_size is not None and c.batch_size > c.train_size:
        where = "m" if c.train_size == c.m else "the trained points"
        raise UsageError(
            f"batch size must be between 1 and {where} = {c.train_size}, got {c.batch_size}",
            "batch_size",
        )
    c.schedule_settings  # noqa: B018 - resolving checks the schedule's settings


def check_dtype(dtype: str) -> str:
    """Reject float widths the engines do not implement."""
    _refuse(choice_error("dtype", dtype, DTYPE_NAMES))
    return dtype


def check_device(device: str) -> str:
    """Reject devices other than cpu and gpu."""
    _refuse(choice_error("device", device, DEVICE_NAMES))
    return device


MAX_RUNS = 100_000  # per configuration; a million seeds would not even fit a report's table


def check_runs(runs: object) -> int:
    """Runs per configuration: a positive integer, at most MAX_RUNS (checked before a list of
    seeds is ever made, so 10^9 runs cannot exhaust memory just being enumerated)."""
    _refuse(count_error("runs", runs))
    if runs > MAX_RUNS:  # type: ignore[operator]
        raise UsageError(f"runs must be at most {MAX_RUNS}, got {shown(runs)}")
    return int(runs)  # type: ignore[arg-type]


SEED_LIMIT = 2**63  # seeds are stored as SQLite's signed 64-bit integers


def check_seeds(first: object, runs: int) -> int:
    """Seeds first .. first + runs - 1 must lie in [0, 2^63)."""
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise UsageError(f"seed must be an integer >= 0, got {shown(first)}")
    if first + runs > SEED_LIMIT:
        raise UsageError(
            f"seeds {shown(first)}..{shown(first + runs - 1)} run past the largest seed 2^63 - 1; "
            f"use a seed <= {SEED_LIMIT - runs}"
        )
    return first


def memory_bytes(config: Config, runs: int) -> int:
    """A generous estimate of the memory one engine call needs for R runs of a config.

    Per run: the data (float64, inputs plus target), the weights with the
    optimizer's three buffers at most and the gradient, the activations of the largest
    batch, the loss curve, and the batch order (int32 per epoch and point); once, a
    schedule's factor per update (float64).
    """
    sizes = config.layer_sizes
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    activations = config.batch * sum(sizes) * 2
    orders = config.epochs * config.train_size if config.batch < config.train_size else 0
    per_run = 8 * ((config.m + config.n) * (sizes[0] + sizes[-1]) + 5 * weights + activations)
    rates = 8 * config.steps.total if config.schedule != "constant" else 0  # shared by the runs
    return runs * (per_run + 8 * config.epochs + 4 * orders) + rates


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
