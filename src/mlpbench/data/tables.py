"""Fixed tables of data: a user's CSV files and the sets scikit-learn ships (no download).

A CSV file has a header row; its feature columns are numbers, its target
column (the last, unless named) holds class labels, numbers or strings.
When every label is a number, a class is its value (1, 1.0 and 01 are one
class, named 1) and classes are sorted by value; else labels are classes as
written, sorted by name.
Every fault of a file is one UsageError naming the file, and the line and
column where it applies (line 1 is the header). A file is read once per
process for each (path, target, size, mtime), and its sha256 identifies it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
import stat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlpbench.errors import UsageError

MAX_CLASSES = 100
MAX_FILE_BYTES = 2**30  # a CSV file is read whole; past this, use a sample of it
SKLEARN = "pip install 'mlpbench[datasets]'"


class Table(NamedTuple):
    """Rows of one file or shipped set: features (rows, d), class index per row (rows,)."""

    x: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    columns: tuple[str, ...]  # feature columns, then the target
    sha256: str


def _values(labels: list[str]) -> list[float] | None:
    """Each label's value when every label is a finite number, else None."""
    try:
        values = [float(label) for label in labels]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _value_name(label: str, value: float) -> str:
    """A numeric class's one spelling: 1 for 1, 1.0 and 01; 0.5 for .5.

    Integers are read exactly, so IDs beyond 2^53 that round to one float
    stay apart; a decimal is the float it parses to.
    """
    exact = _exact(label, value)
    if isinstance(exact, int):
        return str(exact)
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _classes_of(labels: list[str], numeric: bool) -> list[str]:
    """Each row's class: its label, or the label's value named once when numeric."""
    values = _values(labels) if numeric else None
    return labels if values is None else [_value_name(t, v) for t, v in zip(labels, values)]


def _class_order(names: list[str]) -> list[str]:
    """Distinct classes, sorted by value when all are numbers, else by name."""
    distinct = list(dict.fromkeys(names))
    values = _values(distinct)
    if values is None:
        return sorted(distinct)
    value = {n: _exact(n, v) for n, v in zip(distinct, values)}
    return sorted(distinct, key=lambda n: (value[n], n))


def _exact(label: str, value: float) -> int | float:
    """An integer label's exact value (Python compares it with floats exactly), else value."""
    try:
        return int(label)
    except ValueError:
        return value


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{where}: {text!r} is not a finite number (NaN and inf are refused)")
    return value


def parse_csv(raw: bytes, name: str, target: str, classes: tuple[str, ...] = ()) -> Table:
    """A CSV file's rows; classes, if given, are the train file's (a test file's must be
    among them)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"data file {name!r} is not UTF-8 text: {e.reason} at byte {e.start}"
                         ) from None  # fmt: skip
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise UsageError(f"data file {name!r} is empty; it needs a header row and data rows")
        header = [h.strip() for h in header]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise UsageError(f"data file {name!r}: column name(s) {', '.join(map(repr, twice))}"
                             " appear more than once in the header; each column needs its own")
        if target and target not in header:
            raise UsageError(f"data file {name!r} has no column {target!r}; columns: "
                             + ", ".join(header))  # fmt: skip
        t = header.index(target) if target else len(header) - 1
        if len(header) < 2:
            raise UsageError(f"data file {name!r} has one column ({header[0]!r}); it needs at "
                             "least one feature column and a target column")  # fmt: skip
        rows, labels = [], []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines, as in a file's last line
            where = f"data file {name!r}, line {reader.line_num}"
            if len(row) != len(header):
                raise UsageError(f"{where}: {len(row)} cells, the header has {len(header)}")
            label = row[t].strip()
            if not label:
                raise UsageError(f"{where}, column {header[t]!r}: empty target cell")
            labels.append(label)
            rows.append([_number(cell.strip(), f"{where}, column {header[j]!r}")
                         for j, cell in enumerate(row) if j != t])  # fmt: skip
    except csv.Error as e:
        raise UsageError(f"data file {name!r}, line {reader.line_num}: not CSV: {e}") from None
    if not rows:
        raise UsageError(f"data file {name!r} has a header but no data rows")
    columns = (*[h for j, h in enumerate(header) if j != t], header[t])
    # a test file's numeric labels are read as values when the train file's were
    labels = _classes_of(labels, not classes or _values(list(classes)) is not None)
    order = list(classes) or _class_order(labels)
    if not classes and len(order) < 2:
        raise UsageError(f"data file {name!r}: column {header[t]!r} holds one class only "
                         f"({order[0]!r}); a classifier needs at least 2")  # fmt: skip
    if len(order) > MAX_CLASSES:
        raise UsageError(f"data file {name!r}: column {header[t]!r} holds {len(order)} classes;"
                         f" at most {MAX_CLASSES}")  # fmt: skip
    index = {c: i for i, c in enumerate(order)}
    unknown = next((label for label in labels if label not in index), None)
    if unknown is not None:
        raise UsageError(f"data file {name!r}: class {unknown!r} is not a class of the train "
                         f"file ({', '.join(order)})")  # fmt: skip
    x = np.array(rows, dtype=np.float64)
    sha = hashlib.sha256(raw).hexdigest()
    return Table(x, np.array([index[label] for label in labels]), tuple(order), columns, sha)


def read_bytes(path: str) -> bytes:
    """A data file's bytes, or one line saying why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read data file {path!r}: {e.strerror or e}") from None


