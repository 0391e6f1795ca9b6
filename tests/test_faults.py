"""Faults and sharing: bad output folders, broken or locked stores, a full disk, two
processes on one store, input that tries to pull outside files into the report."""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlpbench import cli, engines
from mlpbench.config.core import Config
from mlpbench.engines.harness import diverged
from mlpbench.experiment import store

MLPBENCH = [sys.executable, "-m", "mlpbench.cli"]


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def _rows(out):
    with sqlite3.connect(out / "mlpbench.sqlite") as conn:
        return conn.execute("SELECT config_key, engine, seed FROM runs").fetchall()


@pytest.fixture
def stored(tiny_study, tmp_path, capsys):
    """An output folder holding the tiny study's 9 runs."""
    out = tmp_path / "out"
    assert _run(["run", str(tiny_study), "--out", str(out), "--engine", "numpy"], capsys)[0] == 0
    return out


def test_out_that_is_a_file_or_under_one(tiny_study, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    for out in (a_file, a_file / "sub"):
        code, _, err = _run(["run", str(tiny_study), "--out", str(out)], capsys)
        assert code == 2 and len(err) == 1 and f"{a_file} is a file" in err[0]
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (os.urandom(4096), "is not an mlpbench store"),
        ("sqlite", "another schema"),
        ("truncated", "is not an mlpbench store|is corrupted"),
    ],
)
def test_a_broken_store_is_one_line_and_left_alone(content, problem, stored, capsys):
    db = stored / "mlpbench.sqlite"
    if content == "sqlite":
        db.unlink()
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE runs (x INTEGER)")
    elif content == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    for argv in (["run", "seed", "--tables", "1", "--runs", "1"], ["report"], ["export"],
                 ["train", "--epochs", "2", "--m", "20", "--n", "5"]):  # fmt: skip
        code, _, err = _run([*argv, "--out", str(stored)], capsys)
        assert code == 2 and len(err) == 1, err
        assert re.search(problem, err[0]) and str(db) in err[0], err
    assert db.read_bytes() == before


def test_a_store_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "mlpbench.sqlite").mkdir()
    code, _, err = _run(["train", "--epochs", "2", "--out", str(tmp_path)], capsys)
    assert code == 2 and len(err) == 1 and "is a folder, not an mlpbench store" in err[0]


def test_report_and_export_never_write_into_a_store(tmp_path, capsys):
    db = tmp_path / "mlpbench.sqlite"
    db.touch()
    assert _run(["report", "--out", str(tmp_path)], capsys)[0] == 2
    assert _run(["export", "--out", str(tmp_path)], capsys)[0] == 2
    assert db.stat().st_size == 0 and sorted(tmp_path.iterdir()) == [db]


