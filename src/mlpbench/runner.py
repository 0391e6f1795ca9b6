"""The experiment loop: train what the store lacks, save each group as it finishes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tqdm import tqdm

from mlpbench import engines
from mlpbench.env import environment
from mlpbench.store import Store
from mlpbench.study import Job


def pending(job: Job, seeds: Sequence[int], store: Store, fresh: bool) -> list[int]:
    """Seeds of a job still to train (all of them with fresh)."""
    if fresh:
        return list(seeds)
    done = store.finished_seeds(job.config, job.engine, job.dtype)
    return [s for s in seeds if s not in done]


def run_jobs(jobs: Sequence[Job], seeds: Sequence[int], store: Store, fresh: bool = False) -> None:
    """Train every job's missing runs, writing each finished group to the store at once."""
    for job in jobs:
        engines.check_engine(job.engine)
    todo = [(job, pending(job, seeds, store, fresh)) for job in jobs]
    todo = [(job, todo_seeds) for job, todo_seeds in todo if todo_seeds]
    total = sum(len(s) * job.config.epochs for job, s in todo)
    with tqdm(total=total, unit=" run-epochs", file=sys.stderr, disable=None) as bar:
        for job, todo_seeds in todo:
            c = job.config
            bar.set_description(
                f"{job.engine} {c.loss}/{c.optimizer} lr={c.lr:g} B={c.batch} x{len(todo_seeds)}"
            )
            engine = engines.load(job.engine)
            results = engine.train(job.config, todo_seeds, job.dtype, on_epoch=bar.update)
            store.save(job.config, job.engine, job.dtype, results, engine.versions(), environment())
