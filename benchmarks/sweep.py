"""A learning-rate x seed sweep as one program, and JAX against numba per batch size.

    python benchmarks/sweep.py [--lrs 100] [--seeds 100] [--epochs 1000] [--device cpu|gpu]
                               [--engines jax,numba] [--no-batches]

Sweep: lrs x seeds runs (default 100 x 100 = 10,000) of the seed network,
full batch (m = 1000), BCE + SGD, learning rates log-spaced over 1e-2..1e2,
each run its own seed's data and initial weights; one engine call per
engine (both take a learning rate per run). Printed: wall time of the call
(compile included), training time alone, compile time, runs per second of
training, and memory: this process's peak resident set, and on a GPU the
device's peak bytes in use.

Batches: 20 runs of Table 4's configuration (MSE, Adam lr 0.01, 1000
epochs) at the seed's batch sizes (full, 128, 32, 1) on each engine, side by
side, training time only. On a GPU also: the host-to-device transfer of one
Table 3 group's data and the time per update, which together say why a
GPU loses on this model.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from mlpbench import engines
from mlpbench.config.core import Config

SEED_BATCHES = {"full": None, "128": 128, "32": 32, "1": 1}


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gpu_peak_mb(device: str) -> str:
    """Peak bytes the JAX GPU allocator held, where there is one."""
    if device != "gpu":
        return "-"
    import jax

    stats = jax.devices("gpu")[0].memory_stats() or {}
    return f"{stats.get('peak_bytes_in_use', 0) / 2**20:.0f} MiB"


def sweep(name: str, device: str, n_lrs: int, n_seeds: int, epochs: int) -> str:
    """One call training every (rate, seed) pair; a table row."""
    config = Config(loss="bce", optimizer="sgd", lr=1.0, epochs=epochs)
    rates = np.logspace(-2, 2, n_lrs)
    lrs = np.repeat(rates, n_seeds).tolist()
    seeds = list(range(n_seeds)) * n_lrs
    start = time.perf_counter()
    results = engines.train(name, config, seeds, device=device, lrs=lrs)
    wall = time.perf_counter() - start
    train = sum(r.metrics["train_time_s"] for r in results)
    compile_s = results[0].metrics["compile_time_s"]
    runs = len(results)
    diverged = sum(r.diverged for r in results)
    return (f"{name:<6} {device:<4} {runs:>7} {wall:>9.2f}s {train:>9.2f}s {compile_s:>8.2f}s"
            f" {runs / train:>11.0f} {peak_rss_mb():>8.0f} MiB {gpu_peak_mb(device):>10}"
            f"  {diverged} diverged")  # fmt: skip


def batches(names: list[tuple[str, str]], epochs: int) -> list[str]:
    """Training time of 20 runs at each seed batch size, per engine and device."""
    lines = [f"{'batch':<6}" + "".join(f" {n + ' ' + d:>14}" for n, d in names)]
    for label, batch in SEED_BATCHES.items():
        config = Config(loss="mse", optimizer="adam", lr=0.01, batch_size=batch, epochs=epochs)
        cells = []
        for name, device in names:
            results = engines.train(name, config, list(range(20)), device=device)
            cells.append(f"{sum(r.metrics['train_time_s'] for r in results):>13.3f}s")
        lines.append(f"{label:<6}" + "".join(f" {c:>14}" for c in cells))
    return lines


def transfer_and_update(epochs: int) -> str:
    """Where a GPU's time goes for one Table 3 group (20 runs, m = 1000, full batch)."""
    import jax

    config = Config(loss="bce", optimizer="sgd", lr=1.0, epochs=epochs)
    problem = engines.prepare(config, list(range(20)), "float32")
    gpu = jax.devices("gpu")[0]
    jax.block_until_ready(jax.device_put(problem.data.x_train, gpu))  # first-use set-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        jax.block_until_ready(jax.device_put((problem.data, problem.params), gpu))
        times.append(time.perf_counter() - start)
    results = engines.train("jax", config, list(range(20)), device="gpu")
    per_update = sum(r.metrics["train_time_s"] for r in results) / epochs
    cpu = engines.train("jax", config, list(range(20)), device="cpu")
    cpu_update = sum(r.metrics["train_time_s"] for r in cpu) / epochs
    return (f"Table 3 group on the GPU: data + weights to the device {np.median(times) * 1e3:.3f}"
            f" ms (median of 5); {per_update * 1e6:.1f} us per update (20 runs) against"
            f" {cpu_update * 1e6:.1f} us on the CPU with JAX")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="for jax")
    parser.add_argument("--engines", default="jax,numba")
    parser.add_argument("--no-batches", action="store_true")
    args = parser.parse_args()
    names = [n for n in args.engines.split(",") if engines.available(n)]
    placed = [(n, args.device if engines.spec(n).capabilities.gpu else "cpu") for n in names]
    print(f"sweep: {args.lrs} learning rates x {args.seeds} seeds, full batch, "
          f"{args.epochs} updates each; engines {', '.join(names)}")  # fmt: skip
    print(f"{'engine':<6} {'dev':<4} {'runs':>7} {'wall':>10} {'train':>10} {'compile':>9}"
          f" {'runs/s':>11} {'peak RSS':>12} {'GPU peak':>10}")  # fmt: skip
    for name, device in placed:
        print(sweep(name, device, args.lrs, args.seeds, args.epochs), flush=True)
    if not args.no_batches:
        print(f"\n20 runs of MSE + Adam lr 0.01, {args.epochs} epochs, training time:")
        columns = [*placed, *([("jax", "cpu")] if ("jax", "gpu") in placed else [])]
        print("\n".join(batches(columns, args.epochs)), flush=True)
    if args.device == "gpu" and "jax" in names:
        print(transfer_and_update(args.epochs))


if __name__ == "__main__":
    main()