def _stat_key(path: str) -> tuple[int, int]:
    """Size and modification time of a regular file of at most MAX_FILE_BYTES (a FIFO or a
    device would block or never end)."""
    try:
        s = Path(path).stat()
    except OSError as e:
        raise UsageError(f"cannot read data file {path!r}: {e.strerror or e}") from None
    if not stat.S_ISREG(s.st_mode):
        raise UsageError(f"data file {path!r} is not a regular file")
    if s.st_size > MAX_FILE_BYTES:
        raise UsageError(f"data file {path!r} is {s.st_size / 2**30:.3g} GiB; at most "
                         f"{MAX_FILE_BYTES // 2**30} GiB")  # fmt: skip
    return s.st_size, s.st_mtime_ns


def load_csv(path: str, target: str = "", classes: tuple[str, ...] = ()) -> Table:
    """A CSV file's rows, read once while the file is unchanged."""
    return _load_csv(path, target, classes, _stat_key(path))


@functools.lru_cache(maxsize=32)
def _load_csv(path: str, target: str, classes: tuple[str, ...], stat: tuple[int, int]) -> Table:
    return parse_csv(read_bytes(path), path, target, classes)


# name -> (scikit-learn loader, description)
SHIPPED: dict[str, tuple[str, str]] = {
    "breast-cancer": ("load_breast_cancer", "scikit-learn's breast cancer: 569 rows, 30 inputs,"
                      " 2 classes"),
    "iris": ("load_iris", "scikit-learn's iris: 150 rows, 4 inputs, 3 classes"),
    "wine": ("load_wine", "scikit-learn's wine: 178 rows, 13 inputs, 3 classes"),
    "digits": ("load_digits", "scikit-learn's 8x8 digits: 1797 rows, 64 inputs, 10 classes"),
}  # fmt: skip


@functools.lru_cache(maxsize=8)
def load_shipped(name: str) -> Table:
    """A set scikit-learn ships inside its package, as a Table."""
    try:
        from sklearn import datasets
    except ImportError:
        raise UsageError(f"data set {name!r} comes with scikit-learn; install it with: "
                         f"{SKLEARN}") from None  # fmt: skip
    bunch = getattr(datasets, SHIPPED[name][0])()
    x = np.asarray(bunch.data, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    digest = hashlib.sha256(x.astype("<f8").tobytes() + labels.astype("<i8").tobytes())
    classes = tuple(str(c) for c in getattr(bunch, "target_names", range(labels.max() + 1)))
    features = tuple(str(f) for f in getattr(bunch, "feature_names", range(x.shape[1])))
    return Table(x, labels, classes, (*features, "target"), digest.hexdigest())
