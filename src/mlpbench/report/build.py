"""The report: tables shaped like the seed report's, statistics, verdicts and plots,
built from the store alone as one Document, then written as Markdown and as one
self-contained HTML page."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from tqdm import tqdm

from mlpbench.analysis.compare import (
    COMPARED,
    MAX_ALL_PAIRS,
    ColumnRuns,
    baseline_of,
    claim_grid,
    compare_columns,
    judge,
    paired_values,
)
from mlpbench.analysis.stats import summarize
from mlpbench.config.core import trained_fields
from mlpbench.config.fields import CONFIG_FIELDS
from mlpbench.data.dataset import is_file
from mlpbench.experiment.env import ENV_KEYS
from mlpbench.files import remove_stray, writable, write_text
from mlpbench.report.document import (
    Cell,
    Document,
    Figure,
    Paragraph,
    Section,
    TableBlock,
    Verdict,
    to_markdown,
)
from mlpbench.report.formatting import ROW_METRICS, format_cell, format_value, human, time_cell
from mlpbench.report.html import BADGES, to_html
from mlpbench.report.neurons import hidden_units
from mlpbench.report.plots import AXIS_NAMES, PLOT_ROWS, PLOTS, save, sensitivity

if TYPE_CHECKING:
    from mlpbench.engines.results import StoredRun
    from mlpbench.experiment.study import Column, Study, Table

REPORT_NAME = "report.md"
HTML_NAME = "report.html"
PLOT_DIR = "plots"
PLOT_CACHE = "cache.json"  # plot name -> hash of what it was drawn from
PLOT_FILE = re.compile(r"^table-\d+-[a-z]+\.(png|svg|pdf)$")
INTRO = (
    "Each cell is the mean ± sample standard deviation over {runs} runs (seeds {first}..{last}),"
    " with the 95% confidence interval of the mean below it; run i of every column shares its"
    " data and initial weights. Times are the median per run with a 95% bootstrap interval of"
    " the median; where an engine trains runs together, each run's share of the wall time, and"
    " how many runs shared it (a compile is paid once per call, so it is shown once, not"
    " shared out). Where the study gives a figure from elsewhere (the seed report),"
    " it follows ours, with the difference and whether it lies inside our interval."
)


def _reported(col: Column, metric: str, s) -> str:
    """The study's figure from elsewhere, beside ours: the difference, inside our CI or not."""
    if metric not in col.reported:
        return ""
    figure = col.reported[metric]
    text = f"report: {format_value(metric, figure)}"
    if s.count == 0:
        return text
    inside = "inside" if s.ci_low <= figure <= s.ci_high else "outside"
    return f"{text}; ours − report = {s.mean - figure:+.3g}, {inside} our 95% CI"


def cell(col: ColumnRuns, metric: str) -> Cell:
    """One column's cell for one metric: our figure, or why there is none."""
    reason = col.missing()
    if reason:
        return Cell.of(reason, kind="missing")
    if metric.endswith("_time_s"):
        return time_cell(col.runs, metric)
    s = summarize([r.metrics[metric] for r in col.runs], [r.diverged for r in col.runs], metric)
    cell = format_cell(metric, s)
    return Cell.of(*cell.lines, _reported(col.column, metric, s), kind=cell.kind)


def tuned_names(table: Table) -> tuple[str, ...]:
    """The fields some column of the table tunes, in the configuration's order."""
    tuned = {name for c in table.columns for name in c.tuned}
    return tuple(name for name in CONFIG_FIELDS if name in tuned)


def _tuned_cell(col: ColumnRuns, names: tuple[str, ...]) -> str:
    """A column's values of the table's tuned fields, each it tuned marked: `0.1 (tuned)` for
    the rate alone, else `lr = 0.5, momentum = 0.9 (tuned)` (a field its optimizer does not
    read left out)."""
    if col.column.untuned:
        return "to be tuned"
    values = _shown_fields(col.job.config.as_dict())

    def shown(name: str) -> str:
        return format_setting(values[name]) + (" (tuned)" if name in col.column.tuned else "")

    if names == ("lr",):
        return shown("lr")
    return ", ".join(f"{n} = {shown(n)}" for n in names if values[n] is not None)


