"""The store: typed records round-trip, a run is stored once, reads never create files."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpbench.config.core import Config, Job
from mlpbench.config.fields import CONFIG_FIELDS
from mlpbench.engines.results import METRICS, RunResult, StoredRun
from mlpbench.errors import UsageError
from mlpbench.experiment.store import DB_NAME, RUN_COLUMNS, SCHEMA, Store

JOB = Job(Config(m=20, n=5, epochs=3), "numpy")


def _result(seed: int, value: float = 1.0, diverged: bool = False) -> RunResult:
    metrics = {m: value + i for i, m in enumerate(METRICS)}
    curve = np.array([0.7, 0.5, 0.25])
    params = [[[value, 2.0]], [0.5]]
    return RunResult(seed, metrics, curve, params, diverged)


def _save(store: Store, job: Job, results: list[RunResult], group: int | None = None) -> None:
    store.save(job, results, {"numpy": "2.0"}, {"CPU": "test"}, group)


def test_a_saved_run_comes_back_as_a_typed_record(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(3, 1.5)], group=4)
        (run,) = store.runs(JOB, [3])
    assert isinstance(run, StoredRun)
    assert (run.seed, run.engine, run.dtype, run.device) == (3, "numpy", "float64", "cpu")
    assert run.config == JOB.config.as_dict() and run.config_key == JOB.config.key()
    assert run.metrics == {m: 1.5 + i for i, m in enumerate(METRICS)}
    np.testing.assert_array_equal(run.loss_curve, [0.7, 0.5, 0.25])
    assert run.params == [[[1.5, 2.0]], [0.5]] and run.group_size == 4
    assert run.versions == {"numpy": "2.0"} and run.environment == {"CPU": "test"}
    assert run.diverged is False


def test_runs_come_in_seed_order_and_only_for_their_job(tmp_path):
    other = Job(JOB.config.replace(lr=3.0), "numpy")
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(5), _result(1), _result(3)])
        _save(store, other, [_result(2)])
        assert [r.seed for r in store.runs(JOB, [5, 3, 1, 9])] == [1, 3, 5]
        assert store.finished_seeds(JOB) == {1, 3, 5}
        assert store.finished_seeds(other) == {2}
        assert [r.seed for r in store.all_runs()] == [5, 1, 3, 2]  # oldest first


def test_saving_a_run_again_replaces_it(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(1, 1.0)])
        _save(store, JOB, [_result(1, 7.0, diverged=True)])
        (run,) = store.all_runs()
    assert run.metrics["train_accuracy"] == 7.0 and run.diverged


def test_reading_a_missing_store_creates_nothing(tmp_path):
    out = tmp_path / "nowhere"
    with Store(out) as store:
        assert store.runs(JOB, [0]) == [] and store.all_runs() == []
        assert store.finished_seeds(JOB) == set() and store.get_meta("x") is None
    assert not out.exists()


def test_meta_round_trips_json(tmp_path):
    with Store(tmp_path) as store:
        store.set_meta("last", {"runs": 3, "tables": None})
        store.set_meta("last", {"runs": 4, "tables": "1"})
        assert store.get_meta("last") == {"runs": 4, "tables": "1"}


def test_the_context_manager_closes_the_connection(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(0)])
    assert store._conn is None
    with pytest.raises(RuntimeError), Store(tmp_path) as store:
        store.all_runs()
        raise RuntimeError("closed even when the block fails")
    assert store._conn is None
    assert (tmp_path / DB_NAME).exists()


def _alternatives(folder) -> dict[str, tuple[dict, dict]]:
    """For every configuration field: a configuration, and the same with that field changed."""
    train, other = folder / "d.csv", folder / "e.csv"
    rows = "".join(f"{i % 5},{i % 3},{i % 2},{(i // 2) % 2}\n" for i in range(40))
    for path in (train, other):
        path.write_text("a,b,y,z\n" + rows)
    csv = {"data": str(train)}
    formula = {"data": "formula", "rule": "x1 > 0"}
    rmsprop, adam, adagrad = ({"optimizer": o} for o in ("rmsprop", "adam", "adagrad"))
    exp = {"schedule": "exponential", "decay_rate": 0.5}
    inverse, cosine = {"schedule": "inverse_time", "decay_rate": 0.5}, {"schedule": "cosine"}
    piecewise = {"schedule": "piecewise", "boundaries": (10,), "values": (1.0, 0.1)}
    plateau = {"schedule": "plateau"}
    stops, held = {"early_stopping": "loss"}, {"early_stopping": "val_loss"}
    return {
        "data": ({}, {"data": "circle"}), "target": (csv, {**csv, "target": "z"}),
        "test": (csv, {**csv, "test": str(other)}), "scale": ({}, {"scale": "standard"}),
        "noise": ({"data": "circle"}, {"data": "circle", "noise": 0.1}),
        "rule": (formula, {**formula, "rule": "x1 > x2"}),
        "range": (formula, {**formula, "range": (-1.0, 1.0)}),
        "features": ({}, {"features": ("x1", "x1*x2")}),
        "m": ({}, {"m": 500}), "n": ({}, {"n": 50}), "hidden": ({}, {"hidden": (4,)}),
        "activation": ({}, {"activation": "tanh"}), "loss": ({}, {"loss": "mse"}),
        "negative_slope": ({"activation": "leaky_relu"},
                           {"activation": "leaky_relu", "negative_slope": 0.1}),
        "init": ({}, {"init": "sklearn"}),
        "batch_size": ({}, {"batch_size": 32}), "epochs": ({}, {"epochs": 10}),
        "shuffle": ({"batch_size": 32}, {"batch_size": 32, "shuffle": False}),
        "validation": ({}, {"validation": 0.2}), "optimizer": ({}, {"optimizer": "adam"}),
        "lr": ({}, {"lr": 1.0}),
        "momentum": ({}, {"momentum": 0.9}),
        "nesterov": ({"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}),
        "rho": (rmsprop, {**rmsprop, "rho": 0.8}),
        "centered": (rmsprop, {**rmsprop, "centered": True}),
        "beta_1": (adam, {**adam, "beta_1": 0.8}), "beta_2": (adam, {**adam, "beta_2": 0.99}),
        "amsgrad": (adam, {**adam, "amsgrad": True}),
        "epsilon": (adam, {**adam, "epsilon": 1e-8}),
        "initial_accumulator": (adagrad, {**adagrad, "initial_accumulator": 0.0}),
        "weight_decay": ({}, {"weight_decay": 1e-4}),
        "schedule": ({}, {"schedule": "cosine"}),
        "decay_rate": (exp, {**exp, "decay_rate": 0.8}),
        "decay_steps": (exp, {**exp, "decay_steps": 7}),
        "staircase": (exp, {**exp, "staircase": True}),
        "power_t": (inverse, {**inverse, "power_t": 0.5}),
        "alpha": (cosine, {**cosine, "alpha": 0.1}),
        "warmup_steps": ({**cosine, "warmup_steps": 5, "warmup_target": 2.0},
                         {**cosine, "warmup_steps": 6, "warmup_target": 2.0}),
        "warmup_target": ({**cosine, "warmup_steps": 5, "warmup_target": 2.0},
                          {**cosine, "warmup_steps": 5, "warmup_target": 3.0}),
        "boundaries": (piecewise, {**piecewise, "boundaries": (20,)}),
        "values": (piecewise, {**piecewise, "values": (1.0, 0.2)}),
        "plateau_factor": (plateau, {**plateau, "plateau_factor": 0.5}),
        "plateau_patience": (plateau, {**plateau, "plateau_patience": 3}),
        "plateau_min_delta": (plateau, {**plateau, "plateau_min_delta": 0.01}),
        "plateau_cooldown": (plateau, {**plateau, "plateau_cooldown": 2}),
        "min_lr": (plateau, {**plateau, "min_lr": 0.01}),
        "dropout": ({}, {"dropout": 0.2}),
        "early_stopping": ({}, {"early_stopping": "loss"}),
        "stop_rule": (stops, {**stops, "stop_rule": "sklearn"}),
        "stop_patience": (stops, {**stops, "stop_patience": 3}),
        "stop_min_delta": (stops, {**stops, "stop_min_delta": 0.01}),
        "restore_best": (stops, {**stops, "restore_best": True}),
        "validation_fraction": (held, {**held, "validation_fraction": 0.2}),
        "l1": ({}, {"l1": 1e-4}), "l2": ({"l2": 1e-4}, {"l2": 2e-4}),
    }  # fmt: skip


JOB_CHANGES = {"engine": {"engine": "numba"}, "dtype": {"dtype": "float32"},
               "device": {"device": "gpu"}}  # fmt: skip


def test_the_alternatives_change_every_field(tmp_path):
    assert set(_alternatives(tmp_path)) == set(CONFIG_FIELDS)


@pytest.mark.parametrize("change", [*CONFIG_FIELDS, *JOB_CHANGES])
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(seed=st.integers(0, 2**62))
def test_changing_any_field_engine_dtype_or_device_changes_what_a_run_matches(
        tmp_path, change, seed):  # fmt: skip
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        alternatives = _alternatives(Path(folder))
        base, changed = alternatives.get(change, ({}, {}))
        job = Job(Config(**base), "numpy")
        other = Job(**{"config": Config(**changed), "engine": "numpy",
                       **JOB_CHANGES.get(change, {})})  # fmt: skip
        assert other != job
        with Store(Path(folder) / "out") as store:
            _save(store, job, [_result(seed)])
            assert store.finished_seeds(job) == {seed} and store.runs(other, [seed]) == []
            assert store.finished_seeds(other) == set()


def _lease(store: Store, job: Job, host: str, pid: int, expires: float) -> None:
    from mlpbench.experiment.store import _job_key

    conn = store._connect(create=True)
    with conn:
        conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
                     ("|".join(_job_key(job)), host, pid, expires))  # fmt: skip


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    ("host", "pid", "expires_in", "claimable"),
    [
        ("elsewhere", 1, -1.0, True),  # another host's lease that has lapsed
        ("elsewhere", 1, +60.0, False),  # another host's lease, still running
        ("here", "dead", +3600.0, True),  # this host, a process that died: lapsed whatever
        ("here", "parent", -1.0, False),  # this host, a process alive: held whatever its time
        ("here", "self", +3600.0, True),  # this process's own lease
    ],
)  # fmt: skip
def test_a_lease_lapses_when_its_time_passes_or_its_process_dies(tmp_path, host, pid,
                                                                expires_in, claimable):  # fmt: skip
    host = socket.gethostname() if host == "here" else host
    pid = {"dead": _dead_pid(), "parent": os.getppid(), "self": os.getpid()}.get(pid, pid)
    with Store(tmp_path) as store:
        _lease(store, JOB, host, pid, time.time() + expires_in)
        assert store.claim([JOB]) is claimable


def test_a_claim_lasts_lease_s_and_is_released(tmp_path):
    from mlpbench.experiment.store import LEASE_S

    with Store(tmp_path) as store:
        before = time.time()
        assert store.claim([JOB])
        (row,) = store._connect(create=False).execute("SELECT * FROM leases").fetchall()
        assert before + LEASE_S <= row["expires"] <= time.time() + LEASE_S
        store.release([JOB])
        assert store._connect(create=False).execute("SELECT * FROM leases").fetchall() == []


def test_a_claim_of_several_jobs_fails_when_any_one_is_held(tmp_path):
    other = Job(JOB.config.replace(lr=3.0), "numpy")
    with Store(tmp_path) as store:
        _lease(store, other, "elsewhere", 1, time.time() + 60)
        assert not store.claim([JOB, other])  # JOB is free, other is held: no claim at all
        assert store._connect(create=False).execute(
            "SELECT COUNT(*) FROM leases").fetchone()[0] == 1  # fmt: skip


def test_a_folder_where_the_store_would_be_is_named_in_one_line(tmp_path):
    (tmp_path / DB_NAME).mkdir()
    with pytest.raises(UsageError) as e, Store(tmp_path) as store:
        store.all_runs()
    assert str(e.value) == f"store {tmp_path / DB_NAME} is a folder, not an mlpbench store"


def test_a_read_only_store_reads_runs_and_writes_nothing(tmp_path, monkeypatch):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(1)])
    monkeypatch.chdir(tmp_path)  # a URI misread as a file name would land here
    before = sorted(p.name for p in tmp_path.iterdir())
    with Store(tmp_path, readonly=True) as store:
        assert store.readonly and [r.seed for r in store.all_runs()] == [1]
        assert store.finished_seeds(JOB) == {1} and [r.seed for r in store.runs(JOB, [1])] == [1]
        with pytest.raises(UsageError, match="is read-only"):
            store.set_meta("x", 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_empty_file_is_a_store_without_runs_and_one_byte_is_not_a_store(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"")
    with Store(tmp_path, readonly=True) as store:
        assert store.all_runs() == [] and store.get_meta("x") is None
    (tmp_path / DB_NAME).write_bytes(b"x")
    with pytest.raises(UsageError) as e, Store(tmp_path, readonly=True) as store:
        store.all_runs()
    assert str(e.value) == (f"store {tmp_path / DB_NAME} is not an mlpbench store (corrupted, "
                            "or another kind of file)")  # fmt: skip


def test_another_schema_is_refused_naming_the_columns_it_lacks(tmp_path):
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("CREATE TABLE runs (id INTEGER, config_key TEXT, seed INTEGER, extra TEXT)")
    conn.close()
    for readonly in (False, True):
        with pytest.raises(UsageError) as e, Store(tmp_path, readonly=readonly) as store:
            store.all_runs()
        missing = ", ".join(sorted(RUN_COLUMNS - {"id", "config_key", "seed"}))
        assert str(e.value) == (f"store {tmp_path / DB_NAME} holds another schema (columns "
                                f"missing: {missing}); use another output folder")  # fmt: skip


def test_a_schema_with_every_column_and_more_says_none_are_missing(tmp_path):
    with Store(tmp_path) as store:
        store.set_meta("x", 1)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("ALTER TABLE runs ADD COLUMN extra TEXT")
    conn.close()
    assert "extra" not in SCHEMA
    with pytest.raises(UsageError, match=r"columns missing: none\); use another output folder"):
        Store(tmp_path).all_runs()


def test_one_connection_serves_a_store_until_it_closes(tmp_path):
    with Store(tmp_path) as store:
        first = store._connect(create=True)
        assert store._connect(create=False) is first
    assert store._conn is None


def test_a_lease_at_its_expiry_instant_has_lapsed(tmp_path, monkeypatch):
    with Store(tmp_path) as store:
        _lease(store, JOB, "elsewhere", 1, 1000.0)
        monkeypatch.setattr(time, "time", lambda: 1000.0)
        assert store.claim([JOB])  # expires == now: lapsed
        _lease(store, JOB, "elsewhere", 1, 1000.5)
        assert not store.claim([JOB])  # half a second left: held


def test_release_and_get_meta_work_on_a_store_not_yet_written(tmp_path):
    with Store(tmp_path) as store:
        store.release([JOB])  # creates the store: nothing to release, no error
        assert store.get_meta("absent") is None
    assert (tmp_path / DB_NAME).exists()


def test_a_stored_run_keeps_its_id_and_a_utc_time(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(1), _result(2)])
        runs = store.all_runs()
    assert [r.id for r in runs] == [1, 2]
    for run in runs:
        assert run.created_at.endswith("+00:00") and "T" in run.created_at


def test_other_curves_round_trip_and_a_run_without_has_none(tmp_path):
    penalized = _result(1)
    penalized.curves = {"penalty": np.array([0.3, 0.2, float("nan")])}
    with Store(tmp_path) as store:
        _save(store, JOB, [penalized, _result(2)])
        first, second = store.runs(JOB, [1, 2])
    np.testing.assert_array_equal(first.curves["penalty"], [0.3, 0.2, np.nan])
    assert second.curves == {}


def test_a_store_from_before_the_curves_column_is_read_and_then_given_it(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(1)])
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN curves")  # as stores were written before
    before = (tmp_path / DB_NAME).read_bytes()
    with Store(tmp_path, readonly=True) as store:  # read as it is: no curves, nothing changed
        assert [r.curves for r in store.all_runs()] == [{}]
    assert (tmp_path / DB_NAME).read_bytes() == before
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(2)])
        assert [r.curves for r in store.all_runs()] == [{}, {}]
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert "curves" in {r[1] for r in conn.execute("PRAGMA table_info(runs)")}


def test_a_loss_curve_is_stored_as_little_endian_float64(tmp_path):
    with Store(tmp_path) as store:
        _save(store, JOB, [_result(1)])
        blob = store._connect(create=False).execute("SELECT loss_curve FROM runs").fetchone()[0]
    assert blob == np.array([0.7, 0.5, 0.25], dtype="<f8").tobytes()


@pytest.mark.parametrize("content", [b"x", b"SQLite format 2\x00" + bytes(100)])
def test_a_short_or_foreign_file_is_not_taken_for_a_store_by_a_writer(tmp_path, content):
    (tmp_path / DB_NAME).write_bytes(content)
    with pytest.raises(UsageError, match="is not an mlpbench store"), Store(tmp_path) as store:
        _save(store, JOB, [_result(1)])
    assert (tmp_path / DB_NAME).read_bytes() == content  # left as it was
