"""The runner: what is still to train, how jobs are grouped, executors and resume."""

from __future__ import annotations

import dataclasses

import pytest

from mlpbench import engines
from mlpbench.config.core import Config, Job
from mlpbench.errors import UsageError
from mlpbench.experiment import runner
from mlpbench.experiment.store import Store

CONFIG = Config(m=30, n=10, epochs=4)


def test_pending_skips_stored_seeds_unless_fresh(tmp_path):
    job = Job(CONFIG, "numpy")
    with Store(tmp_path) as store:
        runner.run_jobs([job], [0, 2], store)
        assert runner.pending(job, [0, 1, 2, 3], store, fresh=False) == [1, 3]
        assert runner.pending(job, [0, 1, 2, 3], store, fresh=True) == [0, 1, 2, 3]


def test_groups_sweep_rates_together_only_on_engines_that_take_a_rate_per_run():
    def task(engine, lr, **changes):
        return (Job(CONFIG.replace(lr=lr, **changes), engine), [0])

    tasks = [task("numba", 0.1), task("numba", 0.2), task("numba", 0.1, loss="mse"),
             task("numpy", 0.1), task("numpy", 0.2)]  # fmt: skip
    groups = runner._groups(tasks)
    sizes = sorted(len(g) for g in groups)
    assert engines.spec("numba").capabilities.per_run_lr
    assert not engines.spec("numpy").capabilities.per_run_lr
    assert sizes == [1, 1, 1, 2]  # the two numba BCE rates share one call
    assert [len(g) for g in groups if g[0][0].engine == "numba"] == [2, 1]


def test_run_jobs_trains_only_what_is_missing(tmp_path, monkeypatch):
    calls = []
    real = engines.train
    monkeypatch.setattr(engines, "train", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    jobs = [Job(CONFIG, "numpy"), Job(CONFIG.replace(lr=1.0), "numpy")]
    with Store(tmp_path) as store:
        runner.run_jobs(jobs[:1], [0, 1], store)
        runner.run_jobs(jobs, [0, 1, 2], store)
        assert len(store.all_runs()) == 6
    assert calls == [[0, 1], [2], [0, 1, 2]]


def test_a_gpu_job_without_a_gpu_is_left_for_the_report(monkeypatch):
    monkeypatch.setattr(engines, "has_device", lambda name, device: device == "cpu")
    cpu, gpu = Job(CONFIG, "numpy"), Job(CONFIG, "numpy", device="gpu")
    assert runner.runnable_jobs([cpu, gpu]) == [cpu]


def test_a_job_the_engine_cannot_train_is_refused_before_any_work(monkeypatch):
    with pytest.raises(UsageError, match="unknown engine 'cuda'"):
        runner.check_jobs([Job(CONFIG, "cuda")])
    with pytest.raises(UsageError, match="engine 'numpy' cannot train dtype 'float16'"):
        runner.check_jobs([Job(CONFIG, "numpy", "float16")])
    only_sgd = engines.Capabilities(optimizers=frozenset({"sgd"}))
    spec = dataclasses.replace(engines.ENGINES["numpy"], capabilities=only_sgd)
    monkeypatch.setitem(engines.ENGINES, "numpy", spec)
    runner.check_jobs([Job(CONFIG, "numpy")])
    with pytest.raises(UsageError, match="cannot train optimizer 'adam'; it supports: sgd"):
        runner.check_jobs([Job(CONFIG.replace(optimizer="adam"), "numpy")])


@pytest.mark.parametrize("spec", ["local", "dask", "dask://host:8786"])
def test_executor_specs_accepted(spec):
    assert runner.check_executor(spec) == spec


@pytest.mark.parametrize("spec", ["", "dask://", "ray", "local2"])
def test_executor_specs_refused(spec):
    with pytest.raises(UsageError, match="allowed: local, dask, dask://HOST:PORT"):
        runner.check_executor(spec)


def test_local_executor_results_are_not_stored(tmp_path):
    (results,) = runner.LocalExecutor().results([(Job(CONFIG, "numpy"), [4, 5])])
    assert [r.seed for r in results] == [4, 5]
    assert not any(tmp_path.iterdir())
