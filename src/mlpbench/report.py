"""Markdown tables shaped like the seed report's, built from the store alone."""

from __future__ import annotations

import math
import os
from pathlib import Path

from mlpbench import engines
from mlpbench.config import Job
from mlpbench.env import ENV_KEYS
from mlpbench.stats import Summary, summarize
from mlpbench.store import Store
from mlpbench.study import Column, Study, Table, column_job

REPORT_NAME = "report.md"

# row name -> (label, [(sub-label, metric)])
ROW_METRICS = {
    "accuracy": ("Accuracy", [("Train", "train_accuracy"), ("Test", "test_accuracy")]),
    "loss": ("Loss", [("Train", "train_loss"), ("Test", "test_loss")]),
    "time": ("Elapsed time", [("Train", "train_time_s"), ("Test", "test_time_s")]),
    "compile": ("Compile, warm-up", [("First call", "compile_time_s")]),
}


def _time_unit(seconds: float) -> tuple[str, float]:
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 1000 * scale:
            return unit, scale
    return "s", 1.0


def format_duration(seconds: float, like: float | None = None) -> str:
    """Human units as the report writes them (76ms, 1.29s, 15m 5s); `like` picks the unit."""
    if math.isnan(seconds):
        return "n/a"
    unit, scale = _time_unit(seconds if like is None else like)
    if unit == "s" and like is None and seconds >= 60:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)}m {rest:.0f}s"
    return f"{seconds / scale:.3g}{unit}"


def format_value(metric: str, value: float) -> str:
    """One figure in the unit of its metric."""
    if metric.endswith("_accuracy"):
        return f"{value:.2f}%"
    if metric.endswith("_time_s"):
        return format_duration(value)
    return f"{value:.6f}"


def format_cell(metric: str, s: Summary) -> str:
    """Mean ± std, with diverged runs named rather than averaged in."""
    if s.count == 0 and s.diverged == 0:
        return "not run"
    if s.count == 0:
        return f"diverged ({s.diverged}/{s.diverged})"
    if metric.endswith("_time_s"):
        text = f"{format_duration(s.mean)} ± {format_duration(s.std, like=s.mean)}"
    else:
        text = f"{format_value(metric, s.mean)} ± {format_value(metric, s.std)}"
    if s.diverged:
        text += f" ({s.diverged}/{s.count + s.diverged} diverged)"
    return text


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _rows(table: Table, cells: list) -> list[list[str]]:
    """Body rows: label, sub-label, then one cell per column via cells(metric, index)."""
    body = []
    for row in table.rows:
        label, parts = ROW_METRICS[row]
        for i, (sub, metric) in enumerate(parts):
            body.append([label if i == 0 else "", sub, *(c(metric) for c in cells)])
    return body


def render_table(table: Table, study: Study, store: Store, engine: str, dtype: str | None) -> str:
    """One table: our mean ± std per cell, then the seed report's figures if the study has them."""
    header = ["", "", *(c.label for c in table.columns)]
    jobs = [column_job(c, engine, dtype) for c in table.columns]
    stored = [store.runs(j, study.seeds) for j in jobs]

    def ours(job: Job, runs: list[dict]):
        if not runs and not engines.has_device(job.engine, job.device):
            return lambda metric: f"no {job.device.upper()} here"
        flags = [r["diverged"] for r in runs]
        return lambda metric: format_cell(metric, summarize([r[metric] for r in runs], flags))

    body = _rows(table, [ours(j, r) for j, r in zip(jobs, stored)])
    body.append(["Engine", "", *(j.describe() for j in jobs)])
    body.append(["Runs", "", *(str(len(r)) for r in stored)])
    parts = [f"### Table {table.number}: {table.title}", ""]
    if table.note:
        parts += [table.note, ""]
    parts.append(_markdown(header, body))
    if any(c.reported for c in table.columns):
        parts += ["", "Seed report (2020, Keras, mean of 20 runs), for comparison:", ""]
        parts.append(_markdown(header, _rows(table, [_reported(c) for c in table.columns])))
    return "\n".join(parts)


def _reported(col: Column):
    return lambda metric: (
        format_value(metric, col.reported[metric]) if metric in col.reported else ""
    )


def render_environment(store: Store) -> str:
    """The machine and library versions of the stored runs, as the report opens."""
    runs = store.all_runs()
    if not runs:
        return ""
    latest = runs[-1]["environment"]
    env = {k: latest[k] for k in ENV_KEYS if k in latest}
    versions: dict[str, str] = {}
    for r in runs:
        versions.update(r["versions"])
    env["Libraries"] = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return "## Environment\n\n" + _markdown(["", ""], [[k, v] for k, v in env.items()])


def render_report(study: Study, store: Store, engine: str, dtype: str | None) -> str:
    """The whole Markdown report of a study."""
    title = study.title or study.name
    intro = (
        f"Each cell is the mean ± sample standard deviation over {study.runs} runs "
        f"(seeds {study.seeds[0]}..{study.seeds[-1]}); run i of every column shares its data "
        "and initial weights. Times are per run: a run's share of the wall time when an "
        "engine trains several runs together."
    )
    parts = [f"# {title}", "", intro, ""]
    env = render_environment(store)
    if env:
        parts += [env, ""]
    for table in study.tables:
        parts += [render_table(table, study, store, engine, dtype), ""]
    return "\n".join(parts)


def write_text(path: Path, text: str) -> None:
    """Write a file whole or not at all (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
