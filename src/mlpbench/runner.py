"""The experiment loop: train what the store lacks, save each group as it finishes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tqdm import tqdm

from mlpbench import engines
from mlpbench.config import Job
from mlpbench.env import environment
from mlpbench.store import Store

# At most this many batch-order entries (int32) per engine call: 128 MiB.
MAX_ORDER_ENTRIES = 2**25


def pending(job: Job, seeds: Sequence[int], store: Store, fresh: bool) -> list[int]:
    """Seeds of a job still to train (all of them with fresh)."""
    if fresh:
        return list(seeds)
    done = store.finished_seeds(job)
    return [s for s in seeds if s not in done]


def _groups(todo: list[tuple[Job, list[int]]]) -> list[list[tuple[Job, list[int]]]]:
    """Jobs one engine call can serve together: those differing only in learning rate,
    on an engine that takes a rate per run (PER_RUN_LR); every other job alone."""
    groups: dict[object, list[tuple[Job, list[int]]]] = {}
    for i, (job, seeds) in enumerate(todo):
        sweeps = getattr(engines.load(job.engine), "PER_RUN_LR", False)
        key = (job.engine, job.dtype, job.device, job.config.replace(lr=1.0)) if sweeps else i
        groups.setdefault(key, []).append((job, seeds))
    return list(groups.values())


def run_jobs(jobs: Sequence[Job], seeds: Sequence[int], store: Store, fresh: bool = False) -> None:
    """Train every job's missing runs, writing each finished call's runs to the store at once.

    Jobs on a device this machine lacks (a GPU column without a GPU) are skipped;
    the report says so in their cells. A learning-rate sweep on the numba engine
    is one kernel call (in chunks that bound the batch-order memory).
    """
    for job in jobs:
        engines.check_engine(job.engine)
    runnable = [job for job in jobs if engines.has_device(job.engine, job.device)]
    todo = [(job, pending(job, seeds, store, fresh)) for job in runnable]
    todo = [(job, todo_seeds) for job, todo_seeds in todo if todo_seeds]
    total = sum(len(s) * job.config.epochs for job, s in todo)
    with tqdm(total=total, unit=" run-epochs", file=sys.stderr, disable=None) as bar:
        for group in _groups(todo):
            first = group[0][0]
            engine = engines.load(first.engine)
            sweeps = getattr(engine, "PER_RUN_LR", False)
            c = first.config
            rates = f"{len(group)} rates" if len(group) > 1 else f"lr={c.lr:g}"
            bar.set_description(f"{first.engine} {c.loss}/{c.optimizer} {rates} B={c.batch}")
            flat = [(job, seed) for job, job_seeds in group for seed in job_seeds]
            size = max(1, MAX_ORDER_ENTRIES // (c.epochs * c.train_size)) if sweeps else len(flat)
            for start in range(0, len(flat), size):
                chunk = flat[start : start + size]
                extra = {"lrs": [job.config.lr for job, _ in chunk]} if sweeps else {}
                results = engine.train(
                    c, [seed for _, seed in chunk], first.dtype, first.device, bar.update, **extra
                )
                for job in dict.fromkeys(job for job, _ in chunk):
                    runs = [r for (j, _), r in zip(chunk, results) if j == job]
                    store.save(job, runs, engine.versions(), environment())