def _epochs_cell(col: ColumnRuns) -> str:
    """The epochs a column's runs trained: one number where they agree, else the mean and
    the range (early stopping ends each run on its own)."""
    epochs = [len(r.loss_curve) for r in col.runs]
    if not epochs:
        return ""
    if min(epochs) == max(epochs):
        return str(epochs[0])
    return f"{np.mean(epochs):.1f} ({min(epochs)}–{max(epochs)})"


def _runs_cell(col: ColumnRuns) -> str:
    diverged = sum(r.diverged for r in col.runs)
    return f"{len(col.runs)}" + (f" ({diverged} diverged)" if diverged else "")


def _shown_fields(given: dict[str, Any]) -> dict[str, Any]:
    """A configuration's fields as trained (trained_fields), a file by its name."""
    values = trained_fields(given)
    for name in ("data", "test"):
        if is_file(values[name]):
            values[name] = os.path.basename(values[name])
    return values


def configuration_cells(columns: list[ColumnRuns], tuned: tuple[str, ...] = ()
                        ) -> list[str] | None:  # fmt: skip
    """What sets each column apart: the fields whose values differ between the table's
    columns, as `name = value` (a setting shows where some column sets it off its default;
    a column whose optimizer does not read it has none); None where the columns share one
    configuration (an engine comparison). The tuned fields have their own row."""
    given = [c.job.config.as_dict() for c in columns]  # a setting at its default is None
    fields = [_shown_fields(g) for g in given]

    def differs(name: str) -> bool:
        read = [f[name] for f in fields if f[name] is not None]
        if len({json.dumps(v) for v in read}) > 1:
            return True  # columns that read it disagree, or one reads it off its default
        return len(read) < len(fields) and any(g.get(name) is not None for g in given)

    names = [n for n in CONFIG_FIELDS if n not in tuned and differs(n)]
    if not names:
        return None
    return [", ".join(f"{n} = {format_setting(f[n])}" for n in names if f[n] is not None)
            for f in fields]  # fmt: skip


