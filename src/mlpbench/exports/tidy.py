"""Tidy exports: every stored run as one flat row (or one row per epoch), and the exact
data a seed draws."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from pathlib import Path
from typing import NamedTuple

from mlpbench.config.core import Config, trained_fields
from mlpbench.config.fields import CONFIG_FIELDS, FORMULA_RANGE
from mlpbench.data.dataset import is_file, labels_of, make_dataset
from mlpbench.engines.results import CURVES, METRICS, StoredRun
from mlpbench.errors import UsageError
from mlpbench.files import make_folder, write_text

RUN_FIELDS = ("id", "engine", "dtype", "device", "seed", "diverged", "group_size", "created_at")
PLACE_FIELDS = ("study", "table", "column", "shared")
TIDY_FIELDS = (*PLACE_FIELDS, *RUN_FIELDS, *CONFIG_FIELDS, "data_sha256", *METRICS)
CURVE_FIELDS = (*PLACE_FIELDS, "id", "engine", "dtype", "device", "seed", "epoch", "train_loss",
                *CURVES)  # fmt: skip


class Place(NamedTuple):
    """Where a run sits in a study: its table and column. A run is shared when the same
    job fills several columns (the seed study's Table 2 SGD column is Table 1's BCE)."""

    study: str = ""
    table: str = ""
    column: str = ""
    shared: bool = False


@functools.lru_cache(maxsize=4096)
def data_sha256(config: Config, seed: int) -> str:
    """The hash of the exact points a run trained and was tested on."""
    digest = hashlib.sha256()
    for part in make_dataset(config, seed):
        digest.update(part.astype("<f8").tobytes())
    return digest.hexdigest()


def stored_config(fields: dict) -> Config | None:
    """A stored run's configuration, or None where its data file is gone or has changed."""
    kwargs = {k: v for k, v in fields.items() if k in CONFIG_FIELDS}
    kwargs["hidden"] = tuple(kwargs.get("hidden", ()))
    kwargs["range"] = tuple(kwargs.get("range", FORMULA_RANGE))
    try:
        config = Config(**kwargs)
    except UsageError:
        return None
    return config if config.info.sha256 == fields.get("file_sha256", "") else None


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula
USER_TEXT = (*PLACE_FIELDS, "target")  # cells a study or a CSV file's header names


def spreadsheet_safe(row: dict) -> dict:
    """A CSV row whose user-named cells cannot run as spreadsheet formulas: one starting with
    =, +, -, @, a tab or a carriage return gets a leading ' (OWASP's CSV injection advice)."""
    return {k: f"'{v}" if k in USER_TEXT and isinstance(v, str) and v.startswith(FORMULA_STARTS)
            else v for k, v in row.items()}  # fmt: skip


NOWHERE = Place()  # a run that belongs to no column of the last study


def tidy(run: StoredRun, place: Place = NOWHERE) -> dict:
    """A stored run as one flat row: its place, identity, configuration, data hash, metrics."""
    row: dict = dict(place._asdict())
    row.update({k: getattr(run, k) for k in RUN_FIELDS})
    row.update(trained_fields(run.config))
    for name in ("hidden", "range", "boundaries", "values"):  # lists as one cell: 8,16
        if row[name] is not None:
            row[name] = ",".join(str(v) for v in row[name])
    config = stored_config(run.config)
    row["data_sha256"] = None if config is None else data_sha256(config, run.seed)
    row.update(run.metrics)
    return row


def curve_rows(run: StoredRun, place: Place = NOWHERE) -> list[dict]:
    """A run's loss curve in long form: one row per epoch (1-based), with its other curves
    (the penalty: empty where the run has none)."""
    base = {**place._asdict(), **{k: getattr(run, k) for k in CURVE_FIELDS[4:9]}}
    return [{**base, "epoch": e + 1, "train_loss": float(v),
             **{k: float(run.curves[k][e]) if k in run.curves else None for k in CURVES}}
            for e, v in enumerate(run.loss_curve)]  # fmt: skip


def to_parquet(rows: list[dict], fields: tuple[str, ...]) -> bytes:
    """The rows as one Parquet file, columns in fields order."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "--format parquet needs pyarrow: pip install 'mlpbench[parquet]'"
        ) from None
    table = pa.Table.from_pylist(rows).select(list(fields))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def run_key(run: StoredRun) -> tuple[str, int]:
    """A run's identity across stores: its job (configuration, engine, dtype, device), seed."""
    return "|".join((run.config_key, run.engine, run.dtype, run.device)), run.seed


def places(study: str, tables: list) -> dict[tuple[str, int], list[Place]]:
    """Each run of a study's tables (table, [ColumnRuns]) -> the places it fills."""
    where: dict[tuple[str, int], list[Place]] = {}
    for table, columns in tables:
        for col in columns:
            for run in col.runs:
                place = Place(study, f"{table.number} {table.name}", col.column.label)
                where.setdefault(run_key(run), []).append(place)
    return {k: [p._replace(shared=len(v) > 1) for p in v] for k, v in where.items()}


def placed_rows(runs: list[StoredRun], where: dict, curves: bool) -> list[dict]:
    """Every run as a flat row once per place it fills (or once, unplaced); with curves, one
    row per run and epoch instead."""
    rows = []
    for run in runs:
        for place in where.get(run_key(run), [NOWHERE]):
            rows += curve_rows(run, place) if curves else [tidy(run, place)]
    return rows


def write_dataset(config: Config, seed: int, out: Path) -> list[Path]:
    """CSV files (x1, ..., xk, y) of the train and test sets a run with this seed uses: the
    inputs as the network sees them (scaled, where they are), y the class index."""
    data = make_dataset(config, seed)
    make_folder(out)
    paths = []
    name = Path(config.data).stem if is_file(config.data) else config.data
    header = [f"x{i + 1}" for i in range(data.x_train.shape[1])] + ["y"]
    for part, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        path = out / f"{name}-m{config.m}-n{config.n}-seed{seed}-{part}.csv"
        rows = [[*(repr(float(a)) for a in point), int(c)] for point, c in zip(x, labels_of(y))]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([header, *rows])
        write_text(path, text.getvalue())
        paths.append(path)
    return paths
