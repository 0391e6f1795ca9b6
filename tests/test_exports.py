"""Exports for papers and trackers: LaTeX tables, vector figures, tidy rows with their place
in the study and their loss curves, Parquet, and MLflow."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import textwrap

import pytest

from mlpbench import cli
from mlpbench.config.core import Config
from mlpbench.data.dataset import make_dataset
from mlpbench.exports.tidy import data_sha256, spreadsheet_safe
from mlpbench.report.latex import escape

SHARED = textwrap.dedent("""
    name = "shared"
    title = "Loss & batch: 100% {fair}"
    runs = 3
    [defaults]
    m = 60
    n = 20
    epochs = 12
    [[tables]]
    number = 1
    name = "loss"
    title = "Losses_x"
      [[tables.columns]]
      label = "BCE"
      lr = 2.0
      reported = { test_accuracy = 99.45 }
      [[tables.columns]]
      label = "MSE #2"
      loss = "mse"
      lr = 5.0
    [[tables]]
    number = 2
    name = "again"
      [[tables.columns]]
      label = "BCE again"
      lr = 2.0
""")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A study whose Table 2 column is the same job as Table 1's BCE column."""
    root = tmp_path_factory.mktemp("shared")
    study = root / "shared.toml"
    study.write_text(SHARED)
    out = root / "out"
    argv = ["run", str(study), "--out", str(out), "--engine", "numpy", "--figures", "svg,pdf"]
    assert cli.main(argv) == 0
    return out


def _export(out, capsys, *extra):
    assert cli.main(["export", "--out", str(out), *extra]) == 0
    return capsys.readouterr().out


def test_figures_in_every_format_asked(shared):
    for kind in ("boundary", "curves", "time", "spread"):
        for fmt in ("png", "svg", "pdf"):
            assert (shared / "plots" / f"table-1-{kind}.{fmt}").stat().st_size > 1000
    assert (shared / "plots" / "table-1-curves.svg").read_text().lstrip().startswith("<?xml")
    assert (shared / "plots" / "table-1-curves.pdf").read_bytes().startswith(b"%PDF")


def test_an_unknown_figure_format_is_one_line(shared, capsys):
    assert cli.main(["report", "--out", str(shared), "--figures", "gif"]) == 2
    assert "unknown figure format 'gif'; allowed: png, svg, pdf" in capsys.readouterr().err


def test_export_rows_carry_their_study_table_column_and_data_hash(shared, capsys):
    rows = list(csv.DictReader(io.StringIO(_export(shared, capsys))))
    assert len(rows) == 9  # 6 runs, the 3 BCE runs once per column they fill
    bce = [r for r in rows if r["column"] in ("BCE", "BCE again")]
    assert len(bce) == 6 and {r["shared"] for r in bce} == {"True"}
    assert {r["table"] for r in bce} == {"1 loss", "2 again"}
    mse = [r for r in rows if r["column"] == "MSE #2"]
    assert len(mse) == 3 and {r["shared"] for r in mse} == {"False"}
    assert {r["study"] for r in rows} == {"shared"}
    first = rows[0]
    config = Config(m=60, n=20)
    assert first["data_sha256"] == data_sha256(config, int(first["seed"]))
    assert first["data_sha256"] != data_sha256(config, int(first["seed"]) + 1)
    assert len(make_dataset(config, 0)) == 4  # the hash covers all four arrays


def test_export_curves_is_long_format(shared, capsys):
    rows = list(csv.DictReader(io.StringIO(_export(shared, capsys, "--curves"))))
    assert len(rows) == 9 * 12  # every placed run, every epoch
    one = [r for r in rows if r["column"] == "MSE #2" and r["seed"] == "0"]
    assert [int(r["epoch"]) for r in one] == list(range(1, 13))
    assert all(float(r["train_loss"]) > 0 for r in one)


