"""The report: tables shaped like the seed report's, statistics, verdicts and plots,
built from the store alone, as Markdown and as one self-contained HTML file."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from mlpbench.analysis import (
    COMPARED,
    MAX_ALL_PAIRS,
    ColumnRuns,
    Verdict,
    baseline_of,
    compare_columns,
    judge,
)
from mlpbench.env import ENV_KEYS
from mlpbench.files import remove_stray, write_text
from mlpbench.html_report import markdown_to_html, md_escape
from mlpbench.plots import PLOT_ROWS, PLOTS, save, sensitivity
from mlpbench.stats import Summary, median_interval, summarize

if TYPE_CHECKING:
    from mlpbench.results import StoredRun
    from mlpbench.study import Column, Study, Table

REPORT_NAME = "report.md"
HTML_NAME = "report.html"
PLOT_DIR = "plots"
PLOT_CACHE = "cache.json"  # plot name -> hash of what it was drawn from

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
    if not math.isfinite(seconds) or (like is not None and not math.isfinite(like)):
        return "n/a"
    unit, scale = _time_unit(seconds if like is None else like)
    if unit == "s" and like is None and seconds >= 60:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)}m {rest:.0f}s"
    value = seconds / scale
    return f"{value:.3g}{unit}" if abs(value) < 1000 else f"{value:.0f}{unit}"


def format_value(metric: str, value: float) -> str:
    """One figure in the unit of its metric."""
    if metric.endswith("_accuracy"):
        return f"{value:.2f}%"
    if metric.endswith("_time_s"):
        return format_duration(value)
    return f"{value:.6f}" if abs(value) < 1e6 else f"{value:.4g}"


def format_cell(metric: str, s: Summary) -> str:
    """Mean ± std over 95% CI of the mean, with diverged runs named, never averaged in."""
    if s.count == 0 and s.diverged == 0:
        return "not run"
    if s.count == 0:
        return f"diverged ({s.diverged}/{s.diverged})"
    if metric.endswith("_time_s"):
        text = f"{format_duration(s.mean)} ± {format_duration(s.std, like=s.mean)}"
        ci = [format_duration(v, like=s.mean) for v in (s.ci_low, s.ci_high)]
    else:
        text = f"{format_value(metric, s.mean)} ± {format_value(metric, s.std)}"
        ci = [format_value(metric, v) for v in (s.ci_low, s.ci_high)]
    if s.ci_high > s.ci_low:
        text += f"<br>[{ci[0]}, {ci[1]}]"
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


def time_cell(runs: list[StoredRun], metric: str) -> str:
    """A time per run: the median with its 95% bootstrap interval, or, where an engine timed
    the runs together and gave each the same share, that share and how many shared it."""
    times = [r.metrics[metric] for r in runs if r.metrics[metric] is not None]
    times = [t for t in times if math.isfinite(t)]
    if not times:
        return "n/a"
    group = max(r.group_size for r in runs)
    if group > 1 and max(times) == min(times):
        return f"{format_duration(times[0])} per run<br>(shared by {group} runs)"
    m = median_interval(times)
    low, high = (format_duration(v, like=m.median) for v in (m.low, m.high))
    return f"median {format_duration(m.median)}<br>[{low}, {high}]"


def _cells(col: ColumnRuns):
    """cell(metric) for one column: our summary, or why there is none."""
    reason = col.missing()
    if reason:
        return lambda metric: reason
    flags = [r.diverged for r in col.runs]

    def cell(metric: str) -> str:
        if metric.endswith("_time_s"):
            return time_cell(col.runs, metric)
        return format_cell(metric, summarize([r.metrics[metric] for r in col.runs], flags))

    return cell


def _lr_cell(col: Column) -> str:
    if col.untuned:
        return "to be tuned"
    return f"{col.config.lr:g}" + (" (tuned)" if col.tuned else "")


def _runs_cell(col: ColumnRuns) -> str:
    diverged = sum(r.diverged for r in col.runs)
    return f"{len(col.runs)}" + (f" ({diverged} diverged)" if diverged else "")


def render_table(table: Table, columns: list[ColumnRuns]) -> str:
    """Our mean ± std [95% CI] per cell, then the seed report's figures if the study has them."""
    header = ["", "", *(md_escape(c.label) for c in table.columns)]
    body = _rows(table, [_cells(c) for c in columns])
    if any(c.tuned for c in table.columns):
        body.append(["Learning rate", "", *(_lr_cell(c.column) for c in columns)])
    body.append(["Engine", "", *(c.job.describe() for c in columns)])
    body.append(["Runs", "", *(_runs_cell(c) for c in columns)])
    parts = [f"### Table {table.number}: {md_escape(table.title)}", ""]
    if table.note:
        parts += [md_escape(table.note), ""]
    parts.append(_markdown(header, body))
    if any(c.reported for c in table.columns):
        parts += ["", "Seed report (2020, Keras, mean of 20 runs), for comparison:", ""]
        parts.append(_markdown(header, _rows(table, [_reported(c) for c in table.columns])))
    return "\n".join(parts)


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.3g}"


