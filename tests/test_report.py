"""Plots, the HTML report (rendered in headless Chromium), claims, and exports."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mlpbench import cli
from mlpbench.analysis.compare import CONTRADICTED, NOT_TESTABLE, SUPPORTED, judge
from mlpbench.config.core import Config
from mlpbench.data.dataset import make_dataset
from mlpbench.errors import UsageError
from mlpbench.experiment.store import Store
from mlpbench.experiment.study import parse_study
from mlpbench.report.plots import PLOTS
from mlpbench.service import load_columns

STUDY = """
name = "claims"
runs = 6
[defaults]
m = 80
n = 40
epochs = 60
[[tables]]
number = 1
name = "t"
title = "Planted"
  [[tables.claims]]
  text = "good beats bad"
  checks = [{ kind = "greater", metric = "train_accuracy", a = "good", b = "bad" }]
  [[tables.claims]]
  text = "bad beats good"
  checks = [{ kind = "greater", metric = "train_accuracy", a = "bad", b = "good" }]
  [[tables.claims]]
  text = "good takes 1000x longer"
  checks = [{ kind = "ratio", metric = "train_time_s", a = "good", b = "bad", low = 1000 }]
  [[tables.claims]]
  text = "the GPU wins"
  checks = [{ kind = "greater", metric = "train_time_s", a = "bad", b = "on gpu" }]
  [[tables.columns]]
  label = "good"
  engine = "numpy"
  lr = 5.0
  [[tables.columns]]
  label = "bad"
  engine = "numpy"
  lr = 0.001
  [[tables.columns]]
  label = "on gpu"
  engine = "numpy"
  device = "gpu"
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    study_path = out / "claims.toml"
    study_path.write_text(STUDY)
    assert cli.main(["run", str(study_path), "--out", str(out)]) == 0
    return out, parse_study(STUDY)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_plots_are_written_at_their_size(finished):
    out, _ = finished
    expected = {
        "boundary": (880, 450),  # two panels (the GPU column has no runs) of 3.6 in + colour bar
        "curves": (600, 450),  # one panel: every column trains BCE
        "time": (700, 450),
        "spread": (500, 450),  # three columns at 1.6 in, at least 5 in
    }
    assert set(expected) == set(PLOTS)
    for kind, size in expected.items():
        path = out / "plots" / f"table-1-{kind}.png"
        assert path.stat().st_size > 5000
        assert _png_size(path) == size


def test_claims_get_verdicts(finished):
    out, study = finished
    table = study.tables[0]
    with Store(out) as store:
        columns = load_columns(table, study, store, "numpy", None)
    verdicts = {c.text: judge(c, table, columns) for c in table.claims}
    assert verdicts["good beats bad"].verdict == SUPPORTED
    assert verdicts["bad beats good"].verdict == CONTRADICTED
    assert verdicts["good takes 1000x longer"].verdict == CONTRADICTED
    assert verdicts["the GPU wins"].verdict == NOT_TESTABLE
    assert "on gpu: no GPU here" in verdicts["the GPU wins"].details
    text = (out / "report.md").read_text()
    assert '"good beats bad": **supported**' in text
    assert "train accuracy: good - bad = +" in text


def test_report_md_links_every_plot_and_html_embeds_them(finished):
    out, _ = finished
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for kind in PLOTS:
        assert f"(plots/table-1-{kind}.png)" in md
    assert html.count("data:image/png;base64,") == len(PLOTS)
    assert "<table>" in html and "plots/" not in html and "http" not in html.split("<body>")[1]
    assert "## Environment" in md and '<h2 id="environment">Environment</h2>' in html


