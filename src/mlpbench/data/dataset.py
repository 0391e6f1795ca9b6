"""Data sets by name, formula or file, and the per-run random streams every engine shares.

A run is defined by its configuration and one integer seed. From that seed
three independent NumPy streams are derived, one each for the data, the
initial weights and the batch order, so columns of a table that differ only
in loss or optimizer see the same data and start from the same weights, and
any engine can replay the same batches.

Where the data are generated (the seed's sets, Playground's, moons, a
formula) each run draws fresh points from its data stream. Where they are a
fixed table (a CSV file, a set scikit-learn ships) every run sees the same
rows: the seed picks which rows train and which test (a seeded split of m
and n rows), or, with a test file, nothing at all. Tables are standardised
by default with the train part's mean and standard deviation (or, with
scale = "minmax", mapped to [0, 1] by its range).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from mlpbench.data.formula import Feature, Rule
from mlpbench.data.generated import GENERATED, Points
from mlpbench.data.streams import DATA_STREAM, ORDER_STREAM, rng_for
from mlpbench.data.tables import SHIPPED, Table, load_csv, load_shipped
from mlpbench.errors import UsageError

if TYPE_CHECKING:
    from mlpbench.config.core import Config

FORMULA = "formula"
# every data set by name, with a one-line description
DATASETS: dict[str, str] = {
    **{name: g.description for name, g in GENERATED.items()},
    FORMULA: "x ~ U(range)^k labelled by --rule, e.g. 'x1**2 > x2'",
    **{name: description for name, (_, description) in SHIPPED.items()},
}
TRAIN_SHARE = 0.8  # of a table's rows, when neither m nor n is given


@functools.lru_cache(maxsize=64)
def rule(text: str) -> Rule:
    """A formula's checked rule (parsed once per text)."""
    return Rule(text)


@functools.lru_cache(maxsize=256)
def feature(text: str) -> Feature:
    """An input feature's checked expression (parsed once per text)."""
    return Feature(text)


def featured(config: Config, x: np.ndarray, strict: bool = True) -> np.ndarray:
    """The network's inputs from drawn points x (count, k): its features' values, or x; a
    feature not finite at a point is one line (strict) or left so (a plot's grid)."""
    if not config.features:
        return x
    values = np.stack([feature(f).values(x) for f in config.features], axis=1)
    bad = ~np.isfinite(values)
    if strict and bad.any():
        row, column = np.argwhere(bad)[0]
        point = ", ".join(f"x{i + 1} = {v:.6g}" for i, v in enumerate(x[row]))
        raise UsageError(f"feature {config.features[column]!r} is {values[row, column]} at "
                         f"{point}; a feature must be finite at every point", "features")
    return values


def formula_points(
    rng: np.random.Generator, count: int, text: str, extent: tuple[float, float]
) -> Points:
    """x ~ U(low, high)^k for the k inputs the rule reads, labelled by the rule."""
    r = rule(text)
    x = rng.uniform(extent[0], extent[1], size=(count, r.inputs))
    return x, r.labels(x)


class Dataset(NamedTuple):
    """Train and test sets: x (count, inputs); y (count, 1) in {0., 1.} for two classes,
    one-hot (count, k) for k >= 3."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def is_file(data: str) -> bool:
    """Whether a data name is a CSV file's path."""
    return isinstance(data, str) and data.lower().endswith(".csv")


class DataInfo(NamedTuple):
    """What the network and the checks need to know of a data set before drawing it."""

    inputs: int
    classes: tuple[str, ...]
    rows: int | None  # rows of a table (its train file's); None for generated data
    test_rows: int | None  # rows of a separate test file
    sha256: str  # of the file(s) or shipped set; "" for generated data

    @property
    def outputs(self) -> int:
        """Output units: one sigmoid for two classes, a softmax over k for more."""
        return 1 if len(self.classes) == 2 else len(self.classes)


def tables(config: Config) -> tuple[Table, Table | None]:
    """The train table and the test file's table (or None), as the config read them: a file
    changed since is one line, so no run trained on it is stored as the old file's."""
    train, test = _read_tables(config)
    for path, table, sha in zip((config.data, config.test), (train, test),
                                config.info.sha256.split(":")):  # fmt: skip
        if table is not None and table.sha256 != sha:
            raise UsageError(f"data file {path!r} changed while the study ran (sha256 {sha[:12]}"
                             f" when read, {table.sha256[:12]} now); nothing was stored for runs "
                             "on the changed file: run again to train on it as it is now")
    return train, test


def _read_tables(config: Config) -> tuple[Table, Table | None]:
    if not is_file(config.data):
        return load_shipped(config.data), None
    train = load_csv(config.data, config.target)
    test = load_csv(config.test, config.target, train.classes) if config.test else None
    if test is not None and test.columns != train.columns:
        raise UsageError(f"test file {config.test!r} has columns {', '.join(test.columns)}; the"
                         f" train file {config.data!r} has {', '.join(train.columns)}")  # fmt: skip
    return train, test