def test_a_weight_penalty_is_its_own_curve_column_and_mlflow_metric(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--m", "20", "--n", "5", "--epochs", "4", "--runs", "2", "--engine",
            "numpy", "--out", str(out), "--l2", "0.01"]  # fmt: skip
    assert cli.main(argv) == 0
    assert cli.main([*argv[:-2], "--l2", "0"]) == 0  # the same without a penalty
    capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(_export(out, capsys, "--curves"))))
    assert len(rows) == 2 * 2 * 4
    penalized = [r for r in rows if r["penalty"]]
    assert len(penalized) == 8 and all(0 < float(r["penalty"]) < 1 for r in penalized)
    assert {r["l2"] for r in csv.DictReader(io.StringIO(_export(out, capsys)))} == {"0.0", "0.01"}
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    assert cli.main([*argv, "--mlflow"]) == 0
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}")
    (run, _) = client.search_runs([client.get_experiment_by_name("mlpbench train").experiment_id])
    history = client.get_metric_history(run.info.run_id, "train_penalty_curve")
    assert [m.step for m in history] == [1, 2, 3, 4] and run.data.params["l2"] == "0.01"


def test_export_json_is_strict(shared, capsys):
    rows = json.loads(_export(shared, capsys, "--format", "json"), parse_constant=pytest.fail)
    assert len(rows) == 9 and rows[0]["study"] == "shared"


def test_export_parquet_round_trips(shared, capsysbinary):
    pq = pytest.importorskip("pyarrow.parquet")
    assert cli.main(["export", "--out", str(shared), "--format", "parquet"]) == 0
    table = pq.read_table(io.BytesIO(capsysbinary.readouterr().out))
    assert table.num_rows == 9 and table.column_names[:4] == ["study", "table", "column", "shared"]


def test_latex_escapes_user_text():
    assert escape("100% & $x_1$ #{a}~^\\") == (
        r"100\% \& \$x\_1\$ \#\{a\}\textasciitilde{}\textasciicircum{}\textbackslash{}"
    )


def test_latex_report(shared, capsys):
    assert cli.main(["report", "--out", str(shared), "--format", "latex"]) == 0
    path = shared / "report.tex"
    assert capsys.readouterr().out.strip() == str(path)
    tex = path.read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"\usepackage{booktabs}" in tex
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 2
    assert r"Loss \& batch: 100\% \{fair\}" in tex and r"Losses\_x" in tex and r"MSE \#2" in tex
    assert "(99.45\\%)" in tex  # the reported figure beside ours
    assert tex.count("{") == tex.count("}")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed; the document was checked by structure only")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "report.tex"], cwd=shared, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (shared / "report.pdf").read_bytes().startswith(b"%PDF")


def test_latex_bolds_a_column_that_wins_every_paired_test(tmp_path, capsys):
    study = tmp_path / "win.toml"
    study.write_text('runs = 8\n[defaults]\nm = 200\nn = 200\nepochs = 100\n[[tables]]\n'
                     'number = 1\n[[tables.columns]]\nlabel = "good"\nlr = 5.0\n'
                     '[[tables.columns]]\nlabel = "bad"\nlr = 0.001\n')  # fmt: skip
    out = tmp_path / "out"
    assert cli.main(["run", str(study), "--out", str(out), "--engine", "numpy"]) == 0
    assert cli.main(["report", "--out", str(out), "--format", "latex"]) == 0
    test_row = next(line for line in (out / "report.tex").read_text().splitlines()
                    if line.startswith("Accuracy, test"))  # fmt: skip
    cells = test_row.split(" & ")
    assert cells[1].startswith(r"\textbf{") and not cells[2].startswith(r"\textbf{")


