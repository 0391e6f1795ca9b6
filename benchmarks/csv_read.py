"""Reading a large CSV file: NumPy's parser against the cell-by-cell reader, side by side.

    python benchmarks/csv_read.py [--rows 2000000]

Writes a file of 8 feature columns and an integer label (about 78 bytes a row), and a
copy whose first label is quoted (which sends it to the cell-by-cell reader), then loads
each in a fresh process and prints its wall time and its peak memory as a multiple of the
file's size (the issue's target: about 3x).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

LOAD = """
import resource, sys, time
from mlpbench.data.tables import load_csv
start = time.perf_counter()
table = load_csv(sys.argv[1])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def write(path: Path, rows: int, quoted: bool) -> None:
    """rows of 8 normal features and a 0/1 label, written in blocks."""
    rng = np.random.default_rng(0)
    with path.open("w") as f:
        f.write(",".join([f"f{i}" for i in range(8)] + ["label"]) + "\n")
        for start in range(0, rows, 100_000):
            x = rng.normal(size=(min(100_000, rows - start), 8))
            lines = [",".join(f"{v:.6f}" for v in r) + f",{int(r[0] > 0)}" for r in x]
            if quoted and start == 0:
                lines[0] = lines[0][:-1] + f'"{lines[0][-1]}"'
            f.write("\n".join(lines) + "\n")


def measure(path: Path) -> tuple[float, float]:
    """Wall seconds and peak resident bytes of loading the file in a fresh process."""
    out = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = {}
        for name, quoted in (("NumPy's parser", False), ("cell by cell", True)):
            path = Path(folder) / f"{'quoted' if quoted else 'plain'}.csv"
            write(path, args.rows, quoted)
            seconds, peak = measure(path)
            rows[name] = (seconds, peak / path.stat().st_size, path.stat().st_size)
    size = next(iter(rows.values()))[2]
    print(f"{args.rows} rows, {size / 2**20:.0f} MiB")
    for name, (seconds, ratio, _) in rows.items():
        print(f"  {name:<16} {seconds:6.2f} s   peak memory {ratio:4.1f}x the file")
    fast, slow = rows["NumPy's parser"][0], rows["cell by cell"][0]
    print(f"  NumPy's parser is {slow / fast:.1f}x faster")


if __name__ == "__main__":
    main()
