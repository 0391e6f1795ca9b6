"""What `mlpbench run` prints: a compact summary per table (test accuracy and train time
per column), the verdicts, and where the full report is; coloured on a terminal."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table as RichTable

from mlpbench.analysis import CONTRADICTED, NOT_SUPPORTED, SUPPORTED, ColumnRuns, judge
from mlpbench.formatting import format_duration, format_value
from mlpbench.stats import summarize

if TYPE_CHECKING:
    from mlpbench.study import Table

STYLES = {SUPPORTED: "bold green", CONTRADICTED: "bold red", NOT_SUPPORTED: "yellow"}


def _accuracy(col: ColumnRuns) -> str:
    s = summarize([r.metrics["test_accuracy"] for r in col.runs], [r.diverged for r in col.runs])
    if s.count == 0:
        return col.missing() or f"diverged ({s.diverged})"
    return f"{format_value('test_accuracy', s.mean)} ± {format_value('test_accuracy', s.std)}"


def _time(col: ColumnRuns) -> str:
    times = sorted(r.metrics["train_time_s"] for r in col.runs)
    return format_duration(times[len(times) // 2]) if times else ""


def table_summary(table: Table, columns: list[ColumnRuns]) -> RichTable:
    """One row per column: test accuracy (mean ± std), median train time, runs."""
    out = RichTable(
        title=f"Table {table.number}: {table.title or table.name}", title_justify="left"
    )
    for name, justify in (("column", "left"), ("test accuracy", "right"),
                          ("train time (median)", "right"), ("runs", "right")):  # fmt: skip
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    for col in columns:
        diverged = sum(r.diverged for r in col.runs)
        runs = f"{len(col.runs)}" + (f" ({diverged} diverged)" if diverged else "")
        out.add_row(col.column.label, _accuracy(col), _time(col), runs)
    return out


def render(tables: list[tuple[Table, list[ColumnRuns]]], color: bool | None) -> str:
    """The summary as text; color None means: colour when stdout is a terminal."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=color is False, width=100,
                      highlight=False, emoji=False, markup=False)  # fmt: skip
    for table, columns in tables:
        console.print(table_summary(table, columns))
        for claim in table.claims:
            verdict = judge(claim, table, columns).verdict
            console.print(f'  "{claim.text}": ', end="")
            console.print(verdict, style=STYLES.get(verdict, "dim"))
        console.print()
    return buffer.getvalue()