def _chromium(tmp_path, *args: str) -> str:
    cmd = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (CI installs it and never skips this)",
)
@pytest.mark.parametrize("width", [1400, 400])
def test_html_report_renders_in_headless_chromium(finished, tmp_path, width):
    """A desktop and a phone-width window: text, tables and plots, and at 400 px nothing
    wider than the window (tables scroll inside their own box)."""
    out, _ = finished
    shot = tmp_path / f"shot-{width}.png"
    page = (out / "report.html").as_uri()
    _chromium(tmp_path, f"--window-size={width},2000", f"--screenshot={shot}", page)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, width)
    assert pixels[..., :3].std() > 0.05  # text, tables and plots, not a blank page
    assert (pixels[..., :3] < 0.5).mean() > 0.005  # some dark pixels: text
    probe = tmp_path / "probe.html"  # the page, telling its widths in its title
    script = ("<script>document.title = document.documentElement.scrollWidth + ' ' + "
              "window.innerWidth;</script></body>")  # fmt: skip
    probe.write_text((out / "report.html").read_text().replace("</body>", script))
    dom = _chromium(tmp_path, f"--window-size={width},900", "--dump-dom", probe.as_uri())
    scroll, inner = map(int, re.search(r"<title>(\d+) (\d+)</title>", dom).groups())
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px window"


