"""mlpbench from Python and notebooks: the experiment service the CLI calls, with its
results as objects that print, render as HTML in Jupyter and plot.

    import mlpbench as mb
    r = mb.train(lr=10, runs=5, epochs=200)
    r.metrics["test_accuracy"]["mean"]
    study = mb.load_study("seed").run(tables="1", runs=5)
    study.table(1).cell("Binary Crossentropy (10.0)", "test_accuracy").mean
"""

from __future__ import annotations

import difflib
import html
import inspect
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlpbench import service
from mlpbench.analysis.compare import ColumnRuns, Verdict, judge
from mlpbench.analysis.stats import Summary, summarize
from mlpbench.config.core import Config, Job
from mlpbench.config.fields import CONFIG_FIELDS, FIELDS
from mlpbench.engines.results import METRICS, StoredRun, padded
from mlpbench.errors import UsageError, shown
from mlpbench.experiment.study import Column, Table
from mlpbench.report.build import table_block
from mlpbench.report.document import Cell, TableBlock
from mlpbench.report.formatting import format_cell, human
from mlpbench.report.html import table_html
from mlpbench.report.neurons import hidden_units
from mlpbench.report.plots import decision_boundaries, learning_curves

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

PANDAS_HINT = "to_pandas needs pandas: pip install 'mlpbench[pandas]'"


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(PANDAS_HINT) from None
    return pandas


def _summaries(runs: list[StoredRun]) -> dict[str, Summary]:
    flags = [r.diverged for r in runs]
    return {m: summarize([r.metrics[m] for r in runs], flags, m) for m in METRICS}


def _html_table(header: list[str], rows: list[list[Cell]]) -> str:
    return table_html(TableBlock(tuple(header), tuple(tuple(row) for row in rows)))


@dataclass(frozen=True)
class Result:
    """R runs of one configuration on one engine, as `mlpbench train` makes them."""

    job: Job
    seeds: list[int]
    runs: list[StoredRun]

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        """Mean and std of every metric, the mapping `train --json` prints under metrics."""
        return service.summary(self.job, self.seeds, self.runs)["metrics"]

    @property
    def curves(self) -> np.ndarray:
        """Per-epoch train loss of every run (the data loss): runs x epochs, NaN past the
        last epoch of a run that stopped early."""
        return padded([r.loss_curve for r in self.runs])

    @property
    def penalty_curves(self) -> np.ndarray | None:
        """Per-epoch weight penalty of every run, runs x epochs; None without a penalty."""
        if self.job.config.penalty is None:
            return None
        return padded([r.curves["penalty"] for r in self.runs])

    def to_pandas(self) -> pandas.DataFrame:
        """A tidy frame: one row per run, its seed, diverged flag and every metric."""
        rows = [{"seed": r.seed, "diverged": r.diverged, **r.metrics} for r in self.runs]
        return _pandas().DataFrame(rows, columns=["seed", "diverged", *METRICS])

    def _columns(self) -> list[ColumnRuns]:
        column = Column(self.job.engine, self.job.config, self.job.engine, self.job.dtype,
                        self.job.device, {})  # fmt: skip
        return [ColumnRuns(column, self.job, self.runs)]

    def plot_boundary(self) -> Figure:
        """The first finite run's decision boundary with the test points."""
        return decision_boundaries("train", self._columns())

    def plot_curves(self) -> Figure:
        """Mean train loss per epoch with its min-max band."""
        return learning_curves("train", self._columns())

    def plot_units(self, seed: int | None = None) -> Figure:
        """Each hidden unit's activation over the input plane for the run of this seed (by
        default the first that did not diverge), as Playground draws its neurons."""
        finite = [r.seed for r in self.runs if not r.diverged]
        if seed is not None and _plain(seed) not in finite:
            raise UsageError(f"seed {shown(seed)} is not a finite run here; the finite runs' "
                             f"seeds: {', '.join(map(str, finite)) or 'none'}")  # fmt: skip
        return hidden_units("train", self._columns(), _plain(seed))

    def _repr_html_(self) -> str:
        cells = _summaries(self.runs)
        rows = [[Cell.of(human(m)), format_cell(m, cells[m])] for m in METRICS]
        title = f"{len(self.runs)} runs on {self.job.describe()}"
        return f"<p>{html.escape(title)}</p>" + _html_table(["metric", "mean ± std"], rows)


def _plain(value: Any) -> Any:
    """A NumPy scalar as its Python value, a path as its text, inside lists and tuples too:
    what a Python user passes, as the checks downstream read it."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _name(what: str, value: Any) -> str | None:
    """An engine or dtype name: a string, or None for the default."""
    if value is None or isinstance(value, str):
        return value
    raise UsageError(f"{what} must be a name (a string), got {shown(value)}")


def _folder(value: Any) -> str | None:
    """An output folder: a string or a path."""
    value = _plain(value)
    if value is None or isinstance(value, str):
        return value
    raise UsageError(f"out must be a folder's path (a string or pathlib.Path), got {shown(value)}")


def _tables(value: Any) -> str | None:
    """Tables as the CLI's --tables text: a number, a name, or a list of either."""
    value = _plain(value)
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, str)) for v in items):
        raise UsageError(f"tables must be a table number or name, or a list of them, got "
                         f"{shown(value)}")  # fmt: skip
    return ",".join(str(v) for v in items)


