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

import codecs
import csv
import functools
import hashlib
import io
import math
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlpbench.errors import UsageError

MAX_CLASSES = 100
MANY_VALUES = 10  # whole-number labels past this many, and half the rows, read as a measurement
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


def _number(text: str, where: str, column: str = "") -> float:
    """A feature cell's number; a word in a feature column may be the labels, which the
    error then says how to name."""
    try:
        value = float(text)
    except ValueError:
        hint = (f"; if column {column!r} holds the labels, name it the target (--target "
                f"{column}, or target = \"{column}\" in a study)") if column else ""
        raise UsageError(f"{where}: {text!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise UsageError(f"{where}: {text!r} is not a finite number (NaN and inf are refused)")
    return value


def parse_csv(raw: bytes, name: str, target: str, classes: tuple[str, ...] = ()) -> Table:
    """A CSV file's rows; classes, if given, are the train file's (a test file's must be
    among them).

    A plain file (no quotes) is read by NumPy's C parser straight from its bytes; one it
    cannot read, or whose numbers are not all finite, is read again cell by cell, which
    names the line and column at fault (or reads what NumPy does not: quoted cells, blank
    rows of commas)."""
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    body = raw[bom:]
    _check_utf8(body, name, bom)
    first_line = body[: body.find(b"\n") + 1 or None].decode("utf-8")
    header, t = _header(first_line, name, target)
    # a test file's numeric labels are read as values when the train file's were
    numeric = not classes or _values(list(classes)) is not None
    fast = None if b'"' in body else _fast_rows(body, len(header), t, numeric)
    if fast is None:
        x, labels = _careful_rows(body.decode("utf-8"), name, header, t)
    else:
        x, labels = fast
    columns = (*[h for j, h in enumerate(header) if j != t], header[t])
    return _table(x, labels, columns, classes, numeric, name, hashlib.sha256(raw).hexdigest())


def _check_utf8(body: bytes, name: str, offset: int = 0, chunk: int = 2**24) -> None:
    """One line where the bytes are not UTF-8, naming the byte's place in the file (body
    starts offset bytes in), checked piece by piece: no whole-file copy."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for start in range(0, len(body), chunk):
        carried = len(decoder.getstate()[0])  # a character's first bytes, from the last piece
        try:
            decoder.decode(view[start : start + chunk], final=start + chunk >= len(body))
        except UnicodeDecodeError as e:
            at = offset + start - carried + e.start
            raise UsageError(f"data file {name!r} is not UTF-8 text: {e.reason} at byte {at}"
                             ) from None  # fmt: skip


def _header(line: str, name: str, target: str) -> tuple[list[str], int]:
    """The header's column names and the target's index, from the file's first line."""
    try:
        header = next(csv.reader(io.StringIO(line)), None)
    except csv.Error as e:
        raise UsageError(f"data file {name!r}, line 1: not CSV: {e}") from None
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
    if len(header) < 2:
        raise UsageError(f"data file {name!r} has one column ({header[0]!r}); it needs at "
                         "least one feature column and a target column")  # fmt: skip
    return header, header.index(target) if target else len(header) - 1


def _fast_rows(body: bytes, width: int, t: int, numeric: bool
               ) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """Features (rows, d) and labels (rows,) by NumPy's parser, or None where it cannot read
    the file or a feature is not finite (the careful reader then says why). Labels to be
    read as values are read as numbers where they all are integers that a float holds
    exactly (their names are then exact too), else as text."""
    if not body[body.find(b"\n") + 1 :].strip():
        return None  # no data rows: the careful reader says so
    features = [j for j in range(width) if j != t]
    read = functools.partial(np.loadtxt, delimiter=",", skiprows=1, encoding="utf-8",
                             comments=None)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # such as "input contained no data": read carefully
        try:
            x = read(io.BytesIO(body), usecols=features, dtype=np.float64, ndmin=2)
            labels = _fast_labels(read, body, t, numeric)
        except (ValueError, UserWarning):
            return None
    # every row has exactly the header's cells (NumPy ignores cells past the used columns)
    cells_right = body.count(b",") == (len(x) + 1) * (width - 1)
    if not cells_right or len(x) == 0 or len(x) != len(labels) or not np.isfinite(x).all():
        return None
    return (x, labels) if not (labels == "").any() else None


def _fast_labels(read: Callable, body: bytes, t: int, numeric: bool) -> np.ndarray:
    """The target column: exact integers where every label is one, else stripped text."""
    if numeric:
        try:
            values = read(io.BytesIO(body), usecols=t, dtype=np.float64, ndmin=1)
        except ValueError:
            values = None
        if values is not None and np.isfinite(values).all() and (
                values == np.round(values)).all() and (np.abs(values) < 2.0**53).all():
            return values.astype(np.int64)
    return np.char.strip(read(io.BytesIO(body), usecols=t, dtype=str, ndmin=1))


def _careful_rows(text: str, name: str, header: list[str], t: int
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Features and labels read cell by cell; the first fault is one line naming its place."""
    reader = csv.reader(io.StringIO(text))
    rows, labels = [], []
    try:
        next(reader)
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
            rows.append([_number(cell.strip(), f"{where}, column {header[j]!r}", header[j])
                         for j, cell in enumerate(row) if j != t])  # fmt: skip
    except csv.Error as e:
        raise UsageError(f"data file {name!r}, line {reader.line_num}: not CSV: {e}") from None
    if not rows:
        raise UsageError(f"data file {name!r} has a header but no data rows")
    return np.array(rows, dtype=np.float64), np.array(labels, dtype=str)


def _table(x: np.ndarray, labels: np.ndarray, columns: tuple[str, ...],
           classes: tuple[str, ...], numeric: bool, name: str, sha: str) -> Table:  # fmt: skip
    """The rows with each label's class index, the classes checked; labels are named once per
    distinct label, not once per row."""
    target = columns[-1]
    distinct, inverse = np.unique(labels, return_inverse=True)  # text, or exact integers
    names = _classes_of([str(v) for v in distinct.tolist()], numeric)
    order = list(classes) or _class_order(names)
    if not classes and len(order) < 2:
        raise UsageError(f"data file {name!r}: column {target!r} holds one class only "
                         f"({order[0]!r}); a classifier needs at least 2")  # fmt: skip
    if not classes and numeric:
        _refuse_continuous(order, len(labels), name, target)
    if len(order) > MAX_CLASSES:
        raise UsageError(f"data file {name!r}: column {target!r} holds {len(order)} classes;"
                         f" at most {MAX_CLASSES}")  # fmt: skip
    index = {c: i for i, c in enumerate(order)}
    inverse = inverse.ravel()
    unknown = [i for i, n in enumerate(names) if n not in index]
    if unknown:  # named by its first row
        row = np.flatnonzero(np.isin(inverse, unknown))[0]
        raise UsageError(f"data file {name!r}: class {names[inverse[row]]!r} is not a class of "
                         f"the train file ({', '.join(order)})")  # fmt: skip
    codes = np.array([index[n] for n in names], dtype=np.int64)
    return Table(x, codes[inverse], tuple(order), columns, sha)


def _refuse_continuous(order: list[str], rows: int, name: str, target: str) -> None:
    """A numeric target that reads as a measurement, not as labels, is refused in one line:
    one with finite values that are not whole, or (all whole numbers) more than
    MANY_VALUES distinct values, more than half its rows (trained as classes, it would give
    each row a class of its own and report 0% accuracy)."""
    values = _values(order)
    if values is None:  # words among the labels: classes as written
        return
    fractional = [c for c, v in zip(order, values) if math.isfinite(v) and not v.is_integer()]
    if fractional or len(order) > max(MANY_VALUES, rows // 2):
        what = (f"numbers that are not whole ({', '.join(map(repr, fractional[:3]))})"
                if fractional else f"{len(order)} distinct values in {rows} rows")  # fmt: skip
        raise UsageError(f"data file {name!r}: column {target!r} holds {what}: a continuous "
                         "target, not class labels; mlpbench trains classifiers only (give "
                         "whole-number or word labels, or name the label column with target)")


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