def format_setting(value: Any) -> str:
    """A field's value as a study file writes it: true, 0.001, [8, 8]."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_setting(v) for v in value) + "]"
    return str(value)


def table_block(table: Table, columns: list[ColumnRuns]) -> TableBlock:
    """A row per metric the table shows (our figure, and the reported one where given), then
    what sets the columns apart, the tuned settings, the engine and the runs."""
    rows = []
    for row in table.rows:
        label, parts = ROW_METRICS[row]
        for i, (sub, metric) in enumerate(parts):
            rows.append((Cell.of(label if i == 0 else ""), Cell.of(sub),
                         *(cell(c, metric) for c in columns)))  # fmt: skip
    extra = [("Engine", [c.job.describe() for c in columns]),
             ("Runs", [_runs_cell(c) for c in columns])]  # fmt: skip
    if any(c.job.config.early_stopping != "none" for c in columns):
        extra.insert(0, ("Epochs trained", [_epochs_cell(c) for c in columns]))
    tuned = tuned_names(table)
    if tuned:
        label = "Learning rate" if tuned == ("lr",) else "Tuned settings"
        extra.insert(0, (label, [_tuned_cell(c, tuned) for c in columns]))
    apart = configuration_cells(columns, tuned)
    if apart is not None:
        extra.insert(0, ("Configuration", apart))
    for label, values in extra:
        rows.append((Cell.of(label), Cell(()), *(Cell.of(v) for v in values)))
    return TableBlock(("", "", *(c.label for c in table.columns)), tuple(rows))


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.3g}"


ROUNDING = 1e-6  # paired runs this close (relative) differ by float rounding alone


def _identical(a: ColumnRuns, b: ColumnRuns) -> bool:
    """Whether every paired run of two columns agrees to ROUNDING on every compared metric
    (engines given the same start): a comparison then has nothing to tell."""
    for metric in COMPARED:
        xs, ys = paired_values(a, b, metric)
        if len(xs) < 2 or any(abs(x - y) > ROUNDING * max(abs(x), abs(y)) for x, y in
                              zip(xs, ys)):  # fmt: skip
            return False
    return True


def comparisons(table: Table, columns: list[ColumnRuns]) -> list[Paragraph | TableBlock]:
    """Paired differences between every two columns (or each and the baseline) on test
    accuracy and test loss, with a paragraph saying how they were computed; pairs identical
    to rounding are named in one line instead of a row per metric."""
    rows = []
    baseline = baseline_of(table, columns)
    by_label = {c.column.label: c for c in columns}
    same: list[str] = []
    for metric in COMPARED:
        for c in compare_columns(columns, metric, baseline):
            if _identical(by_label[c.a], by_label[c.b]):
                if metric == COMPARED[0]:
                    same.append(f"{c.a} and {c.b}")
                continue
            r = c.result
            numbers = [f"{r.mean_diff:+.4g}", f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]",
                       _p(r.p_t), _p(r.p_wilcoxon), _p(c.p_holm)]  # fmt: skip
            if r.count < 2:
                numbers = ["n/a"] * len(numbers)
            cells = [f"{c.a} − {c.b}", human(metric), *numbers, c.verdict()]
            rows.append(tuple(Cell.of(text) for text in cells))
    if not rows and not same:
        return []
    identical = (f"Identical to rounding (every paired run within 1e{math.log10(ROUNDING):.0f} "
                 f"relative on test accuracy and test loss): {'; '.join(same)}.")  # fmt: skip
    if not rows:
        return [Paragraph(identical)]
    intro = (
        "Paired over runs with the same seed (same data, same initial weights): mean "
        "difference and its 95% CI, paired t-test and Wilcoxon signed-rank p-values, and "
        "Holm's correction over the table's pairs (applied to the t-test, or to Wilcoxon "
        "where a Shapiro-Wilk test finds the differences far from normal)."
    )
    if baseline is not None:
        intro += (
            f" Each column is compared with {baseline.column.label} only"
            + ("" if table.baseline else f" (more than {MAX_ALL_PAIRS} columns)")
            + ", not every pair."
        )
    header = ("Columns", "Metric", "Difference", "95% CI", "p (t)", "p (Wilcoxon)",
              "p (Holm)", "Result")  # fmt: skip
    blocks = [Paragraph(intro), TableBlock(header, tuple(rows))]
    return [*blocks, Paragraph(identical)] if same else blocks


def environment_block(runs: list[StoredRun]) -> TableBlock | None:
    """The machine and library versions of the stored runs."""
    if not runs:
        return None
    latest = runs[-1].environment
    env = {k: latest[k] for k in ENV_KEYS if k in latest}
    versions: dict[str, str] = {}
    for r in runs:
        versions.update(r.versions)
    env["Libraries"] = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return TableBlock(("", ""), tuple((Cell.of(k), Cell.of(v)) for k, v in env.items()))


SUMMARY_NOTE = (
    "Each cell is the verdict on the claim in the tables of that group, then each check's "
    "effect: for a check that one column beats another, the mean paired difference (test "
    "accuracy in percentage points); for a ratio, the geometric-mean ratio. The tables below "
    "give every figure, test and interval."
)


def summary_section(study: Study, tables: list[tuple[Table, list[ColumnRuns]]]) -> Section | None:
    """The claims x groups table a study with table groups opens with; None without groups."""
    groups, rows = claim_grid(tables)
    if not groups:
        return None
    body = []
    for text, verdicts in rows:
        cells = [Cell.of(text)]
        for group in groups:
            v = verdicts.get(group)
            cells.append(Cell.of("not stated") if v is None else
                         Cell.of(v.verdict, ", ".join(v.effects), kind=BADGES[v.verdict]))
        body.append(tuple(cells))
    block = TableBlock(("Claim", *groups), tuple(body))
    return Section(study.summary or "Claims across groups", 2, [Paragraph(SUMMARY_NOTE), block])


def build_report(
    study: Study,
    tables: list[tuple[Table, list[ColumnRuns]]],
    environment: list[StoredRun],
    out: Path,
    tuned: dict,
    formats: tuple[str, ...] = ("png",),
    plots: str = PLOT_DIR,
) -> Document:
    """The whole report of a study as a Document, drawing its plots into out/plots (only
    those whose inputs changed, and only for rows a table shows).

    tables holds each table with its columns' runs; environment the runs whose
    machine and libraries the report names; tuned maps (table number, column
    label) to the tuning result of each tuned column.
    """
    seeds = study.seeds
    doc = Document(study.title or study.name,
                   INTRO.format(runs=study.runs, first=seeds[0], last=seeds[-1]))  # fmt: skip
    summary = summary_section(study, tables)
    if summary is not None:
        doc.sections.append(summary)
    env = environment_block(environment)
    if env is not None:
        doc.sections.append(Section("Environment", 2, [env]))
    verdicts = tuple(
        Verdict(t.number, claim.text, v.verdict, tuple(human(d) for d in v.details))
        for t, cols in tables for claim in t.claims for v in [judge(claim, t, cols)]
    )  # fmt: skip
    if verdicts:
        doc.sections.append(Section("Claims, checked", 2, [verdicts]))
    plot_dir = out / plots
    plot_dir.mkdir(parents=True, exist_ok=True)
    remove_stray(plot_dir)
    cache_file = plot_dir / PLOT_CACHE
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    drawn: set[str] = set()
    pending: list[Drawing] = []
    shown = [(t, kind) for t, cols in tables if any(c.runs for c in cols)
             for kind in table_plots(t)]  # fmt: skip
    bar = tqdm(total=len(shown), desc=f"report: {len(shown)} plots", unit=" plots",
               file=sys.stderr, disable=None, leave=False)  # fmt: skip
    for table, columns in tables:
        section = Section(f"Table {table.number}: {table.title or table.name}", 3)
        if table.note:
            section.blocks.append(Paragraph(table.note))
        section.blocks.append(table_block(table, columns))
        doc.sections.append(section)
        paired = comparisons(table, columns)
        if paired:
            doc.sections.append(Section(f"Table {table.number}: paired comparisons", 4, paired))
        figures = Section(f"Table {table.number}: plots", 4)
        if any(c.runs for c in columns):
            for kind, draw in table_plots(table).items():
                name = f"table-{table.number}-{kind}.png"
                key = _plot_key(kind, table, columns, formats)
                if cache.get(name) != key or not _all_saved(plot_dir / name, formats):
                    pending.append(Drawing(draw, (f"Table {table.number}", columns),
                                           plot_dir / name, formats, name, key))  # fmt: skip
                else:
                    bar.update(1)
                figures.blocks.append(Figure(f"{plots}/{name}", f"Table {table.number} {kind}"))
                drawn.add(f"{plots}/{name}")
        results = [(c.label, tuned.get((table.number, c.label))) for c in table.columns]
        results = [(label, r) for label, r in results if r is not None]
        if results:
            name = f"table-{table.number}-sensitivity.png"
            pending.append(Drawing(sensitivity, (f"Table {table.number}", results,
                                                 study.tuning.score), plot_dir / name, formats))
            figure = Figure(f"{plots}/{name}", f"Table {table.number} sensitivity")
            figures.blocks += [Paragraph(_tuning_note(study, tuned_names(table))), figure]
            drawn.add(f"{plots}/{name}")
        if figures.blocks:
            doc.sections.append(figures)
    for done in draw_all(pending):
        if done.name:
            cache[done.name] = done.key
        bar.update(1)
    bar.close()
    for old in plot_dir.iterdir():  # plots of tables or formats not drawn this time
        stale = f"{plots}/{old.stem}.png" not in drawn or old.suffix[1:] not in formats
        if PLOT_FILE.match(old.name) and stale:  # never another process's temporary file
            old.unlink(missing_ok=True)
    kept = {name: key for name, key in cache.items() if f"{plots}/{name}" in drawn}
    write_text(cache_file, json.dumps(kept, indent=1, sort_keys=True))
    return doc


class Drawing(NamedTuple):
    """A plot to draw and save; name and key, where given, are its entry in the plot cache."""

    draw: Callable[..., Any]
    args: tuple
    path: Path
    formats: tuple[str, ...]
    name: str = ""
    key: str = ""


_PENDING: list[Drawing] = []  # what forked workers draw, by index (inherited, not pickled)


def _draw(d: Drawing) -> Drawing:
    """Draw the plot and save it in its formats."""
    save(d.draw(*d.args), d.path, d.formats)
    return d


def _draw_pending(i: int) -> bool:
    """Draw and save _PENDING[i] in a worker; False where it failed (the parent redraws it,
    so its error is raised there, as a one-process report raises it)."""
    try:
        _draw(_PENDING[i])
    except Exception:
        return False
    return True


# libraries that run threads of their own once imported, which a forked child could find
# holding a lock: a process that imported one (trained on it) draws its plots itself
THREADED = ("jax", "tensorflow", "torch")


def _fork_safe() -> bool:
    """Whether this process can fork workers: no thread but the main one (and tqdm's
    monitor, which sleeps), and no threaded framework imported."""
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and type(t).__name__ != "TMonitor"]
    return not others and not any(name in sys.modules for name in THREADED)


def draw_all(pending: list[Drawing]) -> Iterator[Drawing]:
    """Draw every plot, yielding each once saved: in forked processes, one a core, where
    there are several plots and cores and forking is safe (savefig dominates a report;
    workers inherit the runs rather than receiving them), else here. A plot a worker could
    not draw is drawn again here, so its error is the one a one-process report raises."""
    workers = min(len(pending), os.cpu_count() or 1)
    forks = "fork" in multiprocessing.get_all_start_methods() and _fork_safe()
    if workers < 2 or not forks:
        yield from map(_draw, pending)
        return
    _PENDING[:] = pending
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_draw_pending, i): d for i, d in enumerate(pending)}
            failed = []
            for future in as_completed(futures):
                if future.result():
                    yield futures[future]
                else:
                    failed.append(futures[future])
        yield from map(_draw, failed)
    finally:
        _PENDING.clear()


def table_plots(table: Table) -> dict[str, Callable]:
    """The plots a table's report draws: each of PLOTS whose row it shows, and its hidden
    units where it asks for them."""
    kinds = {k: draw for k, draw in PLOTS.items() if PLOT_ROWS[k] in (None, *table.rows)}
    return kinds | ({"units": hidden_units} if table.units else {})


def _plot_key(kind: str, table: Table, columns: list[ColumnRuns], formats: tuple[str, ...]):
    """A hash of everything a table's plot is drawn from: redrawn only when it changes."""
    inputs = [kind, table.number, table.title, list(formats), _PLOT_CODE]
    for c in columns:
        inputs.append([c.column.label, c.job.config.key(), c.job.engine, c.job.dtype,
                       c.job.device, [(r.id, r.created_at) for r in c.runs]])  # fmt: skip
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()


