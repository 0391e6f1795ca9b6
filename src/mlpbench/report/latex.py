"""The report's tables as one LaTeX document of booktabs tables, compilable as it is.

Each cell is mean ± std over the runs; the seed report's figure, where a study
gives one, follows in parentheses; on test accuracy and test loss the best
column is bold when a paired test (Holm-corrected, as in the report) finds it
differs from every other column.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlpbench.analysis.compare import ColumnRuns, compare_columns
from mlpbench.analysis.stats import ALPHA, summarize
from mlpbench.report.formatting import ROW_METRICS, format_value

if TYPE_CHECKING:
    from mlpbench.experiment.study import Study, Table

SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
           "^": r"\textasciicircum{}", "µ": r"$\mu$", "±": r"$\pm$", "−": "--"}  # fmt: skip
HIGHER_IS_BETTER = {"test_accuracy": True, "test_loss": False}


def escape(text: str) -> str:
    """User text as literal LaTeX (no command or math can come through)."""
    return "".join(SPECIAL.get(c, c) for c in text)


def _cell(metric: str, col: ColumnRuns) -> str:
    s = summarize([r.metrics[metric] for r in col.runs], [r.diverged for r in col.runs], metric)
    if s.count == 0:
        return "diverged" if s.diverged else "--"
    text = f"{format_value(metric, s.mean)} ± {format_value(metric, s.std)}"
    if metric in col.column.reported:
        text += f" ({format_value(metric, col.column.reported[metric])})"
    return escape(text)


def best_column(columns: list[ColumnRuns], metric: str) -> str | None:
    """The label of the column a paired test finds better than every other, if any."""
    if metric not in HIGHER_IS_BETTER or len([c for c in columns if c.runs]) < 2:
        return None
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    wins: dict[str, int] = {}
    comparisons = compare_columns(columns, metric)
    for c in comparisons:
        significant = not math.isnan(c.p_holm) and c.p_holm < ALPHA and c.result.count >= 2
        if significant:
            winner = c.a if sign * c.result.mean_diff > 0 else c.b
            wins[winner] = wins.get(winner, 0) + 1
    rivals = len({c.a for c in comparisons} | {c.b for c in comparisons}) - 1
    return next((label for label, n in wins.items() if n == rivals and rivals > 0), None)


def render_table(table: Table, columns: list[ColumnRuns]) -> str:
    """One booktabs table: a row per metric, a column per study column."""
    head = " & ".join(["", *(escape(c.column.label) for c in columns)])
    lines = [r"\begin{table}[ht]", r"\centering", r"\small",
             rf"\caption{{Table {table.number}: {escape(table.title or table.name)}}}",
             r"\resizebox{\ifdim\width>\textwidth\textwidth\else\width\fi}{!}{%",
             rf"\begin{{tabular}}{{l{'r' * len(columns)}}}", r"\toprule", head + r" \\",
             r"\midrule"]  # fmt: skip
    for row in table.rows:
        name, parts = ROW_METRICS[row]
        for sub, metric in parts:
            best = best_column(columns, metric)
            cells = [_cell(metric, c) for c in columns]
            cells = [rf"\textbf{{{t}}}" if c.column.label == best else t
                     for c, t in zip(columns, cells)]  # fmt: skip
            lines.append(" & ".join([escape(f"{name}, {sub.lower()}"), *cells]) + r" \\")
    runs = [str(len(c.runs)) for c in columns]
    lines += [r"\midrule", " & ".join(["Runs", *runs]) + r" \\", r"\bottomrule",
              r"\end{tabular}}", r"\end{table}"]  # fmt: skip
    return "\n".join(lines)


def render(study: Study, tables: list[tuple[Table, list[ColumnRuns]]]) -> str:
    """The whole document: a short preamble, then every table."""
    note = (
        f"Each cell: mean $\\pm$ standard deviation over {study.runs} runs; in parentheses "
        "the seed report's figure where the study gives one; bold: better than every "
        "other column in a paired test (Holm-corrected, $\\alpha = 0.05$)."
    )
    body = "\n\n".join(render_table(t, cols) for t, cols in tables)
    return "\n".join([
        r"\documentclass{article}", r"\usepackage[T1]{fontenc}", r"\usepackage[utf8]{inputenc}",
        r"\usepackage{booktabs}", r"\usepackage{graphicx}", r"\usepackage[margin=2cm]{geometry}",
        rf"\title{{{escape(study.title or study.name)}}}", r"\date{}", r"\begin{document}",
        r"\maketitle", note, "", body, r"\end{document}", "",
    ])  # fmt: skip
