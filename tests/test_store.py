"""The store: typed records round-trip, a run is stored once, reads never create files."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.config.core import Config, Job
from mlpbench.engines.results import METRICS, RunResult, StoredRun
from mlpbench.experiment.store import DB_NAME, Store

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
