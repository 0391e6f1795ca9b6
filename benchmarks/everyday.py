"""Everyday paths, measured side by side in one run: help, a rerun with nothing to train,
numba's cold and warm compile, and drawing a report.

    python benchmarks/everyday.py [--runs 20]

Each figure is the best of --repeat wall times of the real command in a fresh process
(what a user waits for). The rerun is of the seed study's four tables, already stored;
the compile figures run Tables 1, 2 and 4 on numba with an empty on-disk cache (cold)
and again with the cache it left (warm). The report figures are `mlpbench report` of
Tables 1, 2 and 4 (--runs a column, on numba) with every plot drawn afresh, and again
with its plots unchanged (read from the plot cache); each includes Python's start-up and
imports, which `mlpbench --help` shows alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MLPBENCH = [sys.executable, "-m", "mlpbench.cli"]
COMMANDS = ("run", "train", "tune", "agree", "report", "export", "data")


def wall(argv: list[str], repeat: int, env: dict | None = None) -> float:
    """Best of `repeat` wall times of a command, in seconds; it must succeed."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per column of the study")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many")
    args = parser.parse_args()
    rows = [("mlpbench --help", wall([*MLPBENCH, "--help"], args.repeat))]
    for command in COMMANDS:
        rows.append((f"mlpbench {command} --help", wall([*MLPBENCH, command, "--help"], 1)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        run = [*MLPBENCH, "run", "--out", str(out), "--runs", str(args.runs)]
        first = wall(run, 1)
        rows.append((f"seed study, {args.runs} runs, first run (trains)", first))
        rows.append(("the same again: nothing to train", wall(run, args.repeat)))
        cache = Path(tmp) / "numba-cache"
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
        numba = [*MLPBENCH, "run", "--tables", "1,2,4", "--runs", "2", "--engine", "numba",
                 "--fresh", "--out", str(Path(tmp) / "numba")]  # fmt: skip
        cold = wall(numba, 1, env)
        warm = wall(numba, args.repeat, env)
        rows.append(("Tables 1, 2, 4 on numba, cold compile cache", cold))
        rows.append(("the same, warm compile cache", warm))
        rows.append(("the difference: compiling the kernels", cold - warm))
        folder = Path(tmp) / "report"
        subprocess.run([*MLPBENCH, "run", "--tables", "1,2,4", "--runs", str(args.runs),
                        "--engine", "numba", "--out", str(folder)], check=True,
                       capture_output=True, env=env)  # fmt: skip
        report = [*MLPBENCH, "report", "--out", str(folder)]
        fresh = float("inf")
        for _ in range(args.repeat):
            shutil.rmtree(folder / "plots")
            fresh = min(fresh, wall(report, 1))
        rows.append((f"report of Tables 1, 2, 4 ({args.runs} runs), plots drawn", fresh))
        rows.append(("the same, plots unchanged", wall(report, args.repeat)))
    print(f"{'path':<48} {'wall':>8}")
    for name, seconds in rows:
        print(f"{name:<48} {seconds:>7.2f}s")


if __name__ == "__main__":
    main()
