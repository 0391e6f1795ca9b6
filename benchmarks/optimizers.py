"""What an optimizer's settings, a schedule and a weight penalty cost on the numba engine,
side by side.

    python benchmarks/optimizers.py [--before SRC] [--repeats 5]

Part 1 trains 20 runs of the seed network with each optimizer below, at full
batch (1000 epochs) and at B = 1 (20 epochs, 20,000 updates), compile
excluded, and prints each one's median time and its ratio to the plain rule it
extends (momentum, Nesterov, a schedule and L2 to plain SGD; AdamW, a schedule
and L1 + L2 to Adam).

Part 2, with --before pointing at another checkout's `src` folder, times the
seed study's own configurations (plain SGD, RMSProp and Adam at full batch and
B = 1) in fresh processes, alternating between that checkout and this one, and
prints after / before; each process compiles (or loads) first and times after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mlpbench import engines
from mlpbench.config.core import Config

SEEDS = list(range(20))
SHAPES = {"full batch": {"epochs": 1000}, "B=1": {"epochs": 20, "batch_size": 1}}
ARMS = {  # name: (settings, the plain rule it is compared with)
    "sgd": ({"optimizer": "sgd", "lr": 0.5}, "sgd"),
    "sgd, momentum 0.9": ({"optimizer": "sgd", "lr": 0.5, "momentum": 0.9}, "sgd"),
    "sgd, Nesterov": ({"optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True}, "sgd"),
    "adam": ({"optimizer": "adam", "lr": 0.01}, "adam"),
    "adamw": ({"optimizer": "adamw", "lr": 0.01}, "adam"),
    "sgd, exponential": ({"optimizer": "sgd", "lr": 0.5, "schedule": "exponential",
                          "decay_rate": 0.9}, "sgd"),
    "adam, cosine": ({"optimizer": "adam", "lr": 0.01, "schedule": "cosine"}, "adam"),
    "sgd, l2": ({"optimizer": "sgd", "lr": 0.5, "l2": 1e-3}, "sgd"),
    "adam, l1 + l2": ({"optimizer": "adam", "lr": 0.01, "l1": 1e-4, "l2": 1e-3}, "adam"),
}
SEED_CONFIGS = {f"{o}, {shape}": {"optimizer": o, "lr": lr, **SHAPES[shape]}
                for o, lr in (("sgd", 10.0), ("rmsprop", 0.01), ("adam", 0.01))
                for shape in SHAPES}  # fmt: skip


def seconds(config: Config, repeats: int) -> float:
    """Median training time of 20 runs, the kernels compiled first."""
    engines.train("numba", config.replace(epochs=1), SEEDS[:1])
    times = []
    for _ in range(repeats):
        results = engines.train("numba", config, SEEDS)
        times.append(sum(r.metrics["train_time_s"] for r in results))
    return statistics.median(times)


def part1(repeats: int) -> None:
    print("numba, 20 runs, training time (median of", repeats, "), ratio to the plain rule")
    for shape, fields in SHAPES.items():
        times = {name: seconds(Config(**settings, **fields), repeats)
                 for name, (settings, _) in ARMS.items()}  # fmt: skip
        for name, (_, plain) in ARMS.items():
            ratio = times[name] / times[plain]
            print(f"  {shape:10} {name:18} {times[name]:8.3f} s   x{ratio:.3f}")


CHILD = """
import json, sys
from optimizers import Config, seconds
print(json.dumps(seconds(Config(**json.loads(sys.argv[1])), int(sys.argv[2]))))
"""


def part2(before: str, repeats: int) -> None:
    here = str(Path(__file__).resolve().parents[1] / "src")
    print(f"seed configurations, after (this checkout) / before ({before}), alternating")
    for name, fields in SEED_CONFIGS.items():
        measured: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(5):
            for side, src in (("before", before), ("after", here)):
                env = {**os.environ, "PYTHONPATH": f"{src}:{Path(__file__).parent}"}
                out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(fields),
                                      str(repeats)], env=env, capture_output=True, text=True,
                                     check=True).stdout  # fmt: skip
                measured[side].append(json.loads(out.split()[-1]))
        b, a = (statistics.median(measured[s]) for s in ("before", "after"))
        print(f"  {name:22} before {b:8.3f} s   after {a:8.3f} s   x{a / b:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="another checkout's src folder (part 2)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    part1(args.repeats)
    if args.before:
        part2(args.before, args.repeats)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