def test_a_locked_store_waits_then_says_so(stored, capsys, monkeypatch):
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(stored / "mlpbench.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = _run(["train", "--epochs", "2", "--m", "20", "--n", "5", "--out",
                             str(stored), "--engine", "numpy"], capsys)  # fmt: skip
    finally:
        holder.rollback()
        holder.close()
    assert code == 2 and len(err) == 1 and "is locked by another process" in err[0]
    assert len(_rows(stored)) == 9


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from mlpbench import cli
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not kills
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.exit(cli.main(sys.argv[2:]))
""")


def test_a_full_disk_keeps_the_stored_runs(stored):
    """The disk fills while a study's second group is saved (a size-limited file: no mount
    needed): one line, a non-zero exit, and the runs stored before are intact."""
    db = stored / "mlpbench.sqlite"
    size = db.stat().st_size
    study = stored.parent / "more.toml"
    study.write_text('runs = 30\n[defaults]\nm = 60\nn = 20\nepochs = 200\n[[tables]]\n'
                     'number = 1\n[[tables.columns]]\nlabel = "a"\nlr = 2.0\n'
                     '[[tables.columns]]\nlabel = "b"\nlr = 3.0\n')  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(size + 40_000), "run", str(study), "--out",
         str(stored), "--engine", "numpy"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    err = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(err) == 1, proc.stderr
    assert re.search("disk is full|disk I/O error|File too large", err[0]), err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(_rows(stored)) >= 9


def test_a_failed_run_leaves_the_last_study_and_its_report(stored, tiny_study, capsys):
    report = (stored / "report.md").read_text()
    code, _, _ = _run(["run", "seed", "--tables", "9", "--out", str(stored)], capsys)
    assert code == 2
    assert _run(["report", "--out", str(stored)], capsys)[0] == 0
    assert (stored / "report.md").read_text() == report


def test_report_of_a_study_with_no_stored_runs_leaves_the_report(stored, tmp_path, capsys):
    report = (stored / "report.md").read_text()
    other = tmp_path / "other.toml"
    other.write_text('[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = "x"\nlr = 7.0\n')
    code, _, err = _run(["report", str(other), "--out", str(stored)], capsys)
    assert code == 2 and len(err) == 1 and "no runs of study 'other'" in err[0]
    assert (stored / "report.md").read_text() == report


def test_a_study_cannot_put_a_local_file_into_the_report(tmp_path, capsys):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"TOP-SECRET-BYTES-1234567890")
    link = f"![x]({secret})"
    study = tmp_path / "evil.toml"
    study.write_text(
        textwrap.dedent(f"""
        title = "{link}"
        runs = 2
        [defaults]
        m = 20
        n = 5
        epochs = 2
        [[tables]]
        number = 1
        title = "{link}"
        note = "{link}\\n{link}"
        [[tables.columns]]
        label = "{link}"
        [[tables.claims]]
        text = "{link}"
        checks = [{{ kind = "greater", metric = "test_accuracy", a = "{link}", b = "{link}" }}]
    """)
    )
    out = tmp_path / "out"
    assert _run(["run", str(study), "--out", str(out), "--engine", "numpy"], capsys)[0] == 0
    encoded = base64.b64encode(secret.read_bytes()).decode()
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"TOP-SECRET" not in data and encoded[:20].encode() not in data, path
    html = (out / "report.html").read_text()
    assert html.count("<img ") == 4  # the four plots drawn for table 1, nothing else
    assert "![x](" in html  # the user's text, shown as typed


def test_stray_temporary_files_of_dead_processes_are_removed(stored, capsys):
    stray = stored / "plots" / "table-1-boundary.999999999.tmp.png"
    stray.write_bytes(b"half a png")
    assert _run(["report", "--out", str(stored)], capsys)[0] == 0
    assert not stray.exists()


def test_two_processes_share_the_work_of_one_store(tmp_path):
    columns = "".join(f'[[tables.columns]]\nlabel = "c{i}"\nlr = {i + 1}.0\n' for i in range(8))
    study = tmp_path / "shared.toml"
    study.write_text(f"runs = 4\n[defaults]\nm = 200\nn = 20\nepochs = 300\nbatch_size = 20\n"
                     f"[[tables]]\nnumber = 1\n{columns}")  # fmt: skip
    out = tmp_path / "out"
    argv = [*MLPBENCH, "run", str(study), "--out", str(out), "--engine", "numpy"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    trained = [int(re.search(r"(\d+) runs trained", err)[1]) for _, err in outputs]
    rows = _rows(out)
    assert len(rows) == len(set(rows)) == 32  # every run once
    assert sum(trained) == 32, trained  # together they trained the study once, not twice
    assert not list((out / "plots").glob("*.tmp.*"))


def test_a_killed_process_claim_lapses(tmp_path):
    study = tmp_path / "slow.toml"
    study.write_text('runs = 1\n[defaults]\nm = 200\nn = 20\nbatch_size = 1\nepochs = 100000\n'
                     '[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = "slow"\n')  # fmt: skip
    out = tmp_path / "out"
    argv = [*MLPBENCH, "run", str(study), "--out", str(out), "--engine", "numpy"]
    first = subprocess.Popen(argv, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for its claim
        db = out / "mlpbench.sqlite"
        if db.exists():
            with sqlite3.connect(db) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                if "leases" in tables and conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0]:
                    break
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    with store.Store(out) as s:
        from mlpbench.config.core import Job

        job = Job(Config(m=200, n=20, batch_size=1, epochs=100000), "numpy")
        assert s.claim([job])  # the dead owner's lease does not hold


def test_dask_scheduler_without_workers_gives_up(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        argv = ["train", "--epochs", "2", "--out", str(tmp_path / "out"), "--executor",
                f"dask://{address}", "--dask-timeout", "1"]  # fmt: skip
        code, _, err = _run(argv, capsys)
    assert code == 2 and err[-1].startswith("mlpbench: error: no Dask worker joined")
    assert len([line for line in err if "error" in line]) == 1
    assert not (tmp_path / "out").exists()


def test_a_bad_keras_backend_is_one_line(tmp_path):
    if not engines.available("keras"):
        pytest.skip("Keras is not installed")
    env = {**os.environ, "KERAS_BACKEND": "bogus"}
    argv = [*MLPBENCH, "train", "--engine", "keras", "--epochs", "2", "--out", str(tmp_path / "o")]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "bogus" in err[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_one_divergence_rule_for_every_engine():
    config = Config(m=60, n=20, activation="relu", loss="mse", lr=1e200, epochs=50)
    names = [n for n in ("numpy", "numba") if engines.available(n)]
    flags = {n: [r.diverged for r in engines.train(n, config, range(5))] for n in names}
    assert all(flags[n] == [True] * 5 for n in names), flags
    curve = [0.7, 0.5, 1e300]
    assert diverged(curve, [[1.0]], 0.5)  # a loss of 1e300 has diverged
    assert not diverged([0.7, 0.5, 0.3], [[1.0]], 0.3)
    assert diverged([0.7, 0.5, 0.3], [[1e13]], 0.3)


def test_all_diverged_columns_are_not_comparable(tmp_path, capsys):
    study = tmp_path / "blowup.toml"
    study.write_text('runs = 3\n[defaults]\nm = 40\nn = 10\nepochs = 20\n[[tables]]\n'
                     'number = 1\n[[tables.columns]]\nlabel = "ok"\nlr = 1.0\n'
                     '[[tables.columns]]\nlabel = "boom"\nlr = 1e300\n'
                     '[[tables.claims]]\ntext = "ok wins"\nchecks = [{ kind = "greater", '
                     'metric = "test_accuracy", a = "ok", b = "boom" }]\n')  # fmt: skip
    out = tmp_path / "out"
    argv = ["run", str(study), "--out", str(out), "--engine", "numpy", "--format", "markdown"]
    code, text, _ = _run(argv, capsys)
    assert code == 0
    assert "not comparable" in text and "nan" not in text.split("## Environment")[1].lower()
    assert '"ok wins": **not testable here**' in text
    code, exported, _ = _run(["export", "--format", "json", "--out", str(out)], capsys)
    json.loads(exported, parse_constant=pytest.fail)


def test_large_tables_compare_each_column_with_the_first(tmp_path, capsys):
    columns = "".join(f'[[tables.columns]]\nlabel = "c{i}"\nlr = {i + 1}.0\n' for i in range(13))
    study = tmp_path / "wide.toml"
    study.write_text(f"runs = 2\n[defaults]\nm = 20\nn = 5\nepochs = 2\n[[tables]]\n"
                     f"number = 1\n{columns}")  # fmt: skip
    code, text, _ = _run(["run", str(study), "--out", str(tmp_path / "o"), "--engine",
                          "numpy", "--format", "markdown"], capsys)  # fmt: skip
    assert code == 0
    assert "compared with c0 only (more than 12 columns)" in text
    comparisons = text.split("#### Table 1: paired comparisons")[1].split("####")[0]
    assert comparisons.count("| c0 − c") == 12 * 2  # 12 pairs, two metrics
    assert "| c1 − c2" not in comparisons


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--tables", ","], "--tables names no table"),
        (["train", "--engine", ""], "unknown engine ''"),
        (["train", "--out", ""], "the output folder must be named"),
        (["data", "--out", ""], "the output folder must be named"),
        (["train", "--seed", "-1"], "seed must be an integer >= 0, got -1"),
        (["train", "--seed", str(2**63)], "run past the largest seed"),
        (["train", "--epochs", "1000000000000"], "epochs must be at most 10000000 per run"),
        (["train", "--epochs", "1000000000", "--m", "1"], "epochs must be at most"),
        (["train", "--m", "1000000000"], "need about"),
        (["train", "--hidden", "1000000000"], "hidden layer size must be an integer in [1, "),
        (["train", "--hidden", "100000,100000"], "need about"),
        (["train", "--runs", "1000000000"], "runs must be at most 100000, got 1000000000"),
        (["train", "--runs", "100000", "--epochs", "100000"], "need about"),
        (["data", "--seed", "-3"], "seed must be an integer >= 0"),
        (["train", "--executor", "dask://host:notaport"], "unknown executor"),
        (["train", "--executor", "dask://tls://host:8786"], "unknown executor"),
        (["train", "--executor", "dask://host"], "unknown executor"),
    ],
)
def test_small_ones(argv, message, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")] if "--out" not in argv else []
    code, _, err = _run([*argv, *out], capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_to_a_closed_standard_output_is_one_line(stored, fmt):
    """`mlpbench export >&-`: Python's sys.stdout is None, which once ended in a traceback."""
    command = " ".join([*MLPBENCH, "export", "--out", str(stored), "--format", fmt]) + " >&-"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "standard output, which is closed" in proc.stderr