# the drawing code is an input too: a changed plots.py or neurons.py redraws every plot
_PLOT_CODE = hashlib.sha256(b"".join(Path(sys.modules[f.__module__].__file__).read_bytes()
                                     for f in (save, hidden_units))).hexdigest()  # fmt: skip


def _all_saved(path: Path, formats: tuple[str, ...]) -> bool:
    return all(path.with_suffix(f".{fmt}").exists() for fmt in formats)


def _grid_text(name: str, values: tuple) -> str:
    """A tuning axis as the note names it: a log grid by its ends, a short list in full."""
    ratios = np.diff(np.log(values)) if len(values) > 2 and min(values) > 0 else None
    what = "rates" if name == "lr" else "values"
    if ratios is not None and np.allclose(ratios, ratios[0], rtol=1e-3):
        return f"a log grid of {len(values)} {what} from {values[0]:g} to {values[-1]:g}"
    return f"{len(values)} {what} ({', '.join(format_setting(v) for v in values)})"


def _tuning_note(study: Study, names: tuple[str, ...]) -> str:
    spec = study.tuning
    seeds = f"{spec.runs} seeds each ({spec.seeds[0]}..{spec.seeds[-1]})"
    if names == ("lr",):
        chosen = f"Learning rates marked (tuned) were chosen on {_grid_text('lr', spec.axes['lr'])}"
    else:
        axes = "; ".join(f"{AXIS_NAMES.get(n, n)}: {_grid_text(n, spec.axes[n])}" for n in names)
        chosen = ("Settings marked (tuned) were chosen on every combination of the grids of "
                  f"the fields their column tunes ({axes})")
    return (
        f"{chosen}, {seeds}, by mean validation {spec.score} on {spec.validation:.0%} of the "
        "train set held out; the table's runs then train on the full train set with the "
        "study's own seeds."
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
    for suffix in (".md", ".html"):  # before any plot is drawn: nothing half written
        writable(out / f"{name}{suffix}")
    doc = build_report(study, tables, environment, out, tuned, formats, plots)
    text = to_markdown(doc)
    page = to_html(doc, out, doc.figures())
    write_text(out / f"{name}.md", text)
    write_text(out / f"{name}.html", page)
    return text