def render_comparisons(table: Table, columns: list[ColumnRuns]) -> str:
    """Paired differences between every two columns (or each and the baseline) on test
    accuracy and test loss."""
    rows = []
    baseline = baseline_of(table, columns)
    for metric in COMPARED:
        for c in compare_columns(columns, metric, baseline):
            r = c.result
            numbers = [f"{r.mean_diff:+.4g}", f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]",
                       _p(r.p_t), _p(r.p_wilcoxon), _p(c.p_holm)]  # fmt: skip
            if r.count < 2:
                numbers = ["n/a"] * len(numbers)
            rows.append([f"{md_escape(c.a)} − {md_escape(c.b)}", metric, *numbers, c.verdict()])
    if not rows:
        return ""
    intro = (
        "Paired over runs with the same seed (same data, same initial weights): mean "
        "difference and its 95% CI, paired t-test and Wilcoxon signed-rank p-values, and "
        "Holm's correction over the table's pairs (applied to the t-test, or to Wilcoxon "
        "where a Shapiro-Wilk test finds the differences far from normal)."
    )
    if baseline is not None:
        intro += (
            f" Each column is compared with {md_escape(baseline.column.label)} only"
            + ("" if table.baseline else f" (more than {MAX_ALL_PAIRS} columns)")
            + ", not every pair."
        )
    header = ["Columns", "Metric", "Difference", "95% CI", "p (t)", "p (Wilcoxon)",
              "p (Holm)", "Result"]  # fmt: skip
    return "#### Paired comparisons\n\n" + intro + "\n\n" + _markdown(header, rows)


def render_verdicts(verdicts: list[tuple[Table, Verdict]]) -> str:
    """One line per claim: the verdict and the numbers behind it."""
    if not verdicts:
        return ""
    lines = ["## The report's claims, checked", ""]
    for table, v in verdicts:
        lines.append(f'- Table {table.number}, "{md_escape(v.claim.text)}": **{v.verdict}**')
        lines += [f"  - {md_escape(d)}" for d in v.details]
    return "\n".join(lines)


def _reported(col: Column):
    return lambda metric: (
        format_value(metric, col.reported[metric]) if metric in col.reported else ""
    )


def render_environment(runs: list[StoredRun]) -> str:
    """The machine and library versions of the stored runs, as the report opens."""
    if not runs:
        return ""
    latest = runs[-1].environment
    env = {k: latest[k] for k in ENV_KEYS if k in latest}
    versions: dict[str, str] = {}
    for r in runs:
        versions.update(r.versions)
    env["Libraries"] = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return "## Environment\n\n" + _markdown(["", ""], [[k, v] for k, v in env.items()])


