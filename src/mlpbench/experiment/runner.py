"""The experiment loop: train what the store lacks, save each task's runs as it finishes.

Work is a list of tasks, one configuration's missing runs each. An executor
runs them: `local` on this machine, or on a Dask cluster (`dask` starts a
LocalCluster here, `dask://HOST:PORT` joins a running scheduler). Whatever
runs the tasks, results come back to this process, which alone writes the
store, so an interrupted study keeps every finished task and a rerun resumes.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence

from tqdm import tqdm

from mlpbench import engines
from mlpbench.config.core import DASK_WAIT_S, Job, check_size
from mlpbench.engines.results import RunResult
from mlpbench.errors import UsageError
from mlpbench.experiment.env import environment, usable_memory
from mlpbench.experiment.store import Store

# At most this many batch-order entries (int32) per engine call: 128 MiB.
MAX_ORDER_ENTRIES = 2**25
CONNECT_TIMEOUT_S = 5

POLL_S = 0.5  # how often a process waiting for another's claim looks again

Task = tuple[Job, list[int]]
Done = Callable[[Job, list[RunResult], dict, dict, int], None]
Claim = Callable[[list[Task]], list[Task] | None]  # None: another process holds them
Release = Callable[[list[Task]], None]


def pending(job: Job, seeds: Sequence[int], store: Store, fresh: bool) -> list[int]:
    """Seeds of a job still to train (all of them with fresh)."""
    if fresh:
        return list(seeds)
    done = store.finished_seeds(job)
    return [s for s in seeds if s not in done]


def train_task(job: Job, seeds: list[int]) -> tuple[list[RunResult], dict, dict]:
    """One task on a Dask worker: the runs, and the versions and machine that made them.

    Parallelism comes from the workers, so engines run single-threaded inside a task.
    """
    engine = engines.load(job.engine)
    engine.single_threaded()
    results = engines.train(job.engine, job.config, seeds, job.dtype, job.device)
    return results, engine.versions(), environment()


class LocalExecutor:
    """This machine, all cores; a learning-rate sweep is one call on engines with per_run_lr."""

    description = "local"
    unit = " run-epochs"

    def total(self, tasks: list[Task]) -> int:
        """Progress units: run-epochs."""
        return sum(len(s) * job.config.epochs for job, s in tasks)

    def results(self, tasks: list[Task]) -> list[list[RunResult]]:
        """Train tasks without storing them, in order (for comparisons)."""
        return [engines.train(job.engine, job.config, seeds, job.dtype, job.device)
                for job, seeds in tasks]  # fmt: skip

    def run(self, tasks: list[Task], done: Done, bar: tqdm, claim: Claim, release: Release):
        """Train group by group, each claimed first, reporting each job's runs as soon as
        its call returns."""
        for group in _groups(tasks):
            claimed = claim(group)
            if claimed is None:
                continue
            try:
                self._train(claimed, done, bar)
            finally:
                release(group)

    def _train(self, group: list[Task], done: Done, bar: tqdm) -> None:
        """One engine call per chunk of a group (every run, or a sweep's rates together)."""
        if not group:
            return
        first = group[0][0]
        sweeps = _per_run_lr(first)
        c = first.config
        rates = f"{len(group)} rates" if len(group) > 1 else f"lr={c.lr:g}"
        bar.set_description(f"{first.engine} {c.loss}/{c.optimizer} {rates} B={c.batch}")
        flat = [(job, seed) for job, job_seeds in group for seed in job_seeds]
        size = max(1, MAX_ORDER_ENTRIES // (c.epochs * c.train_size)) if sweeps else len(flat)
        for start in range(0, len(flat), size):
            chunk = flat[start : start + size]
            lrs = [job.config.lr for job, _ in chunk]
            seeds = [seed for _, seed in chunk]
            results = engines.train(
                first.engine, c, seeds, first.dtype, first.device, bar.update, lrs
            )
            versions = engines.load(first.engine).versions()
            for job in dict.fromkeys(job for job, _ in chunk):
                runs = [r for (j, _), r in zip(chunk, results) if j == job]
                done(job, runs, versions, environment(), len(chunk))


class DaskExecutor:
    """A Dask cluster: one task per configuration, results gathered as they finish."""

    unit = " tasks"

    def __init__(self, client, description: str):
        self.client = client
        self.description = description

    def total(self, tasks: list[Task]) -> int:
        """Progress units: tasks."""
        return len(tasks)

    def results(self, tasks: list[Task]) -> list[list[RunResult]]:
        """Train tasks on the cluster without storing them, in order (for comparisons)."""
        futures = [self.client.submit(train_task, job, seeds, pure=False) for job, seeds in tasks]
        return [results for results, _, _ in self.client.gather(futures)]

    def run(self, tasks: list[Task], done: Done, bar: tqdm, claim: Claim, release: Release):
        """Submit every task this process claims; save each as it completes, wherever it ran."""
        from distributed import as_completed

        bar.set_description(f"{self.description}: {len(tasks)} tasks")
        futures = {}
        for task in tasks:
            claimed = claim([task])
            if claimed is None:
                continue
            if not claimed:
                release([task])
                continue
            job, seeds = claimed[0]
            futures[self.client.submit(train_task, job, seeds, pure=False)] = task
        try:
            for future in as_completed(futures):
                results, versions, env = future.result()
                task = futures[future]
                done(task[0], results, versions, env, len(results))
                release([task])
                bar.update(1)
        finally:
            release(list(futures.values()))


Executor = LocalExecutor | DaskExecutor


def _per_run_lr(job: Job) -> bool:
    return engines.spec(job.engine).capabilities.per_run_lr


def _groups(tasks: list[Task]) -> list[list[Task]]:
    """Jobs one engine call can serve together: those differing only in learning rate,
    on an engine that takes a rate per run (per_run_lr); every other job alone."""
    groups: dict[object, list[Task]] = {}
    for i, (job, seeds) in enumerate(tasks):
        sweeps = _per_run_lr(job)
        c = job.config
        key = (job.engine, job.dtype, job.device, c.replace(lr=1.0), c.info.sha256) if sweeps else i
        groups.setdefault(key, []).append((job, seeds))
    return list(groups.values())


# a host name's labels are 1 to 63 characters (RFC 1123), or an IPv6 address in brackets
ADDRESS = re.compile(r"^dask://(tcp://)?(?P<host>[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*"
                     r"|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")  # fmt: skip
MAX_WAIT_S = 86_400.0  # --dask-timeout: a day at most


def check_executor(spec: str) -> str:
    """Accept local, dask and dask://HOST:PORT (a TCP address)."""
    address = ADDRESS.match(spec) if isinstance(spec, str) else None
    if spec in ("local", "dask") or (address and 0 < int(address["port"]) < 65536
                                     and len(address["host"]) <= 253):  # fmt: skip
        return spec
    raise UsageError(
        f"unknown executor {spec!r}; allowed: local, dask, dask://HOST:PORT "
        "(a TCP address, PORT 1-65535)"
    )


def check_wait(wait_s: object) -> float:
    """--dask-timeout: a number of seconds, more than 0 and at most a day."""
    number = isinstance(wait_s, (int, float)) and not isinstance(wait_s, bool)
    if number and 0 < wait_s <= MAX_WAIT_S:  # NaN fails both comparisons
        return float(wait_s)
    raise UsageError(f"dask timeout must be a number of seconds in (0, {MAX_WAIT_S:g}], got "
                     f"{wait_s!r}")  # fmt: skip


@contextlib.contextmanager
def open_executor(spec: str, wait_s: float = DASK_WAIT_S) -> Iterator[Executor]:
    """The executor named by spec, connected (or failing with one line) before any work;
    a scheduler without workers is waited for up to wait_s seconds."""
    check_executor(spec)
    check_wait(wait_s)
    if spec == "local":
        yield LocalExecutor()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError(
            "executor 'dask' needs dask.distributed; install it with: pip install 'mlpbench[dask]'"
        ) from None
    with contextlib.ExitStack() as stack:
        if spec == "dask":
            workers = os.cpu_count() or 1
            cluster = stack.enter_context(
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
            )
            address = cluster.scheduler_address
        else:
            address = "tcp://" + spec.removeprefix("dask://").removeprefix("tcp://")
        try:
            client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT_S))
        except (OSError, TimeoutError, ValueError) as e:  # ValueError: a name IDNA refuses
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        if not workers:
            print(f"mlpbench: waiting up to {wait_s:g} s for a worker to join {address}",
                  file=sys.stderr)  # fmt: skip
            try:
                client.wait_for_workers(1, timeout=wait_s)
            except TimeoutError:
                raise UsageError(
                    f"no Dask worker joined the scheduler at {address} within {wait_s:g} s "
                    "(--dask-timeout)"
                ) from None
            workers = len(client.scheduler_info(n_workers=-1)["workers"])
        kind = "LocalCluster" if spec == "dask" else "scheduler"
        yield DaskExecutor(client, f"dask {kind} at {address}, {workers} workers")


