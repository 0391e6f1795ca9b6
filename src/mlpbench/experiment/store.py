"""The SQLite store: one row per finished run, written by the parent process only.

A run is identified by (configuration key, engine, dtype, device, seed); storing the
same run again replaces it. Each group of runs is written in one transaction
as soon as it finishes, so an interrupted study keeps every finished group.
Processes sharing a store split the work through leases: a process claims a
job before training it, and a claim lapses when its owner dies (same host) or
after LEASE_S (another host). Every fault (a folder that cannot be made, a
file that is not a store, a locked or full disk) becomes one UsageError
naming the path; a failed write rolls back, so the runs stored before stay.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlpbench.engines.results import CURVES, METRICS, RunResult, StoredRun
from mlpbench.errors import UsageError, shown
from mlpbench.files import alive, make_folder, output_folder

if TYPE_CHECKING:
    from mlpbench.config.core import Job


DB_NAME = "mlpbench.sqlite"
SQLITE_HEADER = b"SQLite format 3\x00"  # how every SQLite database file begins

# columns added since the first stores, with their types: a store without them is read as
# having none, and given them on its first write
ADDED_COLUMNS = {"curves": "TEXT NOT NULL DEFAULT '{}'"}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    config_key TEXT NOT NULL,
    config TEXT NOT NULL,
    engine TEXT NOT NULL,
    dtype TEXT NOT NULL,
    device TEXT NOT NULL,
    seed INTEGER NOT NULL,
    diverged INTEGER NOT NULL,
    {", ".join(f"{m} REAL" for m in METRICS)},
    group_size INTEGER NOT NULL,
    loss_curve BLOB NOT NULL,
    params TEXT NOT NULL,
    versions TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    {", ".join(f"{name} {kind}" for name, kind in ADDED_COLUMNS.items())},
    UNIQUE (config_key, engine, dtype, device, seed)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    job TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL
);
"""
RUN_COLUMNS = {"id", "config_key", "config", "engine", "dtype", "device", "seed", "diverged",
               *METRICS, "group_size", "loss_curve", "params", "versions", "environment",
               "created_at", "curves"}  # fmt: skip
LOCK_TIMEOUT_S = 30  # how long a write waits for another process's transaction
LEASE_S = 3600  # a claim by a process on another host lapses after this long
PROBLEMS = {  # SQLite's message -> what it means for the user
    "file is not a database": "is not an mlpbench store (corrupted, or another kind of file)",
    "database disk image is malformed": "is corrupted (malformed database image)",
    "database is locked": "is locked by another process; try again once it has finished",
    "database or disk is full": "cannot be written: the disk is full (stored runs are kept)",
    "attempt to write a readonly database": "cannot be written: it is read-only",
    "unable to open database file": "cannot be opened (missing folder or no permission)",
    "disk I/O error": "cannot be written: disk I/O error, such as a full disk or a file size "
    "limit (stored runs are kept)",
}


JOB_MATCH = "config_key = ? AND engine = ? AND dtype = ? AND device = ?"


def _job_key(job: Job) -> tuple[str, str, str, str]:
    return job.config.key(), job.engine, job.dtype, job.device


