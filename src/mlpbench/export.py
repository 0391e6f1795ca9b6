"""Tidy exports: every stored run as one flat row, and the exact data a seed draws."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mlpbench.config import CONFIG_FIELDS, Config
from mlpbench.data import make_dataset
from mlpbench.files import make_folder, write_text
from mlpbench.results import METRICS, StoredRun

RUN_FIELDS = ("id", "engine", "dtype", "device", "seed", "diverged", "group_size", "created_at")
TIDY_FIELDS = (*RUN_FIELDS, *CONFIG_FIELDS, *METRICS)


def tidy(run: StoredRun) -> dict:
    """A stored run as one flat row: identity, configuration fields, metrics."""
    row = {k: getattr(run, k) for k in RUN_FIELDS}
    row.update({k: run.config[k] for k in CONFIG_FIELDS})
    row["hidden"] = ",".join(str(h) for h in run.config["hidden"])
    row.update(run.metrics)
    return row


def write_dataset(config: Config, seed: int, out: Path) -> list[Path]:
    """CSV files (x1, x2, y) of the train and test sets a run with this seed uses."""
    data = make_dataset(config.data, config.m, config.n, seed)
    make_folder(out)
    paths = []
    for part, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        path = out / f"{config.data}-m{config.m}-n{config.n}-seed{seed}-{part}.csv"
        rows = [[repr(float(a)), repr(float(b)), int(c)] for (a, b), c in zip(x, y[:, 0])]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([["x1", "x2", "y"], *rows])
        write_text(path, text.getvalue())
        paths.append(path)
    return paths
