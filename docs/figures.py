"""Make the figures of the docs and the README from real runs: `python docs/figures.py`.

Runs the bundled seed study's Tables 1, 2 and 4 (20 runs a column, as the
study says) into a temporary folder with the `mlpbench` command, and copies
the plots the report drew into docs/assets/. Nothing is drawn by hand.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
# the report's plot file -> the name the docs use
FIGURES = {
    "table-1-boundary.png": "seed-boundaries.png",
    "table-2-curves.png": "seed-optimizer-curves.png",
    "table-4-time.png": "seed-batch-time.png",
}


def main() -> int:
    """Run the study, copy its plots; fail when a plot is missing."""
    with tempfile.TemporaryDirectory(prefix="mlpbench-figures-") as tmp:
        command = [sys.executable, "-m", "mlpbench.cli", "run", "seed", "--tables", "1,2,4",
                   "--out", tmp]  # fmt: skip
        print(" ".join(["mlpbench", *command[3:]]), file=sys.stderr)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        plots = Path(tmp) / "plots" / "report-tables-1-2-4"
        ASSETS.mkdir(exist_ok=True)
        for source, target in FIGURES.items():
            shutil.copyfile(plots / source, ASSETS / target)
            print(f"docs/assets/{target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
