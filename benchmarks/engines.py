"""Time every installed engine side by side on the seed study's configurations.

    python benchmarks/engines.py [--budget 20] [--no-study]

For each configuration (Table 4's MSE + Adam lr 0.01 at full batch, B = 128,
32 and 1, 1000 epochs) and each installed engine, trains 1 run and 20 runs in
this one process and prints training time (compile and data preparation
excluded), the first-call compile cost, and each time's ratio to the numba
engine's. An engine whose full run would exceed --budget seconds is timed over
fewer epochs and its time scaled to 1000 epochs; such rows say "extrapolated".
Last, it times the whole seed study from the shell (`mlpbench run`) with the
numba cache cold and warm.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from mlpbench import engines
from mlpbench.config import Config

EPOCHS = 1000
CONFIGS = {
    "full batch": Config(loss="mse", optimizer="adam", lr=0.01, epochs=EPOCHS),
    "B=128": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=128, epochs=EPOCHS),
    "B=32": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=32, epochs=EPOCHS),
    "B=1": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=1, epochs=EPOCHS),
}
ENGINE_ORDER = ("numba", "numpy", "keras", "tf-function")


def train_time(engine, config: Config, runs: int) -> tuple[float, float]:
    """Wall time of training `runs` runs together, and the engine's compile time."""
    results = engine.train(config, list(range(runs)))
    group = sum(r.metrics["train_time_s"] for r in results)
    return group, results[0].metrics["compile_time_s"]


def timed(engine, config: Config, runs: int, budget: float) -> tuple[float, float, int]:
    """Training time scaled to EPOCHS epochs, compile time, and the epochs actually run."""
    probe_epochs = 2
    probe, compile_s = train_time(engine, config.replace(epochs=probe_epochs), runs)
    per_epoch = probe / probe_epochs
    epochs = EPOCHS if per_epoch * EPOCHS <= budget else max(probe_epochs, int(budget / per_epoch))
    if epochs == probe_epochs:
        return per_epoch * EPOCHS, compile_s, epochs
    seconds, _ = train_time(engine, config.replace(epochs=epochs), runs)
    return seconds * EPOCHS / epochs, compile_s, epochs


def study_wall_time(cache_dir: str | None) -> float:
    """Seconds for `mlpbench run` of the whole seed study in a fresh process and folder."""
    env = dict(os.environ)
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mlpbench.cli", "run", "--tables", "1,2,4", "--out", out],
            check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return time.perf_counter() - start


def main() -> None:
    """Print the side-by-side table and, unless --no-study, the whole-study wall times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--no-study", action="store_true", help="skip the whole-study timing")
    args = parser.parse_args()

    names = [n for n in ENGINE_ORDER if n in engines.ENGINES and engines.available(n)]
    print(f"engines: {', '.join(names)}; {os.cpu_count()} cores; {EPOCHS} epochs per run")
    header = f"{'config':<11} {'engine':<12} {'1 run':>10} {'20 runs':>10} {'per run':>10}"
    header += f" {'compile':>9} {'x numba(1)':>11} {'x numba(20)':>12}  note"
    print(header)
    for label, config in CONFIGS.items():
        rows = {}
        for name in names:
            engine = engines.load(name)
            one, compile_s, e1 = timed(engine, config, 1, args.budget)
            twenty, _, e20 = timed(engine, config, 20, args.budget)
            rows[name] = (one, twenty, compile_s, min(e1, e20))
        base = rows.get("numba")
        for name, (one, twenty, compile_s, epochs) in rows.items():
            r1 = f"{one / base[0]:.1f}x" if base else "-"
            r20 = f"{twenty / base[1]:.1f}x" if base else "-"
            note = "" if epochs == EPOCHS else f"extrapolated from {epochs} epochs"
            print(
                f"{label:<11} {name:<12} {one:>9.3f}s {twenty:>9.3f}s {twenty / 20:>9.4f}s"
                f" {compile_s:>8.2f}s {r1:>11} {r20:>12}  {note}"
            )
    if not args.no_study:
        with tempfile.TemporaryDirectory() as cache:
            cold = study_wall_time(cache)
            warm = study_wall_time(cache)
        print(f"whole seed study (mlpbench run, Tables 1, 2, 4, 20 runs): "
              f"{cold:.1f}s with a cold compile cache, {warm:.1f}s warm")  # fmt: skip


if __name__ == "__main__":
    main()