def train(
    *,
    runs: int = 20,
    engine: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    dtype: str | None = None,
    **fields: Any,
) -> Result:
    """Train R runs of one configuration (seeds seed .. seed + R - 1); with out, they are
    stored there and reused, without it they live in a temporary store.

    Args:
        runs: how many runs, seeds seed .. seed + runs - 1.
        engine: the engine's name (default: the fastest installed).
        seed: seed of run 0.
        out: folder of the store; without it the runs live in a temporary one.
        dtype: float64 or float32 (default: the engine's own).
    """
    unknown = sorted(set(fields) - set(CONFIG_FIELDS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], CONFIG_FIELDS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown configuration field(s): {', '.join(unknown)}{hint}; every "
                         "field is in mlpbench train --help and the docs' reference")  # fmt: skip
    config = Config(**{k: _plain(v) for k, v in fields.items()})
    runs, seed, out = _plain(runs), _plain(seed), _folder(out)
    seeds = service.seeds(runs, seed, runs)
    engine, dtype = _name("engine", engine), _name("dtype", dtype)
    with tempfile.TemporaryDirectory(prefix="mlpbench-") as tmp:
        job, stored = service.train(config, seeds, engine, dtype, tmp if out is None else out)
    return Result(job, seeds, stored)


def _field_keywords(function: Callable) -> None:
    """Give a function taking **fields one keyword per configuration field in its signature
    and in its docstring's Args, each with its default and help from FIELDS (for help(), IDEs
    and the docs)."""
    signature = inspect.signature(function)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    keywords = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                  annotation=f.annotation) for f in FIELDS]  # fmt: skip
    function.__signature__ = signature.replace(parameters=[*keywords, *own])  # type: ignore
    lines = [f"    {f.name}: {f.text}." for f in FIELDS]
    doc = inspect.cleandoc(function.__doc__ or "")
    function.__doc__ = doc.replace("Args:\n", "Args:\n" + "\n".join(lines) + "\n", 1)


_field_keywords(train)


@dataclass(frozen=True)
class TableResult:
    """One table of a study with its columns' runs."""

    table: Table
    columns: list[ColumnRuns]

    def cell(self, label: str, metric: str) -> Summary:
        """Mean, std, 95% CI and counts of one column on one metric."""
        for col in self.columns:
            if col.column.label == label:
                summaries = _summaries(col.runs)
                if metric not in summaries:
                    raise UsageError(f"unknown metric {shown(metric)}; allowed: "
                                     f"{', '.join(summaries)}")  # fmt: skip
                return summaries[metric]
        labels = [c.column.label for c in self.columns]
        raise UsageError(f"no column {shown(label)} in table {self.table.number}; columns: "
                         f"{labels}")  # fmt: skip

    def _repr_html_(self) -> str:
        title = f"Table {self.table.number}: {self.table.title}"
        return f"<h4>{html.escape(title)}</h4>" + table_html(table_block(self.table, self.columns))


@dataclass(frozen=True)
class StudyResult:
    """A study's tables with their stored runs, its claims judged, its report a call away."""

    outcome: service.StudyOutcome

    def table(self, key: int | str) -> TableResult:
        """A table by number or name."""
        for table, columns in self.outcome.tables:
            if key in (table.number, table.name, str(table.number)):
                return TableResult(table, columns)
        known = [f"{t.number} ({t.name})" for t, _ in self.outcome.tables]
        raise UsageError(f"unknown table {shown(key)}; this result has: {', '.join(known)}")

    @property
    def claims(self) -> list[Verdict]:
        """Every claim of every table with its verdict and the numbers behind it."""
        return [judge(c, t, cols) for t, cols in self.outcome.tables for c in t.claims]

    @property
    def trained(self) -> int:
        """Runs this call trained; the rest came from the store."""
        return self.outcome.trained

    def write_report(self, figures: tuple[str, ...] = ("png",)) -> Path:
        """Write report.md, report.html and the plots into the output folder."""
        service.report(self.outcome, figures)
        return self.outcome.out / f"{self.outcome.name}.html"

    def _repr_html_(self) -> str:
        tables = "".join(TableResult(t, c)._repr_html_() for t, c in self.outcome.tables)
        verdicts = "".join(
            f"<li>{html.escape(v.claim.text)}: <strong>{html.escape(v.verdict)}</strong></li>"
            for v in self.claims
        )
        return tables + (f"<ul>{verdicts}</ul>" if verdicts else "")


@dataclass(frozen=True)
class Study:
    """A study file, parsed: its tables and columns, ready to run."""

    schema: Any  # mlpbench.experiment.study.Study

    @property
    def name(self) -> str:
        """The study's name."""
        return self.schema.name

    @property
    def tables(self) -> tuple[Table, ...]:
        """Its tables, in order."""
        return self.schema.tables

    def run(
        self,
        tables: str | int | list[str | int] | None = None,
        runs: int | None = None,
        engine: str | None = None,
        out: str | Path = "results",
        executor: str = "local",
        seed: int | None = None,
        dtype: str | None = None,
        fresh: bool = False,
    ) -> StudyResult:
        """Train what the store in out lacks and return the tables (no report is written
        until write_report)."""
        runs, seed = _plain(runs), _plain(seed)
        engine, dtype, out = _name("engine", engine), _name("dtype", dtype), _folder(out)
        outcome = service.run_study(self.schema, _tables(tables), runs, seed, engine, dtype, out,
                                    fresh, executor)  # fmt: skip
        return StudyResult(outcome)

    def _repr_html_(self) -> str:
        rows = [[Cell.of(str(t.number)), Cell.of(t.name), Cell.of(t.title),
                 Cell.of(", ".join(c.label for c in t.columns))] for t in self.tables]  # fmt: skip
        return _html_table(["table", "name", "title", "columns"], rows)


def load_study(spec: str | Path = "seed") -> Study:
    """A bundled study by name ('seed', 'seed-tuned') or a study TOML file."""
    spec = _plain(spec)
    if not isinstance(spec, str):
        raise UsageError(f"a study is a bundled study's name or a TOML file's path, got "
                         f"{shown(spec)}")  # fmt: skip
    return Study(service.resolve_study(spec))