class Store:
    """A results database in an output folder, created on first write; use it in `with`.

    A read-only store (for report and export) never creates or changes a file.
    """

    def __init__(self, out: Path | str, readonly: bool = False):
        self.out = output_folder(out)
        self.path = self.out / DB_NAME
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite and file system faults as one line naming the store."""
        try:
            yield
        except sqlite3.Error as e:
            text = str(e)
            problem = next((v for k, v in PROBLEMS.items() if k in text), f"failed: {text}")
            raise UsageError(f"store {self.path} {problem}") from None
        except OSError as e:
            raise UsageError(f"store {self.path}: {e.strerror or e}") from None
        except json.JSONDecodeError as e:
            raise UsageError(f"store {self.path} holds a corrupted record: {e}") from None
        except CorruptRowError as e:
            raise UsageError(f"store {self.path} is corrupted: {e}; delete that row, or use "
                             "another output folder") from None

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self.path.is_dir():
            raise UsageError(f"store {self.path} is a folder, not an mlpbench store")
        exists = self.path.is_file()
        if not exists and (self.readonly or not create):
            return None
        size = self.path.stat().st_size if exists else 0
        if size > 0:
            with self._guard(), self.path.open("rb") as f:
                header = f.read(len(SQLITE_HEADER))
            if header != SQLITE_HEADER:  # SQLite would take a short file for an empty store
                raise UsageError(f"store {self.path} {PROBLEMS['file is not a database']}")
        if self.readonly:
            if size == 0:
                return None  # an empty file holds no runs
            self._roll_back_a_killed_writer()
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT_S)
        else:
            make_folder(self.out)
            conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
        conn.row_factory = sqlite3.Row
        try:
            with self._guard():
                tables = {r["name"] for r in conn.execute("SELECT name FROM sqlite_master")}
                columns = {r["name"] for r in conn.execute("PRAGMA table_info(runs)")}
            older = "runs" in tables and columns < RUN_COLUMNS <= columns | set(ADDED_COLUMNS)
            if tables and columns != RUN_COLUMNS and not older:  # checked before any write
                missing = ", ".join(sorted(RUN_COLUMNS - columns)) or "none"
                raise UsageError(
                    f"store {self.path} holds another schema (columns missing: {missing}); "
                    "use another output folder"
                )
            if not self.readonly:
                with self._guard():
                    conn.executescript(SCHEMA)
                    _add_columns(conn, RUN_COLUMNS - columns if older else set())
        except UsageError:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _roll_back_a_killed_writer(self) -> None:
        """A writer killed mid-transaction leaves a hot journal that a read-only connection
        cannot roll back; a read-write one does on its first read, restoring the last commit."""
        journal = self.path.with_name(self.path.name + "-journal")
        if not journal.is_file() or journal.stat().st_size == 0:
            return
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)) as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as e:
            raise UsageError(
                f"store {self.path} holds a killed writer's unfinished transaction ({journal.name})"
                f" that cannot be rolled back here ({e}); run mlpbench once where the folder is "
                "writable, and SQLite restores the last committed runs"
            ) from None

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def claim(self, jobs: Sequence[Job]) -> bool:
        """Lease these jobs to this process, unless another live process holds one of them."""
        conn = self._connect(create=True)
        assert conn is not None
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        keys = ["|".join(_job_key(job)) for job in jobs]
        with self._guard(), conn:
            conn.execute("BEGIN IMMEDIATE")
            for key in keys:
                row = conn.execute("SELECT * FROM leases WHERE job = ?", (key,)).fetchone()
                if row is None or (row["host"], row["pid"]) == (host, pid):
                    continue
                held = alive(row["pid"]) if row["host"] == host else row["expires"] > now
                if held:
                    return False
            conn.executemany(
                "INSERT OR REPLACE INTO leases (job, host, pid, expires) VALUES (?, ?, ?, ?)",
                [(key, host, pid, now + LEASE_S) for key in keys],
            )
        return True

    def release(self, jobs: Sequence[Job]) -> None:
        """Give up this process's leases on these jobs."""
        conn = self._connect(create=True)
        assert conn is not None
        keys = [("|".join(_job_key(job)), socket.gethostname(), os.getpid()) for job in jobs]
        with self._guard(), conn:
            conn.executemany("DELETE FROM leases WHERE job = ? AND host = ? AND pid = ?", keys)

    def finished_seeds(self, job: Job) -> set[int]:
        """Seeds of this configuration already stored, to be reused."""
        conn = self._connect(create=False)
        if conn is None:
            return set()
        with self._guard():
            rows = conn.execute(f"SELECT seed FROM runs WHERE {JOB_MATCH}", _job_key(job))
            return {r["seed"] for r in rows}

    def save(
        self,
        job: Job,
        results: Sequence[RunResult],
        versions: dict[str, str],
        environment: dict[str, str],
        group_size: int | None = None,
    ) -> None:
        """Write one finished group of runs atomically.

        group_size is how many runs were trained together (and shared the wall
        time); by default, the runs saved here.
        """
        conn = self._connect(create=True)
        assert conn is not None
        now = datetime.now(UTC).isoformat(timespec="seconds")
        columns = [
            "config_key",
            "config",
            "engine",
            "dtype",
            "device",
            "seed",
            "diverged",
            *METRICS,
        ]
        columns += ["group_size", "loss_curve", "params", "versions", "environment", "created_at",
                    "curves"]  # fmt: skip
        rows = [
            (
                job.config.key(),
                json.dumps(job.config.as_dict(), sort_keys=True),
                job.engine,
                job.dtype,
                job.device,
                r.seed,
                int(r.diverged),
                *(r.metrics[m] for m in METRICS),
                group_size or len(results),
                np.asarray(r.loss_curve, dtype="<f8").tobytes(),
                json.dumps(r.params),
                json.dumps(versions, sort_keys=True),
                json.dumps(environment, sort_keys=True),
                now,
                json.dumps({k: np.asarray(v, dtype=float).tolist()
                            for k, v in sorted(r.curves.items())}),
            )
            for r in results
        ]
        marks = ", ".join("?" * len(columns))
        with self._guard(), conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO runs ({', '.join(columns)}) VALUES ({marks})", rows
            )

    def runs(self, job: Job, seeds: Iterable[int]) -> list[StoredRun]:
        """Stored runs of one configuration for the given seeds, in seed order."""
        conn = self._connect(create=False)
        if conn is None:
            return []
        wanted = sorted(set(seeds))
        marks = ", ".join("?" * len(wanted))
        with self._guard():
            rows = conn.execute(
                f"SELECT * FROM runs WHERE {JOB_MATCH} AND seed IN ({marks}) ORDER BY seed",
                (*_job_key(job), *wanted),
            )
            return [decode(r) for r in rows]

    def set_meta(self, key: str, value: object) -> None:
        """Remember a JSON value under a name (such as the last study run here)."""
        conn = self._connect(create=True)
        assert conn is not None
        with self._guard(), conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str) -> object | None:
        """A value stored by set_meta, or None."""
        conn = self._connect(create=False)
        if conn is None:
            return None
        with self._guard():
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def all_runs(self) -> list[StoredRun]:
        """Every stored run, oldest first."""
        conn = self._connect(create=False)
        if conn is None:
            return []
        with self._guard():
            return [decode(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]


def _add_columns(conn: sqlite3.Connection, names: set[str]) -> None:
    """Give an older store the columns added since (another process may just have)."""
    for name in sorted(names):
        try:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {ADDED_COLUMNS[name]}")
        except sqlite3.OperationalError as e:
            if "duplicate column" not in str(e):
                raise


class CorruptRowError(Exception):
    """A stored row whose fields are not what mlpbench wrote (the store was edited or damaged)."""


JSON_FIELDS = {"config": dict, "params": list, "versions": dict, "environment": dict,
               "curves": dict}  # fmt: skip


def _corrupt(row: sqlite3.Row, name: str) -> CorruptRowError:
    return CorruptRowError(f"run {row['id']}'s {name} is not what mlpbench writes "
                           f"({shown(row[name])})")  # fmt: skip


def _parsed(row: sqlite3.Row) -> dict[str, Any]:
    """The row's JSON fields, each parsed once and of the type mlpbench writes, and its other
    fields checked likewise; CorruptRowError names the first that is not."""
    values = {}
    for name, kind in JSON_FIELDS.items():
        if name not in row.keys():  # noqa: SIM118 (a Row's names) - an older store's row
            values[name] = kind()
            continue
        try:
            values[name] = json.loads(row[name])
        except (TypeError, ValueError):  # json's errors are ValueErrors
            values[name] = None
        if not isinstance(values[name], kind):
            raise _corrupt(row, name)
    curve = row["loss_curve"]
    if not (isinstance(curve, bytes) and len(curve) % 8 == 0):
        raise _corrupt(row, "loss_curve")
    epochs = len(curve) // 8
    for name, other in values["curves"].items():
        numbers = isinstance(other, list) and all(type(v) in (int, float) for v in other)
        if name not in CURVES or not numbers or len(other) != epochs:
            raise _corrupt(row, "curves")
    for name in METRICS:
        if row[name] is not None and type(row[name]) not in (int, float):
            raise _corrupt(row, name)
    for name in ("engine", "dtype", "device"):
        if not isinstance(row[name], str):
            raise _corrupt(row, name)
    return values


def decode(row: sqlite3.Row) -> StoredRun:
    """A stored row as a typed record; a corrupted one is CorruptRowError, never a traceback."""
    values = _parsed(row)
    return StoredRun(
        id=row["id"],
        config_key=row["config_key"],
        config=values["config"],
        engine=row["engine"],
        dtype=row["dtype"],
        device=row["device"],
        seed=row["seed"],
        diverged=bool(row["diverged"]),
        metrics={m: row[m] for m in METRICS},
        group_size=row["group_size"],
        loss_curve=np.frombuffer(row["loss_curve"], dtype="<f8"),
        params=values["params"],
        versions=values["versions"],
        environment=values["environment"],
        created_at=row["created_at"],
        curves={k: np.asarray(v, dtype=np.float64) for k, v in values["curves"].items()},
    )
