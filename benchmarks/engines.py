"""Time every installed engine side by side on the seed study's configurations.

    python benchmarks/engines.py [--budget 20] [--no-study]

For each configuration (Table 4's MSE + Adam lr 0.01 at full batch, B = 128,
32 and 1, 1000 epochs; and digits: 64 inputs, 10 softmax classes, CCE, hidden
[32], B = 32, 100 epochs) and each installed engine, trains 1 run and 20 runs in
this one process and prints training time (compile and data preparation
excluded), the first-call compile cost, and each time's ratio to the numba
engine's (float64, its default; a float32 row is shown too, as Keras and
TensorFlow train in float32). Measurements under a second are repeated five
times and the median is shown. An engine whose full run would exceed
--budget seconds is timed over fewer epochs and scaled to 1000: its time
is modelled as a fixed cost (fit set-up, tracing) plus a cost per epoch, both
read from 1- and 2-epoch probes, so the fixed part is not scaled up; such rows
say "extrapolated". Last, it times the whole seed study from the shell
(`mlpbench run`) with the numba cache cold and warm.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

from mlpbench import engines
from mlpbench.config.core import Config

EPOCHS = 1000
CONFIGS = {
    "full batch": Config(loss="mse", optimizer="adam", lr=0.01, epochs=EPOCHS),
    "B=128": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=128, epochs=EPOCHS),
    "B=32": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=32, epochs=EPOCHS),
    "B=1": Config(loss="mse", optimizer="adam", lr=0.01, batch_size=1, epochs=EPOCHS),
}
DIGITS = ("digits", dict(data="digits", loss="cce", optimizer="adam", lr=0.001, hidden=(32,),
                         activation="tanh", batch_size=32, epochs=100))  # fmt: skip
# (row label, engine, dtype); ratios are to the first row
ROWS = (
    ("numba", "numba", "float64"),
    ("numba f32", "numba", "float32"),
    ("numpy", "numpy", "float64"),
    ("keras", "keras", None),
    ("tf-function", "tf-function", None),
    ("jax", "jax", None),
)
REPEATS = 5  # for measurements under a second


def train_time(engine: str, config: Config, runs: int, dtype: str | None) -> tuple[float, float]:
    """Wall time of training `runs` runs together, and the engine's compile time."""
    results = engines.train(engine, config, list(range(runs)), dtype)
    group = sum(r.metrics["train_time_s"] for r in results)
    return group, results[0].metrics["compile_time_s"]


def timed(engine: str, config: Config, runs: int, dtype: str | None, budget: float):
    """Training time for the config's epochs, compile time, and the epochs actually run."""
    full = config.epochs
    one, compile_s = train_time(engine, config.replace(epochs=1), runs, dtype)
    two, _ = train_time(engine, config.replace(epochs=2), runs, dtype)
    per_epoch = max(two - one, 1e-9)
    fixed = max(one - per_epoch, 0.0)
    if fixed + per_epoch * full <= budget:
        seconds, _ = train_time(engine, config, runs, dtype)
        if seconds < 1.0:
            more = [train_time(engine, config, runs, dtype)[0] for _ in range(REPEATS - 1)]
            seconds = statistics.median([seconds, *more])
        return seconds, compile_s, full
    epochs = max(2, int((budget - fixed) / per_epoch))
    seconds, _ = train_time(engine, config.replace(epochs=epochs), runs, dtype)
    return fixed + (seconds - fixed) * full / epochs, compile_s, epochs


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
    parser.add_argument("--only", choices=("seed", "digits"), help="time one set of rows")
    args = parser.parse_args()
    configs = dict(CONFIGS)
    if importlib.util.find_spec("sklearn") is not None:  # digits ships with scikit-learn
        configs[DIGITS[0]] = Config(**DIGITS[1])
    if args.only:
        configs = {k: v for k, v in configs.items() if (k == "digits") == (args.only == "digits")}

    rows = [row for row in ROWS if row[1] in engines.ENGINES and engines.available(row[1])]
    labels = ", ".join(label for label, _, _ in rows)
    print(f"engines: {labels}; {os.cpu_count()} cores; {EPOCHS} epochs per run (digits: 100)")
    header = f"{'config':<11} {'engine':<12} {'1 run':>10} {'20 runs':>10} {'per run':>10}"
    first = rows[0][0]
    header += f" {'compile':>9} {'x ' + first + '(1)':>11} {'x ' + first + '(20)':>12}  note"
    print(header)
    for label, config in configs.items():
        times = {}
        for row, name, dtype in rows:
            one, compile_s, e1 = timed(name, config, 1, dtype, args.budget)
            twenty, _, e20 = timed(name, config, 20, dtype, args.budget)
            times[row] = (one, twenty, compile_s, min(e1, e20))
        base = times[rows[0][0]]
        for row, (one, twenty, compile_s, epochs) in times.items():
            r1, r20 = f"{one / base[0]:.1f}x", f"{twenty / base[1]:.1f}x"
            note = "" if epochs == config.epochs else f"extrapolated from {epochs} epochs"
            print(
                f"{label:<11} {row:<12} {one:>9.3f}s {twenty:>9.3f}s {twenty / 20:>9.4f}s"
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