def test_export_round_trips_the_store(finished, capsys):
    out, _ = finished
    with Store(out) as store:
        stored = store.all_runs()
    assert cli.main(["export", "--format", "json", "--out", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert cli.main(["export", "--format", "csv", "--out", str(out)]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(table) == len(stored) == 12
    for run, row, line in zip(stored, rows, table):
        assert row["seed"] == run.seed and row["engine"] == run.engine
        assert row["lr"] == run.config["lr"] and row["hidden"] == "3"
        for metric in ("test_accuracy", "train_loss", "train_time_s"):
            assert row[metric] == run.metrics[metric]
            assert float(line[metric]) == run.metrics[metric]
        assert int(line["seed"]) == run.seed


def test_data_command_writes_the_exact_sets(tmp_path, capsys):
    out = tmp_path / "data"
    argv = ["data", "--dataset", "linear-int", "--seed", "4", "--m", "30", "--n", "7"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    train_path, test_path = (Path(p) for p in capsys.readouterr().out.split())
    expected = make_dataset(Config(data="linear-int", m=30, n=7), seed=4)
    for path, x, y in ((train_path, expected.x_train, expected.y_train),
                       (test_path, expected.x_test, expected.y_test)):  # fmt: skip
        rows = list(csv.DictReader(path.open()))
        got = np.array([[float(r["x1"]), float(r["x2"])] for r in rows])
        np.testing.assert_array_equal(got, x)
        np.testing.assert_array_equal([float(r["y"]) for r in rows], y[:, 0])


def test_export_without_results_is_an_error(tmp_path, capsys):
    assert cli.main(["export", "--out", str(tmp_path / "none")]) == 2
    assert "no results in" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ('checks = [{ kind = "better", metric = "test_accuracy", a = "x", b = "x" }]',
         "unknown kind 'better'"),
        ('checks = [{ kind = "greater", metric = "speed", a = "x", b = "x" }]',
         "unknown metric 'speed'"),
        ('checks = [{ kind = "greater", metric = "test_accuracy", a = "x", b = "y" }]',
         r"tables\[0\].claims\[0\].checks\[0\].b: 'y' is not a column"),
    ],
)  # fmt: skip
def test_bad_claims_are_rejected(claim, message):
    text = (
        '[[tables]]\nnumber = 1\n  [[tables.claims]]\n  text = "c"\n  ' + claim +
        '\n  [[tables.columns]]\n  label = "x"\n'
    )  # fmt: skip
    with pytest.raises(UsageError, match=message):
        parse_study(text)


def test_durations_keep_the_mean_unit_without_exponents():
    from mlpbench.report.formatting import format_duration

    assert format_duration(0.076) == "76ms"
    assert format_duration(905.0) == "15m 5s"
    assert format_duration(1.44, like=0.87) == "1440ms"
    assert format_duration(3.2e-6) == "3.2µs"


def test_plots_follow_the_rows_shown_and_are_redrawn_only_when_their_runs_change(
    tiny_study, tmp_path, monkeypatch
):
    from mlpbench.report import build as report

    out = tmp_path / "out"
    argv = ["run", str(tiny_study), "--out", str(out), "--engine", "numpy"]
    assert cli.main(argv) == 0
    table_2 = sorted(p.name for p in (out / "plots").glob("table-2-*.png"))
    assert table_2 == ["table-2-boundary.png", "table-2-spread.png"]  # rows = ["accuracy"]
    saved = []  # the plots the report draws (in worker processes: recorded as handed over)
    real = report.draw_all
    monkeypatch.setattr(report, "draw_all", lambda pending: saved.extend(
        d.path.name for d in pending) or real(pending))
    assert cli.main(["report", "--out", str(out)]) == 0
    assert saved == []  # nothing changed: every plot comes from the cache
    assert cli.main([*argv, "--runs", "4"]) == 0  # more runs: a partial report, fresh plots
    assert "table-1-boundary.png" in saved


def test_html_embeds_only_drawn_figures_and_svg_where_smaller(tmp_path):
    from mlpbench.report.document import Document, Figure, Section
    from mlpbench.report.html import to_html

    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "a.png").write_bytes(b"\x89PNG" + b"0" * 1000)
    (plots / "a.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (plots / "b.png").write_bytes(b"\x89PNG" + b"1" * 10)
    (plots / "b.svg").write_text("<svg>" + " " * 1000 + "</svg>")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"SECRET")
    figures = [Figure("plots/a.png", "a"), Figure("plots/b.png", "b"), Figure(str(secret), "s")]
    doc = Document("t", "intro", [Section("Plots", 2, figures)])
    page = to_html(doc, tmp_path, {"plots/a.png", "plots/b.png"})
    assert page.count("data:image/svg+xml;base64,") == 1  # a: its SVG is smaller
    assert page.count("data:image/png;base64,") == 1  # b: its PNG is smaller
    assert "U0VDUkVU" not in page and "SECRET" not in page  # not drawn: never read


def test_labels_with_dollar_signs_are_drawn_as_typed(tmp_path):
    """Broken mathtext in a column label ($\\frac{) would fail the drawing if it were parsed."""
    from matplotlib.figure import Figure

    from mlpbench.report.plots import literal_text

    @literal_text
    def draw() -> Figure:
        fig = Figure()
        fig.subplots().set_title(r"costs $\frac{ and $5")
        return fig

    draw().savefig(tmp_path / "label.png")
    study = tmp_path / "dollar.toml"
    study.write_text('runs = 2\n[defaults]\nm = 20\nn = 5\nepochs = 2\n[[tables]]\nnumber = 1\n'
                     '[[tables.columns]]\nlabel = "costs $\\\\frac{ and $5"\n')  # fmt: skip
    argv = ["run", str(study), "--out", str(tmp_path / "out"), "--engine", "numpy"]
    assert cli.main(argv) == 0
    assert (tmp_path / "out" / "plots" / "table-1-spread.png").exists()


def test_time_plot_of_columns_on_other_data_sets_and_a_one_point_plane():
    from mlpbench.report.plots import _only_batch_differs, plane_of

    seed, circle = Config(), Config(data="circle", noise=0.1)
    assert not _only_batch_differs([seed, circle])  # fields one config leaves out count too
    assert not _only_batch_differs([circle, seed])
    assert _only_batch_differs([circle, circle.replace(batch_size=32)])
    plane = plane_of(np.ones((1, 4)))  # one train point: one component, the other axis 0
    assert plane.coords(np.zeros((3, 4))).shape == (3, 2)


def _columns_of(*configs: Config):
    from mlpbench.analysis.compare import ColumnRuns
    from mlpbench.config.core import Job
    from mlpbench.experiment.study import Column

    return [ColumnRuns(Column(f"c{i}", c, f"c{i}", "float64", "cpu", {}), Job(c, "numpy"), [])
            for i, c in enumerate(configs)]  # fmt: skip


def test_the_configuration_row_names_what_sets_each_column_apart():
    from mlpbench.report.build import configuration_cells

    sgd = Config(optimizer="sgd", lr=0.5)
    cells = configuration_cells(_columns_of(sgd, sgd.replace(l2=1e-3), sgd.replace(l1=1e-3)))
    assert cells == ["l1 = 0, l2 = 0", "l1 = 0, l2 = 0.001", "l1 = 0.001, l2 = 0"]
    # a setting the other optimizer does not read does not set a column apart
    adam = Config(optimizer="adam", lr=0.01)
    cells = configuration_cells(_columns_of(sgd.replace(momentum=0.9), adam))
    assert cells == ["optimizer = sgd, lr = 0.5, momentum = 0.9", "optimizer = adam, lr = 0.01"]
    assert configuration_cells(_columns_of(sgd, adam), tuned=("lr",)) == ["optimizer = sgd",
                                                                          "optimizer = adam"]
    # a tuned field has its own row, whichever it is
    cells = configuration_cells(_columns_of(sgd.replace(momentum=0.9), sgd.replace(l2=1e-3)),
                                tuned=("momentum",))  # fmt: skip
    assert cells == ["l2 = 0", "l2 = 0.001"]
    assert configuration_cells(_columns_of(sgd, sgd)) is None  # engines compared
    cells = configuration_cells(_columns_of(Config(hidden=(8, 8)), Config()))
    assert cells == ["hidden = [8, 8]", "hidden = [3]"]


def _figure(label: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().set_title(label)
    return fig


DRAW_IN_WORKERS = """
import os, sys
from pathlib import Path
from matplotlib.figure import Figure
from mlpbench.errors import UsageError
from mlpbench.report.build import Drawing, draw_all

def figure(label):
    (Path(sys.argv[1]) / f"{label}.pid").write_text(str(os.getpid()))
    fig = Figure(figsize=(2, 2))
    fig.subplots().set_title(label)
    return fig

def broken(label):
    raise UsageError(f"cannot draw {label}")

folder = Path(sys.argv[1])
pending = [Drawing(figure, (f"p{i}",), folder / f"p{i}.png", ("png",), f"p{i}", "k")
           for i in range(5)]
print(sorted(d.name for d in draw_all(pending)))
pids = {p.read_text() for p in folder.glob("*.pid")}
print(len(pids - {str(os.getpid())}) >= 1 and str(os.getpid()) not in pids)
try:
    list(draw_all([*pending[:2], Drawing(broken, ("q",), folder / "q.png", ("png",))]))
except UsageError as e:
    print(e)
"""


def test_plots_drawn_in_worker_processes_are_all_saved_and_a_failure_is_raised_here(tmp_path):
    """In a fresh process (no framework imported): the plots are drawn in forked workers,
    every one is saved, and a plot a worker cannot draw raises its own error here."""
    import sys

    proc = subprocess.run([sys.executable, "-c", DRAW_IN_WORKERS, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    names, in_workers, error = proc.stdout.strip().splitlines()
    assert names == str([f"p{i}" for i in range(5)]) and in_workers == "True"
    assert error == "cannot draw q" and not (tmp_path / "q.png").exists()
    assert all((tmp_path / f"p{i}.png").read_bytes().startswith(b"\x89PNG") for i in range(5))


def test_plots_are_drawn_here_once_a_threaded_framework_is_imported(tmp_path, monkeypatch):
    import sys

    from mlpbench.report import build

    monkeypatch.setitem(sys.modules, "jax", sys.modules.get("jax") or object())
    assert not build._fork_safe()
    monkeypatch.setattr(build, "ProcessPoolExecutor", None)  # would fail if it were used
    pending = [build.Drawing(_figure, ("a",), tmp_path / "a.png", ("png",)),
               build.Drawing(_figure, ("b",), tmp_path / "b.png", ("png",))]  # fmt: skip
    assert [d.path.name for d in build.draw_all(pending)] == ["a.png", "b.png"]


def _with_runs(column, times, curve=(0.5, 0.3)):
    """A column with runs of these training times, test accuracy 90 and this loss curve."""
    import dataclasses

    from conftest import stored_run

    runs = [dataclasses.replace(stored_run(i, {"train_time_s": t, "test_accuracy": 90.0}),
                                loss_curve=np.array(curve)) for i, t in enumerate(times)]
    return column._replace(runs=runs)


def test_times_far_apart_are_drawn_on_a_log_axis_and_close_ones_on_a_linear_one():
    from mlpbench.report.plots import training_time

    fast, slow = _columns_of(Config(), Config(lr=1.0))
    (ax,) = training_time("t", [_with_runs(fast, [0.01] * 5), _with_runs(slow, [4.0] * 5)]).axes
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    (ax,) = training_time("t", [_with_runs(fast, [0.01] * 5), _with_runs(slow, [0.09] * 5)]).axes
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_the_spread_plot_leaves_out_columns_without_runs():
    from mlpbench.report.plots import spread

    cpu, gpu, other = _columns_of(Config(), Config(lr=1.0), Config(lr=2.0))
    (ax,) = spread("t", [_with_runs(cpu, [0.1] * 3), gpu, _with_runs(other, [0.1] * 3)]).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c0", "c2"]


def test_a_curve_on_another_columns_line_is_dashed_and_says_so():
    from mlpbench.report.plots import learning_curves

    a, b, c = _columns_of(Config(), Config(lr=1.0), Config(lr=2.0))
    columns = [_with_runs(a, [0.1] * 2), _with_runs(b, [0.1] * 2),
               _with_runs(c, [0.1] * 2, curve=(0.5, 0.2))]  # fmt: skip
    (ax,) = learning_curves("t", columns).axes
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"c0 (2 runs)": "-", "c1 (2 runs), on c0's line": "--", "c2 (2 runs)": "-"}


def test_columns_identical_to_rounding_are_named_in_one_line_not_a_row_per_metric():
    from conftest import stored_run
    from mlpbench.report.build import comparisons
    from mlpbench.report.document import Paragraph, TableBlock

    def runs(accuracies, losses):
        return [stored_run(i, {"test_accuracy": a, "test_loss": x})
                for i, (a, x) in enumerate(zip(accuracies, losses))]  # fmt: skip

    a, b, c = _columns_of(Config(), Config(lr=1.0), Config(lr=2.0))
    losses = [0.3, 0.2, 0.25, 0.4]
    a = a._replace(runs=runs([90, 95, 92, 91], losses))
    b = b._replace(runs=runs([90, 95, 92, 91], [x * (1 + 5e-7) for x in losses]))  # rounding
    c = c._replace(runs=runs([80, 85, 82, 81], [x * 1.5 for x in losses]))
    table = parse_study('[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = "c0"\n'
                        '[[tables.columns]]\nlabel = "c1"\n[[tables.columns]]\nlabel = "c2"\n',
                        "s.toml").tables[0]  # fmt: skip
    intro, block, same = comparisons(table, [a, b, c])
    assert isinstance(intro, Paragraph) and isinstance(block, TableBlock)
    assert {row[0].lines[0] for row in block.rows} == {"c0 − c2", "c1 − c2"}
    assert same.text.startswith("Identical to rounding (every paired run within 1e-6 relative")
    assert same.text.endswith(": c0 and c1.")
    b = b._replace(runs=runs([90, 95, 92, 91], [x * (1 + 2e-6) for x in losses]))  # not rounding
    assert len(comparisons(table, [a, b, c])) == 2
