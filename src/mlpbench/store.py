"""The SQLite store: one row per finished run, written by the parent process only.

A run is identified by (configuration key, engine, dtype, device, seed); storing the
same run again replaces it. Each group of runs is written in one transaction
as soon as it finishes, so an interrupted study keeps every finished group.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlpbench.results import METRICS, RunResult, StoredRun

if TYPE_CHECKING:
    from mlpbench.config import Job


DB_NAME = "mlpbench.sqlite"

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
    UNIQUE (config_key, engine, dtype, device, seed)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


JOB_MATCH = "config_key = ? AND engine = ? AND dtype = ? AND device = ?"


def _job_key(job: Job) -> tuple[str, str, str, str]:
    return job.config.key(), job.engine, job.dtype, job.device


class Store:
    """A results database in an output folder, created on first write; use it in `with`."""

    def __init__(self, out: Path | str):
        self.path = Path(out) / DB_NAME
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.exists() and not create:
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path)
            self._conn.row_factory = sqlite3.Row
            self._conn.executescript(SCHEMA)
        return self._conn

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def finished_seeds(self, job: Job) -> set[int]:
        """Seeds of this configuration already stored, to be reused."""
        conn = self._connect(create=False)
        if conn is None:
            return set()
        rows = conn.execute(
            f"SELECT seed FROM runs WHERE {JOB_MATCH}",
            _job_key(job),
        )
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
        columns += ["group_size", "loss_curve", "params", "versions", "environment", "created_at"]
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
            )
            for r in results
        ]
        marks = ", ".join("?" * len(columns))
        with conn:
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
        rows = conn.execute(
            f"SELECT * FROM runs WHERE {JOB_MATCH} AND seed IN ({marks}) ORDER BY seed",
            (*_job_key(job), *wanted),
        )
        return [decode(r) for r in rows]

    def set_meta(self, key: str, value: object) -> None:
        """Remember a JSON value under a name (such as the last study run here)."""
        conn = self._connect(create=True)
        assert conn is not None
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str) -> object | None:
        """A value stored by set_meta, or None."""
        conn = self._connect(create=False)
        if conn is None:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def all_runs(self) -> list[StoredRun]:
        """Every stored run, oldest first."""
        conn = self._connect(create=False)
        if conn is None:
            return []
        return [decode(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]


def decode(row: sqlite3.Row) -> StoredRun:
    """A stored row as a typed record."""
    return StoredRun(
        id=row["id"],
        config_key=row["config_key"],
        config=json.loads(row["config"]),
        engine=row["engine"],
        dtype=row["dtype"],
        device=row["device"],
        seed=row["seed"],
        diverged=bool(row["diverged"]),
        metrics={m: row[m] for m in METRICS},
        group_size=row["group_size"],
        loss_curve=np.frombuffer(row["loss_curve"], dtype="<f8"),
        params=json.loads(row["params"]),
        versions=json.loads(row["versions"]),
        environment=json.loads(row["environment"]),
        created_at=row["created_at"],
    )