KILLED_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("BEGIN IMMEDIATE")
conn.execute("DELETE FROM runs")
conn.execute("CREATE TABLE spill(x)")  # enough pages that SQLite writes the file mid-transaction
conn.executemany("INSERT INTO spill VALUES (?)", [(b"x" * 4000,)] * 3000)
os._exit(9)
"""


def test_a_writer_killed_mid_transaction_is_rolled_back_by_export(tmp_path, capsys):
    """The hot journal a killed writer leaves made read-only commands say the store was
    read-only; they now roll it back, and the last committed runs are all there."""
    out = tmp_path / "out"
    argv = ["train", "--m", "30", "--n", "10", "--epochs", "3", "--runs", "2", "--engine",
            "numpy", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    db = out / "mlpbench.sqlite"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], timeout=120)
    assert (out / "mlpbench.sqlite-journal").stat().st_size > 0  # a hot journal is left
    capsys.readouterr()
    assert cli.main(["export", "--out", str(out), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert not (out / "mlpbench.sqlite-journal").exists()


@pytest.mark.parametrize(("column", "value", "said"), [
    ("loss_curve", b"1234567", "run 1's loss_curve is not what mlpbench writes (b'1234567')"),
    ("config", "null", "run 1's config is not what mlpbench writes ('null')"),
    ("test_accuracy", "high", "run 1's test_accuracy is not what mlpbench writes ('high')"),
    ("params", "{", "run 1's params is not what mlpbench writes ('{')"),
    ("curves", '{"penalty": [1, 2]}', "run 1's curves is not what mlpbench writes"),
    ("curves", '{"other": [1, 2, 3]}', "run 1's curves is not what mlpbench writes"),
    ("curves", '{"penalty": ["a", 2, 3]}', "run 1's curves is not what mlpbench writes"),
    ("curves", "[]", "run 1's curves is not what mlpbench writes ('[]')"),
])  # fmt: skip
def test_a_corrupted_row_is_one_line_naming_it(tmp_path, capsys, column, value, said):
    out = tmp_path / "out"
    argv = ["train", "--m", "30", "--n", "10", "--epochs", "3", "--runs", "2", "--engine",
            "numpy", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    with sqlite3.connect(out / "mlpbench.sqlite") as conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE id = 1", (value,))
    capsys.readouterr()
    assert cli.main(["export", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0], err


def test_a_last_study_record_without_its_engine_is_one_line(stored, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(stored, copy)
    with sqlite3.connect(copy / "mlpbench.sqlite") as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'last_study'").fetchone()
        last = json.loads(value)
        del last["engine"]
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_study'", (json.dumps(last),))
    assert cli.main(["report", "--out", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "record of the last study is corrupted (no engine)" in err[0], err


def test_a_folder_where_report_html_goes_is_one_line_and_nothing_is_rewritten(stored, capsys):
    (stored / "report.html").unlink()
    (stored / "report.html").mkdir()
    before = (stored / "report.md").read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in (stored / "plots").iterdir()}
    code, _, err = _run(["report", "--out", str(stored)], capsys)
    assert code == 2 and err == [
        f"mlpbench: error: cannot write {stored / 'report.html'}: a folder is in its place; "
        "move it away"]  # fmt: skip
    assert (stored / "report.md").read_bytes() == before
    assert {p.name: p.stat().st_mtime_ns for p in (stored / "plots").iterdir()} == stamps


@pytest.mark.parametrize("errno_", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_met_while_writing_the_report_names_the_file(stored, capsys, monkeypatch,
                                                                   errno_):  # fmt: skip
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.startswith("report.") and ".tmp." in self.name:
            raise OSError(errno_, os.strerror(errno_))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    code, _, lines = _run(["report", "--out", str(stored)], capsys)
    assert code == 2 and len(lines) == 1, lines
    said = f"cannot write {stored / 'report.md'}: {os.strerror(errno_)}"
    assert lines[0] == f"mlpbench: error: {said}"
    assert not list(stored.glob("*.tmp.*"))
