"""What `mlpbench run` prints: a compact summary per table (test accuracy and train time
per column), the verdicts, and where the full report is; coloured on a terminal."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from mlpbench.analysis.compare import (
    CONTRADICTED,
    NOT_SUPPORTED,
    SUPPORTED,
    ColumnRuns,
    claim_grid,
    judge,
)
from mlpbench.report.build import cell

if TYPE_CHECKING:
    from mlpbench.experiment.study import Table

STYLES = {SUPPORTED: "bold green", CONTRADICTED: "bold red", NOT_SUPPORTED: "yellow"}


def table_summary(table: Table, columns: list[ColumnRuns]) -> RichTable:
    """One row per column: test accuracy (mean ± std) and train time per run, the first line
    of the report's own cells, and the runs."""
    out = RichTable(
        title=f"Table {table.number}: {table.title or table.name}", title_justify="left"
    )
    for name, justify in (("column", "left"), ("test accuracy", "right"),
                          ("train time per run", "right"), ("runs", "right")):  # fmt: skip
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    times = []
    for col in columns:
        diverged = sum(r.diverged for r in col.runs)
        runs = f"{len(col.runs)}" + (f" ({diverged} diverged)" if diverged else "")
        accuracy, time = (cell(col, m).lines[0] for m in ("test_accuracy", "train_time_s"))
        times.append(time)
        out.add_row(col.column.label, accuracy, time, runs)
    out.caption = time_caption(times)
    out.caption_justify = "left"
    return out


def time_caption(times: list[str]) -> str | None:
    """What the time column's two forms mean, where it shows both (or a share alone)."""
    shared = any(t.endswith(" per run") for t in times)
    alone = any(t.startswith("median ") for t in times)
    if not shared:
        return None
    text = "per run: one call trained the runs, each its equal share"
    return text + ("; median: each run timed alone" if alone else "")


SHORT = {NOT_SUPPORTED: "not shown"}  # the grid's cells are narrow


def claims_summary(tables: list[tuple[Table, list[ColumnRuns]]]) -> RichTable | None:
    """Each claim's verdict and effects per table group, one row per group (claims as columns
    fit a terminal's width); None without groups."""
    groups, rows = claim_grid(tables)
    if not groups:
        return None
    out = RichTable(title='Claims across groups ("not shown": not supported at this sample '
                    "size)", title_justify="left", show_lines=True)  # fmt: skip
    out.add_column("group")
    for text, _ in rows:
        out.add_column(Text(text))  # Text, not markup: a claim's brackets are shown as typed
    for group in groups:
        cells = [Text(group)]
        for _, verdicts in rows:
            v = verdicts.get(group)
            if v is None:
                cells.append(Text("not stated", style="dim"))
                continue
            figure = f"{SHORT.get(v.verdict, v.verdict)}\n{', '.join(v.effects)}"
            cells.append(Text(figure, style=STYLES.get(v.verdict, "dim")))
        out.add_row(*cells)
    return out


def render(tables: list[tuple[Table, list[ColumnRuns]]], color: bool | None) -> str:
    """The summary as text; color None means: colour when stdout is a terminal."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=color is False, width=100,
                      highlight=False, emoji=False, markup=False)  # fmt: skip
    grid = claims_summary(tables)
    if grid is not None:
        console.print(grid)
        console.print()
    for table, columns in tables:
        console.print(table_summary(table, columns))
        for claim in table.claims:
            verdict = judge(claim, table, columns).verdict
            console.print(f'  "{claim.text}": ', end="")
            console.print(verdict, style=STYLES.get(verdict, "dim"))
        console.print()
    return buffer.getvalue()
