"""The command line end to end: studies, the store, resume and bad input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from mlpbench import cli, engines

MLPBENCH = [sys.executable, "-m", "mlpbench.cli"]


def _count_runs(out):
    db = out / "mlpbench.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def test_small_study_end_to_end(tiny_study, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", str(tiny_study), "--out", str(out), "--engine", "numpy", "--format", "markdown"]
    assert cli.main(argv) == 0
    text, err = capsys.readouterr()
    assert "9 runs trained\n" in err  # an empty folder: nothing came from the store
    assert "### Table 1: Loss functions" in text and "### Table 2: Batch sizes" in text
    assert "| Accuracy | Train |" in text and "| Elapsed time | Train |" in text
    assert "| Runs |  | 3 | 3 |" in text and "numpy, float64" in text
    assert "## Environment" in text
    assert (out / "report.md").read_text().replace("<br>", " ").strip() == text.strip()
    assert _count_runs(out) == 9  # three columns x three runs

    # the report re-renders from the store alone
    assert cli.main(["report", "--out", str(out), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.strip() == text.strip()
    assert cli.main(argv) == 0
    assert "0 runs trained; 9 came from the store\n" in capsys.readouterr().err


def test_rerun_reuses_stored_runs_and_fresh_recomputes(tiny_study, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["run", str(tiny_study), "--out", str(out), "--engine", "numpy"]
    assert cli.main(args) == 0
    calls = []
    real = engines.train
    monkeypatch.setattr(engines, "train", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert cli.main(args) == 0
    assert calls == []
    assert cli.main([*args, "--fresh"]) == 0
    assert len(calls) == 3
    assert _count_runs(out) == 9


def test_interrupted_study_resumes_without_losing_finished_runs(tiny_study, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["run", str(tiny_study), "--out", str(out), "--engine", "numpy"]
    real = engines.train
    trained = []

    def interrupt_second(name, config, seeds, *a, **k):
        if trained:
            raise KeyboardInterrupt
        trained.append(config)
        return real(name, config, seeds, *a, **k)

    monkeypatch.setattr(engines, "train", interrupt_second)
    assert cli.main(args) == 130
    assert _count_runs(out) == 3  # the first column's runs survived

    again = []
    monkeypatch.setattr(
        engines, "train", lambda n, c, s, *a, **k: again.append(c) or real(n, c, s, *a, **k)
    )
    assert cli.main(args) == 0
    assert trained[0] not in again and len(again) == 2
    assert _count_runs(out) == 9


def test_sigint_keeps_finished_runs(tmp_path):
    """A real Ctrl-C on a running study: finished groups stay, the rest are redone on resume."""
    study = tmp_path / "slow.toml"
    study.write_text(
        "runs = 2\n[defaults]\nm = 200\nn = 20\n[[tables]]\nnumber = 1\n"
        '  [[tables.columns]]\n  label = "fast"\n  epochs = 5\n'
        '  [[tables.columns]]\n  label = "slow"\n  batch_size = 1\n  epochs = 100000\n'
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*MLPBENCH, "run", str(study), "--out", str(out), "--engine", "numpy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while _count_runs(out) < 2 and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "finished runs are kept" in err
    assert _count_runs(out) == 2


def test_train_json(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--runs", "4", "--epochs", "50", "--m", "100", "--json", "--out", str(out)]
    assert cli.main([*argv, "--engine", "numpy"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 4 and result["engine"] == "numpy"
    names = {
        "train_accuracy",
        "test_accuracy",
        "train_loss",
        "test_loss",
        "train_time_s",
        "test_time_s",
    }
    assert names <= set(result["metrics"])
    for name in names:
        assert set(result["metrics"][name]) == {"mean", "std"}
    assert 0 <= result["metrics"]["test_accuracy"]["mean"] <= 100
    assert result["metrics"]["train_loss"]["mean"] > 0


def test_default_engine_is_the_fastest_installed():
    expected = "numba" if engines.available("numba") else "numpy"
    assert engines.default_engine() == expected


BAD_TRAIN = [
    (["--data", "helix"], "unknown data set 'helix'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    (["--engine", "cuda"], "unknown engine 'cuda'"),
    (["--lr", "0"], "learning rate must be a finite number > 0, got 0.0"),
    (["--lr", "-1"], "learning rate must be a finite number > 0"),
    (["--lr", "nan"], "learning rate must be a finite number > 0, got nan"),
    (["--lr", "inf"], "learning rate must be a finite number > 0, got inf"),
    (["--batch-size", "0"], "batch size must be an integer >= 1, got 0"),
    (["--batch-size", "1001"], "batch size must be between 1 and m = 1000, got 1001"),
    (["--m", "0"], "m must be an integer >= 1, got 0"),
    (["--n", "0"], "n must be an integer >= 1, got 0"),
    (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
    (["--runs", "0"], "runs must be an integer >= 1, got 0"),
    (["--activation", "swish"], "unknown activation 'swish'"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_TRAIN)
def test_bad_train_input(extra, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["train", "--epochs", "2", "--out", str(out), *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_bad_study_file_is_one_line_and_writes_nothing(tmp_path, capsys):
    study = tmp_path / "bad.toml"
    study.write_text("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\nloss = 'hinge'")
    out = tmp_path / "out"
    assert cli.main(["run", str(study), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown loss 'hinge'" in err[0] and str(study) in err[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "--tables", "9"],
            "unknown table '9'; this study has: 1 (loss), 2 (optimizer), 3 (engine), 4 (batch)",
        ),
        (["run", "missing.toml"], "cannot read study file 'missing.toml'"),
        (["run", "--runs", "0"], "runs must be an integer >= 1"),
        (["report"], "no study has been run in"),
    ],
)
def test_bad_run_input(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_console_script_runs_a_selected_table(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [
            *MLPBENCH,
            "run",
            "--tables",
            "loss",
            "--runs",
            "2",
            "--out",
            str(out),
            "--engine",
            "numpy",
            "--format",
            "markdown",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "### Table 1: Comparison between loss functions" in proc.stdout
    assert "Table 2" not in proc.stdout
    assert "report: 99.45%" in proc.stdout  # the seed report's figure beside ours
    assert "our 95% CI" in proc.stdout and "ours − report = " in proc.stdout


def test_missing_engine_library_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(engines.registry, "available", lambda name: name != "keras")
    out = tmp_path / "out"
    assert cli.main(["train", "--engine", "keras", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "mlpbench: error: engine 'keras' needs keras; install it with: pip install 'mlpbench[tf]'"
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    ("second", "cell"),
    [
        ('label = "gpu"\n  engine = "numpy"\n  device = "gpu"\n', "no GPU here"),
        ('label = "keras"\n  engine = "keras"\n', "needs keras (pip install 'mlpbench[tf]')"),
    ],
)
def test_column_this_machine_cannot_run_says_why(second, cell, tmp_path, capsys, monkeypatch):
    """A study is portable: a GPU column without a GPU, or on an engine not installed here,
    is shown as such in every metric row, and the rest of the table still runs."""
    monkeypatch.setattr(engines.registry, "available", lambda name: name == "numpy")
    study = tmp_path / "two.toml"
    study.write_text(
        "runs = 2\n[defaults]\nm = 40\nn = 10\nepochs = 5\n[[tables]]\nnumber = 1\n"
        '  [[tables.columns]]\n  label = "cpu"\n  engine = "numpy"\n'
        "  [[tables.columns]]\n  " + second
    )
    argv = ["run", str(study), "--out", str(tmp_path / "out"), "--format", "markdown"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "| Accuracy | Train | " in text
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count(cell.replace("'", "&#x27;")) == 6 or page.count(cell) == 6
    assert "| Runs |  | 2 | 0 |" in text


def test_agree_command(capsys):
    """numpy against itself is exactly 0; another engine is off by rounding, within tolerance."""
    argv = ["agree", "--engines", "numpy,numpy", "--epochs", "20", "--m", "50", "--runs", "2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "reference: numpy, float64" in out
    assert "numpy, float64" in out.splitlines()[3] and "0.00e+00" in out.splitlines()[3]
    other = "numba" if engines.available("numba") else "numpy"
    argv[2] = f"numpy,{other}"
    assert cli.main([*argv, "--dtype", "float32"]) == 0
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row[:2] == [f"{other},", "float32"] and "(!)" not in row
    assert float(row[2]) < 1e-3 and float(row[3]) < 1e-2
    assert cli.main(["agree", "--engines", "numpy"]) == 2


@pytest.mark.skipif(not engines.available("keras"), reason="needs the [tf] extra")
def test_table_3_fills_keras_and_tf_function_columns(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "--tables", "3", "--runs", "2", "--out", str(out), "--format", "markdown"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    runs_row = next(line for line in text.splitlines() if line.startswith("| Runs |"))
    gpu = engines.has_device("keras", "gpu")
    jax = 2 if engines.available("jax") else 0
    jax_gpu = 2 if engines.has_device("jax", "gpu") else 0
    tf_gpu = "2 | 2" if gpu else "0 | 0"
    assert runs_row == f"| Runs |  | 2 | 2 | 2 | 2 | {jax} | {tf_gpu} | {jax_gpu} |"
    assert ("no GPU here" in text) != gpu
    assert "tensorflow 2." in text and "keras 3." in text


def test_a_partial_run_keeps_the_whole_report(tiny_study, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["--out", str(out), "--engine", "numpy"]
    assert cli.main(["run", str(tiny_study), *base]) == 0
    whole = (out / "report.md").read_text()
    capsys.readouterr()
    assert cli.main(["run", str(tiny_study), "--tables", "loss", "--runs", "2", *base]) == 0
    printed = capsys.readouterr()
    part = out / "report-tables-1-runs-2.md"
    assert f"report: {out / 'report-tables-1-runs-2'}.md and .html" in printed.out
    assert "this part of the study has its own report" in printed.err
    assert part.exists() and (out / "report-tables-1-runs-2.html").exists()
    assert "| Runs |  | 2 | 2 |" in part.read_text() and "Table 2" not in part.read_text()
    assert (out / "report.md").read_text() == whole
    assert (out / "plots" / "report-tables-1-runs-2" / "table-1-boundary.png").exists()
    assert (out / "plots" / "table-2-boundary.png").exists()
    # `report` alone is the whole study again, from the store
    assert cli.main(["report", "--out", str(out)]) == 0
    assert (out / "report.md").read_text() == whole
    argv = ["report", "--out", str(out), "--tables", "1", "--runs", "2", "--format", "markdown"]
    assert cli.main(argv) == 0
    assert part.read_text().replace("<br>", " ") in capsys.readouterr().out


def test_stale_plots_are_removed(tiny_study, tmp_path):
    out = tmp_path / "out"
    argv = ["run", str(tiny_study), "--out", str(out), "--engine", "numpy"]
    assert cli.main([*argv, "--figures", "svg"]) == 0
    assert (out / "plots" / "table-2-spread.svg").exists()
    (out / "plots" / "table-9-boundary.png").write_bytes(b"a table that is gone")
    assert cli.main(["report", "--out", str(out)]) == 0
    assert not (out / "plots" / "table-2-spread.svg").exists()  # not asked for this time
    assert not (out / "plots" / "table-9-boundary.png").exists()
    assert (out / "plots" / "table-2-spread.png").exists()


def test_run_prints_a_compact_summary_and_colours_verdicts(tiny_study, tmp_path, capsys):
    text = tiny_study.read_text().replace(
        'rows = ["accuracy"]',
        'rows = ["accuracy"]\n[[tables.claims]]\ntext = "B=7 beats itself"\n'
        'checks = [{ kind = "greater", metric = "test_accuracy", a = "B=7", b = "B=7" }]',
    )
    tiny_study.write_text(text)
    out = tmp_path / "out"
    assert cli.main(["run", str(tiny_study), "--out", str(out), "--engine", "numpy"]) == 0
    printed = capsys.readouterr().out
    assert "Table 1: Loss functions" in printed and "test accuracy" in printed
    assert "BCE" in printed and "B=7" in printed and "| Accuracy |" not in printed
    assert '"B=7 beats itself": not supported at this sample size' in printed
    assert f"report: {out / 'report'}.md and .html" in printed
    assert "\x1b[" not in printed  # not a terminal: no colour codes
    assert len(printed.splitlines()) < 30
    from mlpbench import service
    from mlpbench.report import terminal

    coloured = terminal.render(service.stored_study(out).tables, color=True)
    assert "\x1b[33mnot supported at this sample size" in coloured  # yellow


def test_the_time_column_says_what_its_two_forms_mean():
    from mlpbench.report.terminal import time_caption

    assert time_caption(["median 1.2ms", "median 3.0ms"]) is None  # one form: no legend
    shared = "per run: one call trained the runs, each its equal share"
    assert time_caption(["1.2ms per run"]) == shared
    assert time_caption(["1.2ms per run", "median 3.0ms"]) == (
        shared + "; median: each run timed alone")


def test_every_field_is_an_option_of_train_in_its_section_with_its_default(capsys):
    from mlpbench.config.fields import FIELDS, SECTIONS
    from mlpbench.options import build_parser

    args = build_parser(cli.COMMANDS).parse_args(["train"])
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    headings = {s: text.index(f"{s} options:") for s in SECTIONS}
    assert sorted(headings, key=headings.get) == list(SECTIONS)  # in the sections' order
    for f in FIELDS:
        if not f.flag:
            assert not hasattr(args, f.name), f.name
            continue
        assert getattr(args, f.name) == f.default, f.name
        later = [at for at in headings.values() if at > headings[f.section]]
        at = text.index(f"  {f.flag_name}", headings[f.section])  # its line, not the usage
        assert at < min(later, default=len(text)), f.name


def test_a_field_option_reads_its_kind():
    from mlpbench.options import build_parser

    parser = build_parser(cli.COMMANDS)
    args = parser.parse_args(["train", "--hidden", "8,4", "--range=-1,3", "--batch-size", "32"])
    assert (args.hidden, args.range, args.batch_size) == ((8, 4), (-1.0, 3.0), 32)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--hidden", "8,x"])


def test_a_tuning_grid_where_every_rate_diverges_still_reports(tmp_path, capsys):
    argv = ["tune", "--m", "30", "--n", "10", "--epochs", "3", "--runs", "1", "--tune-runs",
            "1", "--lr-grid", "1e250:1e300:1", "--engine", "numpy", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "validation loss n/a ± n/a" in out and "(1 diverged)" in out
    assert list((tmp_path / "plots").glob("tune-*.png"))


def test_train_prints_its_summary_to_a_few_digits(tmp_path, capsys):
    argv = ["train", "--m", "60", "--n", "20", "--epochs", "20", "--runs", "3", "--engine",
            "numpy", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "test_accuracy:" in x)
    mean, std = line.split(":")[1].split(" ± ")
    assert len(mean.strip().replace(".", "")) <= 6 and len(std.strip().replace(".", "")) <= 3


@pytest.mark.parametrize(("argv", "message"), [
    (["--executor", "dask://a..b:1"], "unknown executor 'dask://a..b:1'"),
    (["--executor", f"dask://{'a' * 64}:8786"], "unknown executor"),
    (["--executor", "dask", "--dask-timeout", "nan"], "got nan"),
    (["--executor", "dask", "--dask-timeout", "-5"], "(0, 86400], got -5.0"),
    (["--executor", "dask", "--dask-timeout", "0"], "got 0.0"),
])  # fmt: skip
def test_bad_dask_addresses_and_timeouts_are_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["train", "--m", "20", "--n", "5", "--epochs", "2", *argv, "--out",
                     str(tmp_path / "out")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