def test_mlflow_logs_each_run_once_with_its_curve_and_the_report(shared, tmp_path, capsys):
    mlflow = pytest.importorskip("mlflow")
    uri = (tmp_path / "mlruns").as_uri()
    study = shared.parent / "shared.toml"
    before = _export(shared, capsys)
    argv = ["run", str(study), "--out", str(shared), "--engine", "numpy", "--mlflow", uri]
    assert cli.main(argv) == 0
    assert "6 runs logged to MLflow" in capsys.readouterr().err
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("shared")
    runs = client.search_runs([experiment.experiment_id])
    logged = [r for r in runs if r.info.run_name != "report"]
    assert len(logged) == 6
    one = logged[0]
    assert one.data.params["engine"] == "numpy" and one.data.params["epochs"] == "12"
    assert "test_accuracy" in one.data.metrics
    curve = client.get_metric_history(one.info.run_id, "train_loss_curve")
    assert [m.step for m in curve] == list(range(1, 13))
    report = next(r for r in runs if r.info.run_name == "report")
    names = {a.path for a in client.list_artifacts(report.info.run_id)}
    assert {"report.md", "report.html"} <= names
    assert cli.main(argv) == 0  # again: nothing new to log
    assert "0 runs logged to MLflow" in capsys.readouterr().err
    assert _export(shared, capsys) == before  # the store holds what it held


def test_mlflow_default_store_is_sqlite_and_an_older_folder_is_still_read(tmp_path, capsys):
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    out = tmp_path / "out"
    argv = ["train", "--epochs", "3", "--m", "20", "--n", "5", "--runs", "2", "--out", str(out),
            "--engine", "numpy", "--mlflow"]  # fmt: skip
    assert cli.main(argv) == 0
    assert (tmp_path / "mlruns.db").is_file() and not (tmp_path / "mlruns").exists()  # beside
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("mlpbench train")
    assert len(client.search_runs([experiment.experiment_id])) == 2
    older = tmp_path / "old"
    (older / "mlruns").mkdir(parents=True)  # a file store from before: it keeps being used
    argv[argv.index(str(out))] = str(older / "out")
    assert cli.main(argv) == 0
    assert any((older / "mlruns").iterdir()) and not (older / "mlruns.db").exists()


@pytest.mark.parametrize(("uri", "message"), [
    ("ftp://example/x", "unsupported scheme 'ftp'; allowed: http, https, file, sqlite"),
    ("http://[::1", "is not a valid URI: Invalid IPv6 URL"),
    ("http://h:99999", "is not a valid URI: Port out of range"),
    ("databricks", "cannot reach the MLflow tracking store at databricks"),
])  # fmt: skip
def test_a_tracking_uri_mlflow_cannot_use_is_one_line_before_training(tmp_path, capsys, uri,
                                                                      message):  # fmt: skip
    pytest.importorskip("mlflow")
    out = tmp_path / "out"
    argv = ["train", "--epochs", "3", "--out", str(out), "--engine", "numpy", "--mlflow", uri]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert list(tmp_path.iterdir()) == []  # no ./databricks folder, no store


def test_an_unreachable_tracker_stops_before_training(tmp_path, capsys):
    pytest.importorskip("mlflow")
    out = tmp_path / "out"
    argv = ["train", "--epochs", "3", "--out", str(out), "--mlflow", "http://127.0.0.1:9"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the MLflow tracking store" in err[0]
    assert not out.exists()


def test_user_named_cells_cannot_run_as_spreadsheet_formulas():
    row = {"study": "=HYPERLINK(\"http://x\")", "table": "@SUM(1+1)", "column": "-2+3",
           "shared": "\tx", "target": "+y", "range": "-2.0,2.0", "lr": -1.0, "engine": "=x"}
    safe = spreadsheet_safe(row)
    assert safe["study"] == "'=HYPERLINK(\"http://x\")" and safe["table"] == "'@SUM(1+1)"
    assert (safe["column"], safe["shared"], safe["target"]) == ("'-2+3", "'\tx", "'+y")
    assert (safe["range"], safe["lr"], safe["engine"]) == ("-2.0,2.0", -1.0, "=x")  # not named
    assert spreadsheet_safe({"column": "BCE (10.0)"}) == {"column": "BCE (10.0)"}