def build_report(
    study: Study,
    tables: list[tuple[Table, list[ColumnRuns]]],
    environment: list[StoredRun],
    out: Path,
    tuned: dict,
    formats: tuple[str, ...] = ("png",),
    plots: str = PLOT_DIR,
) -> tuple[str, set[str]]:
    """The whole Markdown report of a study, drawing its plots into out/plots; returns the
    Markdown and the paths of the plots it drew (the only images the HTML may embed).

    tables holds each table with its columns' runs; environment the runs whose
    machine and libraries the report names; tuned maps (table number, column
    label) to the tuning result of each tuned column.
    """
    title = md_escape(study.title or study.name)
    intro = (
        f"Each cell is the mean ± sample standard deviation over {study.runs} runs "
        f"(seeds {study.seeds[0]}..{study.seeds[-1]}), with the 95% confidence interval "
        "of the mean (Student t) below it; run i of every column shares its data and "
        "initial weights. Times are the median per run with a 95% bootstrap interval of "
        "the median; where an engine trains runs together, each run's share of the wall time, "
        "and how many runs shared it."
    )
    verdicts = [(t, judge(claim, t, cols)) for t, cols in tables for claim in t.claims]
    parts = [f"# {title}", "", intro, ""]
    for section in (render_environment(environment), render_verdicts(verdicts)):
        if section:
            parts += [section, ""]
    plot_dir = out / plots
    plot_dir.mkdir(parents=True, exist_ok=True)
    remove_stray(plot_dir)
    cache_file = plot_dir / PLOT_CACHE
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    drawn: set[str] = set()
    for table, columns in tables:
        parts += [render_table(table, columns), ""]
        comparisons = render_comparisons(table, columns)
        if comparisons:
            parts += [comparisons, ""]
        if any(c.runs for c in columns):
            parts += ["#### Plots", ""]
            for kind, draw in PLOTS.items():
                if PLOT_ROWS[kind] not in (None, *table.rows):
                    continue  # a plot of a row the table leaves out
                name = f"table-{table.number}-{kind}.png"
                key = _plot_key(kind, table, columns, formats)
                if cache.get(name) != key or not _all_saved(plot_dir / name, formats):
                    save(draw(f"Table {table.number}", columns), plot_dir / name, formats)
                    cache[name] = key
                parts += [f"![Table {table.number} {kind}]({plots}/{name})", ""]
                drawn.add(f"{plots}/{name}")
        results = [(c.label, tuned.get((table.number, c.label))) for c in table.columns]
        results = [(label, r) for label, r in results if r is not None]
        if results:
            name = f"table-{table.number}-sensitivity.png"
            figure = sensitivity(f"Table {table.number}", results, study.tuning.score)
            save(figure, plot_dir / name, formats)
            parts += [_tuning_note(study), "", f"![Table {table.number} sensitivity]"
                      f"({plots}/{name})", ""]  # fmt: skip
            drawn.add(f"{plots}/{name}")
    for old in plot_dir.glob("table-*.*"):  # plots of tables or formats not drawn this time
        if f"{plots}/{old.stem}.png" not in drawn or old.suffix[1:] not in formats:
            old.unlink()
    kept = {name: key for name, key in cache.items() if f"{plots}/{name}" in drawn}
    write_text(cache_file, json.dumps(kept, indent=1, sort_keys=True))
    return "\n".join(parts), drawn


def _plot_key(kind: str, table: Table, columns: list[ColumnRuns], formats: tuple[str, ...]):
    """A hash of everything a table's plot is drawn from: redrawn only when it changes."""
    inputs = [kind, table.number, table.title, list(formats), _PLOT_CODE]
    for c in columns:
        inputs.append([c.column.label, c.job.config.key(), c.job.engine, c.job.dtype,
                       c.job.device, [(r.id, r.created_at) for r in c.runs]])  # fmt: skip
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


# the drawing code is an input too: a changed plots.py redraws every plot
_PLOT_CODE = hashlib.sha256(Path(save.__code__.co_filename).read_bytes()).hexdigest()


def _all_saved(path: Path, formats: tuple[str, ...]) -> bool:
    return all(path.with_suffix(f".{fmt}").exists() for fmt in formats)


def _tuning_note(study: Study) -> str:
    spec = study.tuning
    lrs = spec.axes["lr"]
    return (
        f"Learning rates marked (tuned) were chosen on a log grid of {len(lrs)} rates from "
        f"{lrs[0]:g} to {lrs[-1]:g}, {spec.runs} seeds each ({spec.seeds[0]}..{spec.seeds[-1]}),"
        f" by mean validation {spec.score} on {spec.validation:.0%} of the train set held out;"
        " the table's runs then train on the full train set with the study's own seeds."
    )


def write_report(
    study: Study,
    tables: list[tuple[Table, list[ColumnRuns]]],
    environment: list[StoredRun],
    out: Path,
    tuned: dict,
    formats: tuple[str, ...] = ("png",),
    name: str = "report",
) -> str:
    """Write NAME.md and the self-contained NAME.html (plots also in the other formats asked
    for); return the Markdown. A report other than the study's whole one ("report") keeps
    its plots in plots/NAME, so it never touches the whole report's."""
    plots = PLOT_DIR if name == "report" else f"{PLOT_DIR}/{name}"
    text, drawn = build_report(study, tables, environment, out, tuned, formats, plots)
    page = markdown_to_html(text, out, study.title or study.name, drawn)
    write_text(out / f"{name}.md", text)
    write_text(out / f"{name}.html", page)
    return text