def describe(config: Config) -> DataInfo:
    """Inputs, classes and rows of the configuration's data (a file is read here)."""
    if config.data in GENERATED:
        return DataInfo(2, ("0", "1"), None, None, "")
    if config.data == FORMULA:
        return DataInfo(rule(config.rule).inputs, ("0", "1"), None, None, "")
    train, test = _read_tables(config)
    sha = train.sha256 + (f":{test.sha256}" if test is not None else "")
    return DataInfo(train.x.shape[1], train.classes, len(train.x),
                    None if test is None else len(test.x), sha)  # fmt: skip


def default_sizes(info: DataInfo) -> tuple[int, int]:
    """m and n when not given: 1000 and 100 generated points; all rows of a train and a test
    file; else 80% and 20% of a table's rows."""
    if info.rows is None:
        return 1000, 100
    if info.test_rows is not None:
        return info.rows, info.test_rows
    m = min(max(1, round(TRAIN_SHARE * info.rows)), info.rows - 1)
    return m, info.rows - m


def targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """Class indices as the network's targets: (count, 1) for two classes, one-hot beyond."""
    labels = np.asarray(labels).astype(np.int64)
    if classes == 2:
        return labels.astype(np.float64)[:, None]
    return np.eye(classes)[labels]


def labels_of(y: np.ndarray) -> np.ndarray:
    """Class index of each target row, the inverse of `targets`."""
    return (y[..., 0] > 0.5).astype(np.int64) if y.shape[-1] == 1 else y.argmax(axis=-1)


def _standard(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0)


def _minmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = x.min(axis=0, initial=np.inf)
    return low, x.max(axis=0, initial=-np.inf) - low


# each scaling as (shift, spread) of the train part's columns: x -> (x - shift) / spread
SCALERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "standard": _standard,  # mean 0, standard deviation 1 (scikit-learn's StandardScaler)
    "minmax": _minmax,  # the train part's range to [0, 1] (scikit-learn's MinMaxScaler)
}
VERBS = {"standard": "standardising", "minmax": "min-max scaling"}
SCALES = (*SCALERS, "none")


def _scale(kind: str, x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, ...]:
    """Both parts scaled by the train part's shift and spread, and those two (finite or not);
    a constant column stays constant, at 0."""
    with np.errstate(over="ignore", invalid="ignore"):
        shift, spread = SCALERS[kind](x_train)
        spread = np.where(spread > 0, spread, 1.0)
        return (x_train - shift) / spread, (x_test - shift) / spread, shift, spread


