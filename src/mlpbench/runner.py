"""The experiment loop: train what the store lacks, save each group as it finishes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tqdm import tqdm

from mlpbench import engines
from mlpbench.config import Job
from mlpbench.env import environment
from mlpbench.store import Store


def pending(job: Job, seeds: Sequence[int], store: Store, fresh: bool) -> list[int]:
    """Seeds of a job still to train (all of them with fresh)."""
    if fresh:
        return list(seeds)
    done = store.finished_seeds(job)
    return [s for s in seeds if s not in done]


def run_jobs(jobs: Sequence[Job], seeds: Sequence[int], store: Store, fresh: bool = False) -> None:
    """Train every job's missing runs, writing each finished group to the store at once.

    Jobs on a device this machine lacks (a GPU column without a GPU) are skipped;
    the report says so in their cells.
    """
    for job in jobs:
        engines.check_engine(job.engine)
    runnable = [job for job in jobs if engines.has_device(job.engine, job.device)]
    todo = [(job, pending(job, seeds, store, fresh)) for job in runnable]
    todo = [(job, todo_seeds) for job, todo_seeds in todo if todo_seeds]
    total = sum(len(s) * job.config.epochs for job, s in todo)
    with tqdm(total=total, unit=" run-epochs", file=sys.stderr, disable=None) as bar:
        for job, todo_seeds in todo:
            c = job.config
            bar.set_description(
                f"{job.engine} {c.loss}/{c.optimizer} lr={c.lr:g} B={c.batch} x{len(todo_seeds)}"
            )
            engine = engines.load(job.engine)
            results = engine.train(job.config, todo_seeds, job.dtype, job.device, bar.update)
            store.save(job, results, engine.versions(), environment())
