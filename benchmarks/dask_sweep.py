"""A sweep of 200 configurations x 20 runs, locally and on a 2-worker Dask LocalCluster.

    python benchmarks/dask_sweep.py [--epochs 200] [--runs 20]

The sweep is 50 learning rates (log grid 1e-3 to 10) x {bce, mse} x {sgd, adam},
full batch, on the numba engine. Both executors start from an empty store, so
both train everything; the numba compile cache is warmed first. It prints both
wall times and their ratio, then the per-task overhead of Dask, measured with
200 tasks that do almost no work, and the task size that keeps it under 5%.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from mlpbench.config.core import Config, Job
from mlpbench.engines import train
from mlpbench.experiment.runner import open_executor, run_jobs
from mlpbench.experiment.store import Store


def sweep(epochs: int) -> list[Job]:
    """200 configurations that differ in learning rate, loss and optimizer."""
    rates = np.logspace(-3, 1, 50)
    return [
        Job(Config(loss=loss, optimizer=opt, lr=float(lr), epochs=epochs), "numba")
        for loss in ("bce", "mse")
        for opt in ("sgd", "adam")
        for lr in rates
    ]


def timed_run(jobs: list[Job], seeds: list[int], executor_spec: str) -> tuple[float, str]:
    """Wall seconds to train every job from scratch with one executor (connecting excluded)."""
    with tempfile.TemporaryDirectory() as out, open_executor(executor_spec) as executor:
        start = time.perf_counter()
        run_jobs(jobs, seeds, Store(out), executor=executor)
        return time.perf_counter() - start, executor.description


def main() -> None:
    """Print the local and Dask wall times, their ratio, and Dask's per-task overhead."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    train("numba", Config(m=2, n=1, epochs=1), [0])  # compile or load the kernels
    jobs, seeds = sweep(args.epochs), list(range(args.runs))
    print(f"sweep: {len(jobs)} configurations x {len(seeds)} runs, full batch, "
          f"{args.epochs} epochs, numba engine; one Dask task per configuration")  # fmt: skip
    local, _ = timed_run(jobs, seeds, "local")
    print(f"local (this machine, all cores):     {local:7.2f} s")
    dask, where = timed_run(jobs, seeds, "dask")
    print(f"{where}: {dask:7.2f} s")
    print(f"ratio dask / local: {dask / local:.2f}")

    tiny = [
        Job(Config(m=10, n=2, epochs=1, lr=float(lr)), "numba") for lr in np.logspace(-3, 1, 200)
    ]
    with tempfile.TemporaryDirectory() as out, open_executor("dask") as executor:
        workers = int(executor.description.split(", ")[-1].split()[0])
        run_jobs(tiny[:10], [0], Store(out), executor=executor)  # warm the workers
        start = time.perf_counter()
        run_jobs(tiny, [1], Store(out), executor=executor)
        per_task = (time.perf_counter() - start) * workers / len(tiny)
    per_config = dask * workers / len(jobs)
    print(f"per-task overhead (200 near-empty tasks on {workers} workers): "
          f"{per_task * 1e3:.1f} ms of worker time; under 5% for tasks of at least "
          f"{20 * per_task:.2f} s of work")  # fmt: skip
    print(f"this sweep's tasks took {per_config:.3f} s of worker time each: overhead "
          f"{per_task / per_config:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