def rescaled(config: Config, x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inputs scaled on the train part as the config says; a column whose shift, spread or
    scaled values overflow float64 (values near 1e154 and beyond: their squares do, or ranges
    past 1.8e308) is one line naming it, never zeros or NaN silently."""
    kind = scaling(config)
    *parts, shift, spread = _scale(kind, x_train, x_test)
    bad = ~(np.isfinite(shift) & np.isfinite(spread))
    for part in parts:
        bad |= ~np.isfinite(part).all(axis=0)
    if bad.any():
        column = int(np.argmax(bad))
        name = config.features[column] if config.features else tables(config)[0].columns[column]
        top = max(np.abs(x[:, column]).max(initial=0.0) for x in (x_train, x_test))
        raise UsageError(f"data {config.data!r}, column {name!r}: {VERBS[kind]} values up to "
                         f"{top:.3g} overflows float64; rescale the column, or give scale = "
                         "'none' to train on it as it is")  # fmt: skip
    return tuple(parts)


# (sha256, scaling, features) of tables found to scale without overflow
_SCALABLE: set[tuple[str, str | None, tuple[str, ...]]] = set()


def check_scaling(config: Config) -> None:
    """Refuse, before any run, a table whose features are not finite or whose columns cannot
    be scaled (each table is checked once per process for its scaling and features: every
    configuration on it, a grid's and a study's, shares it)."""
    checked = (config.info.sha256, scaling(config), config.features)
    if not is_file(config.data) or checked in _SCALABLE or checked[1:] == (None, ()):
        return
    train, test = tables(config)
    x = featured(config, train.x)
    x_test = x if test is None else featured(config, test.x)
    if checked[1] is not None:
        rescaled(config, x, x_test)
    _SCALABLE.add(checked)


def scaling(config: Config) -> str | None:
    """How inputs are scaled (a key of SCALERS), or None: by default tables are standardised
    and generated data left as they are."""
    if config.scale is None:
        return None if config.data in GENERATED or config.data == FORMULA else "standard"
    return None if config.scale == "none" else config.scale


def _draw(config: Config, seed: int) -> tuple[np.ndarray, ...]:
    rng = rng_for(seed, DATA_STREAM)
    if config.data in GENERATED:
        generate = GENERATED[config.data].generate
        return (*generate(rng, config.m, config.noise), *generate(rng, config.n, config.noise))
    if config.data == FORMULA:
        return (*formula_points(rng, config.m, config.rule, config.range),
                *formula_points(rng, config.n, config.rule, config.range))  # fmt: skip
    train, test = tables(config)
    if test is not None:
        m, n = slice(config.m), slice(config.n)
        return train.x[m], train.labels[m], test.x[n], test.labels[n]
    order = rng.permutation(len(train.x))
    m, n = order[: config.m], order[config.m : config.m + config.n]
    return train.x[m], train.labels[m], train.x[n], train.labels[n]


def _as_drawn(config: Config, seed: int) -> Dataset:
    """A run's points as drawn: the data's own inputs, before features and scaling."""
    x_train, l_train, x_test, l_test = _draw(config, seed)
    k = len(config.info.classes)
    return Dataset(np.asarray(x_train, np.float64), targets(l_train, k),
                   np.asarray(x_test, np.float64), targets(l_test, k))  # fmt: skip


def make_dataset(config: Config, seed: int) -> Dataset:
    """The m train and n test points of one run, inputs scaled as the config says."""
    drawn = _as_drawn(config, seed)
    x_train, x_test = featured(config, drawn.x_train), featured(config, drawn.x_test)
    if scaling(config) is not None:
        x_train, x_test = rescaled(config, x_train, x_test)
    return drawn._replace(x_train=x_train, x_test=x_test)


def drawn_points(config: Config, seed: int) -> tuple[Dataset, Callable[[np.ndarray], np.ndarray]]:
    """A run's points as a plot shows them, and the map from such points to the network's
    inputs: without features, make_dataset's points and the identity; with them, the points
    as drawn (the data's own inputs) and their features scaled as make_dataset scales them."""
    if not config.features:
        return make_dataset(config, seed), lambda x: x
    raw, kind = _as_drawn(config, seed), scaling(config)
    if kind is None:
        return raw, lambda x: featured(config, x, strict=False)
    *_, shift, spread = _scale(kind, featured(config, raw.x_train), featured(config, raw.x_test))
    return raw, lambda x: (featured(config, x, strict=False) - shift) / spread


def stack_datasets(config: Config, seeds: Sequence[int]) -> Dataset:
    """One data set per run, stacked on a leading run axis: x (R, count, inputs)."""
    sets = [make_dataset(config, s) for s in seeds]
    return Dataset(*(np.stack(parts) for parts in zip(*sets)))


def truth(config: Config) -> Callable[[np.ndarray], np.ndarray] | None:
    """The noise-free label at any 2-D point, where the data set has one, for plots."""
    if config.data == FORMULA and rule(config.rule).inputs == 2:
        return rule(config.rule).labels
    return GENERATED[config.data].truth if config.data in GENERATED else None


def extent(config: Config) -> tuple[float, float] | None:
    """The plotting range of a generated set's inputs; None: take it from the points."""
    if config.data == FORMULA:
        return config.range
    return GENERATED[config.data].extent if config.data in GENERATED else None


def epoch_orders(seeds: Sequence[int], m: int, epochs: int) -> np.ndarray:
    """Sample order of every epoch of every run, shape (R, epochs, m), int32.

    Each epoch is a fresh permutation of range(m) drawn from the run's order
    stream; the batches of an epoch are consecutive slices of it, the last one
    short when the batch size does not divide m (as Keras keeps it).
    """
    orders = np.empty((len(seeds), epochs, m), dtype=np.int32)
    for r, seed in enumerate(seeds):
        rng = rng_for(seed, ORDER_STREAM)
        for e in range(epochs):
            orders[r, e] = rng.permutation(m)
    return orders


def batch_orders(seeds: Sequence[int], m: int, epochs: int, batch: int,
                 shuffle: bool = True) -> np.ndarray | None:  # fmt: skip
    """Epoch orders for mini-batch training; None at full batch; without shuffle, the data's
    own order every epoch (0, 1, ..., m - 1, as an order, so every engine walks it alike).

    A full batch's gradient is a sum over every sample, so its order cannot
    change the mathematics; full-batch training takes samples in stored order
    and skips drawing permutations it would not use.
    """
    if batch >= m:
        return None
    if not shuffle:
        return np.tile(np.arange(m, dtype=np.int32), (len(seeds), epochs, 1))
    return _cached_orders(tuple(seeds), m, epochs)


@functools.lru_cache(maxsize=1)
def _cached_orders(seeds: tuple[int, ...], m: int, epochs: int) -> np.ndarray:
    """Columns that differ only in batch size share one order array (engines only read it)."""
    return epoch_orders(seeds, m, epochs)