def runnable_jobs(jobs: Sequence[Job], runs: int = 1) -> list[Job]:
    """The jobs this machine can run, each checked; the rest (a GPU column without a GPU,
    an engine not installed) are left for the report to explain in their cells."""
    runnable = [job for job in jobs if engines.has_device(job.engine, job.device)]
    check_jobs(runnable, runs)
    return runnable


def check_jobs(jobs: Sequence[Job], runs: int = 1) -> None:
    """Refuse, before any work, a job whose engine is missing or cannot train its config,
    or whose runs could not fit in memory."""
    for job in jobs:
        engines.check_engine(job.engine)
        engines.check_supports(job.engine, job.config, job.dtype)
        check_size(job.config, runs, usable_memory())


def start_engines(jobs: Sequence[Job]) -> None:
    """Import the engines these jobs train on, so a library that cannot start (a bad
    KERAS_BACKEND, say) stops the command with one line before any work."""
    for name in dict.fromkeys(job.engine for job in jobs):
        engines.load(name)


def run_jobs(
    jobs: Sequence[Job],
    seeds: Sequence[int],
    store: Store,
    fresh: bool = False,
    executor: Executor | None = None,
) -> int:
    """Train every job's missing runs, writing each finished task's runs to the store at once;
    return how many runs this process trained.

    Jobs this machine cannot run (a GPU column without a GPU, an engine not
    installed) are skipped; the report says so in their cells. A job another
    live process has claimed in the same store is left to it and waited for.
    """
    runnable = runnable_jobs(jobs, len(seeds))
    executor = executor or LocalExecutor()
    tasks = [(job, pending(job, seeds, store, fresh)) for job in runnable]
    tasks = [(job, todo) for job, todo in tasks if todo]
    start_engines([job for job, _ in tasks])
    trained = 0
    deferred: list[Task] = []

    def claim(group: list[Task]) -> list[Task] | None:
        if not store.claim([job for job, _ in group]):
            deferred.extend(group)
            return None
        left = [(job, [s for s in todo if fresh or s not in store.finished_seeds(job)])
                for job, todo in group]  # fmt: skip
        return [(job, todo) for job, todo in left if todo]

    def release(group: list[Task]) -> None:
        store.release([job for job, _ in group])

    def done(job: Job, results: list[RunResult], versions: dict, env: dict, group: int) -> None:
        nonlocal trained
        store.save(job, results, versions, {**env, "Executor": executor.description}, group)
        trained += len(results)

    total = executor.total(tasks)
    with tqdm(total=total, unit=executor.unit, file=sys.stderr, disable=None) as bar:
        told = False
        while tasks:
            deferred.clear()
            executor.run(tasks, done, bar, claim, release)
            if deferred and not told:
                print(f"mlpbench: {len(deferred)} configurations are being trained by another "
                      "process on this store; waiting for them", file=sys.stderr)  # fmt: skip
                told = True
            if deferred:
                bar.set_description(f"waiting for another process on {len(deferred)} jobs")
                time.sleep(POLL_S)
            tasks = list(deferred)
    return trained
