"""Studies on a Dask cluster: the same numbers, a killed worker, an unreachable scheduler."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest

from mlpbench import cli
from mlpbench.config.core import Config, Job
from mlpbench.experiment.runner import open_executor, run_jobs
from mlpbench.experiment.store import Store

distributed = pytest.importorskip("distributed")
pytest.importorskip("numba")  # the study below trains on the numba engine

STUDY = """
runs = 3
[defaults]
m = 80
n = 20
epochs = 30
[[tables]]
number = 1
  [[tables.columns]]
  label = "numba sgd"
  engine = "numba"
  lr = 2.0
  [[tables.columns]]
  label = "numba adam B=16"
  engine = "numba"
  optimizer = "adam"
  lr = 0.05
  batch_size = 16
  [[tables.columns]]
  label = "numpy mse"
  engine = "numpy"
  loss = "mse"
  lr = 5.0
"""
METRICS = ("train_accuracy", "test_accuracy", "train_loss", "test_loss")


def _metrics(out):
    with Store(out) as store:
        runs = store.all_runs()
    return {(r.config_key, r.engine, r.seed): tuple(r.metrics[m] for m in METRICS) for r in runs}


def test_dask_gives_the_same_stored_metrics_as_local(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY)
    local, cluster = tmp_path / "local", tmp_path / "dask"
    assert cli.main(["run", str(study), "--out", str(local)]) == 0
    assert cli.main(["run", str(study), "--out", str(cluster), "--executor", "dask"]) == 0
    a, b = _metrics(local), _metrics(cluster)
    assert len(a) == 9 and a == b  # bit for bit, timings aside
    with Store(cluster) as store:
        env = store.all_runs()[0].environment
    assert (
        env["Executor"].startswith("dask LocalCluster at tcp://") and "workers" in env["Executor"]
    )
    assert "dask LocalCluster" in (cluster / "report.md").read_text()


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--tables", "1", "--executor", "dask://127.0.0.1:9", "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err[0]
    assert not out.exists()


def test_unknown_executor(tmp_path, capsys):
    assert cli.main(["train", "--executor", "spark", "--out", str(tmp_path / "o")]) == 2
    assert "unknown executor 'spark'" in capsys.readouterr().err


def _rows(db):
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def test_a_killed_worker_costs_only_its_unfinished_tasks(tmp_path):
    """Kill one of two worker processes mid-study: Dask reruns its task, nothing is lost."""
    # six tasks of about two seconds each on the NumPy engine (batch size 1)
    jobs = [
        Job(Config(m=100, n=20, epochs=40, batch_size=1, lr=lr, loss="mse"), "numpy")
        for lr in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    ]
    seeds = [0, 1]
    store = Store(tmp_path)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True
    )
    try:
        with distributed.Client(cluster) as client:
            pids = client.run(os.getpid)
        killed = []

        def kill_one_worker_once_work_lands():
            deadline = time.time() + 120
            while _rows(store.path) == 0 and time.time() < deadline:
                time.sleep(0.05)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        killer = threading.Thread(target=kill_one_worker_once_work_lands)
        killer.start()
        with open_executor("dask://" + cluster.scheduler_address) as executor:
            run_jobs(jobs, seeds, store, executor=executor)
        killer.join()
    finally:
        cluster.close()
    assert killed
    assert _rows(store.path) == len(jobs) * len(seeds)  # all there, none twice
    for job in jobs:
        assert sorted(r.seed for r in store.runs(job, seeds)) == seeds


def test_agree_on_dask_matches_agree_locally(capsys):
    argv = ["agree", "--engines", "numpy,numba", "--epochs", "20", "--m", "60", "--runs", "2"]
    assert cli.main(argv) == 0
    local = capsys.readouterr().out
    assert cli.main([*argv, "--executor", "dask"]) == 0
    assert capsys.readouterr().out == local
