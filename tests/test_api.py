"""The Python API: train and load_study return objects that match the CLI, print as HTML in
notebooks and plot; the README's example runs as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import mlpbench as mb
from mlpbench import cli

README = Path(__file__).parents[1] / "README.md"
STEADY = ("train_accuracy", "test_accuracy", "train_loss", "test_loss")  # not timings


def test_importing_the_package_loads_no_framework_and_no_plotting():
    code = ("import sys, mlpbench; heavy = [m for m in ('tensorflow', 'jax', 'numba', "
            "'matplotlib', 'scipy') if m in sys.modules]; "
            "print(heavy, sorted(mlpbench.__all__))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("[] ") and "'train'" in out.stdout and "'load_study'" in out.stdout


def test_train_matches_the_cli(tmp_path, capsys):
    r = mb.train(lr=10, runs=3, epochs=30, m=60, n=20, engine="numpy")
    argv = ["train", "--lr", "10", "--runs", "3", "--epochs", "30", "--m", "60", "--n", "20",
            "--engine", "numpy", "--json", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)["metrics"]
    for metric in STEADY:
        assert r.metrics[metric] == printed[metric]
    assert set(r.metrics) == set(printed)
    assert [run.seed for run in r.runs] == [0, 1, 2] and r.curves.shape == (3, 30)
    np.testing.assert_array_equal(r.curves[1], r.runs[1].loss_curve)


def test_result_frame_plots_and_html():
    r = mb.train(lr=5, runs=2, epochs=10, m=40, n=10, engine="numpy", seed=7)
    frame = r.to_pandas()
    assert list(frame["seed"]) == [7, 8] and frame.shape == (2, 9)
    assert frame["test_accuracy"].tolist() == [run.metrics["test_accuracy"] for run in r.runs]
    for figure in (r.plot_boundary(), r.plot_curves()):
        assert isinstance(figure, Figure) and figure.axes
    page = r._repr_html_()
    assert "<table>" in page and "test accuracy" in page and "2 runs on numpy" in page
    # the interval is on its own line even in a notebook, which has none of the report's CSS
    assert re.search(r'% ± [0-9.]+%<span class="sub" style="display: block">\[', page)


def test_a_penalty_has_its_own_curves_drawn_dashed_beside_the_loss():
    r = mb.train(l1=1e-3, l2=1e-2, runs=2, epochs=10, m=40, n=10, engine="numpy")
    assert r.penalty_curves.shape == r.curves.shape == (2, 10)
    assert (r.penalty_curves > 0).all()
    assert mb.train(runs=2, epochs=10, m=40, n=10, engine="numpy").penalty_curves is None
    (ax,) = r.plot_curves().axes
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"numpy (2 runs)": "-", "numpy: weight penalty": "--"}
    assert "dashed: weight penalty" in ax.get_title()


def test_to_pandas_without_pandas_says_how_to_install(monkeypatch):
    r = mb.train(runs=1, epochs=2, m=20, n=5, engine="numpy")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'mlpbench\[pandas\]'"):
        r.to_pandas()


def test_bad_arguments_raise_usage_error_with_the_cli_message(tmp_path, capsys):
    with pytest.raises(mb.UsageError) as e:
        mb.train(lr=-1.0)
    assert isinstance(e.value, ValueError)
    assert cli.main(["train", "--lr", "-1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"mlpbench: error: {e.value}"
    with pytest.raises(mb.UsageError, match="unknown configuration field"):
        mb.train(dampening=0.9)
    with pytest.raises(mb.UsageError, match=r"field\(s\): mometum \(did you mean momentum\?\)"):
        mb.train(mometum=0.9)
    with pytest.raises(mb.UsageError, match="cannot read study file"):
        mb.load_study(tmp_path / "missing.toml")


def test_a_study_runs_and_reports(tiny_study, tmp_path):
    study = mb.load_study(tiny_study)
    assert study.name == "tiny" and [t.number for t in study.tables] == [1, 2]
    assert "<table>" in study._repr_html_()
    result = study.run(runs=2, engine="numpy", out=tmp_path)
    assert result.trained == 6
    cell = result.table("loss").cell("BCE", "test_accuracy")
    assert cell.count == 2 and cell.ci_low <= cell.mean <= cell.ci_high
    assert result.table(2).table.name == "batch"
    with pytest.raises(mb.UsageError, match="no column 'XYZ'"):
        result.table(1).cell("XYZ", "test_accuracy")
    assert result.claims == []
    assert not (tmp_path / "report-runs-2.html").exists()  # nothing written until asked
    assert result.write_report() == tmp_path / "report-runs-2.html"  # a part of the study
    assert (tmp_path / "report-runs-2.md").exists() and not (tmp_path / "report.md").exists()
    page = result._repr_html_()
    assert "Table 1: Loss functions" in page and "BCE" in page
    again = mb.load_study(tiny_study).run(runs=2, engine="numpy", out=tmp_path)
    assert again.trained == 0  # reused from the store


@pytest.mark.parametrize("page", [README, README.parent / "docs" / "api.md"],
                         ids=lambda p: p.name)  # fmt: skip
def test_the_readme_python_example_runs(page, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks, f"{page.name} has a Python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, page.name, "exec"), {})
    assert (tmp_path / "results" / "report-tables-1-runs-5.html").exists()


def test_train_takes_one_keyword_per_field_with_its_default():
    import inspect

    from mlpbench.config.fields import FIELDS

    parameters = inspect.signature(mb.train).parameters
    for f in FIELDS:
        assert parameters[f.name].default == f.default, f.name
        assert parameters[f.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert f"\n    {f.name}: {f.text}." in mb.train.__doc__
    assert {"runs", "engine", "seed", "out", "dtype"} <= set(parameters)


def test_the_api_takes_what_a_python_user_passes(tiny_study, tmp_path):
    """NumPy integers, paths, and tables as ints, names or lists, as the CLI's text would."""
    result = mb.train(runs=np.int64(2), seed=np.int32(1), m=np.int64(30), n=np.uint8(10),
                      hidden=[np.int64(3)], batch_size=np.int16(10), epochs=np.int64(3),
                      lr=np.float32(0.5), engine="numpy", out=tmp_path / "t")  # fmt: skip
    assert result.job.config.m == 30 and result.job.config.hidden == (3,)
    assert result.seeds == [1, 2] and (tmp_path / "t").is_dir()
    study = mb.load_study(tiny_study)
    for tables, trained in ((1, 4), ([1, "batch"], 2), (["loss"], 0), ((np.int64(2),), 0)):
        assert study.run(tables=tables, runs=2, engine="numpy", out=tmp_path / "s").trained == \
            trained, tables  # fmt: skip


@pytest.mark.parametrize(("call", "message"), [
    (lambda s, t: s.run(tables=[1.5], engine="numpy", out=t),
     "tables must be a table number or name, or a list of them, got [1.5]"),
    (lambda s, t: s.run(tables=True, engine="numpy", out=t), "got True"),
    (lambda s, t: s.run(tables=[], engine="numpy", out=t), "got []"),
    (lambda s, t: s.run(engine=["numpy"], out=t), "engine must be a name (a string), got "
     "['numpy']"),
    (lambda s, t: s.run(engine="numpy", out=123), "out must be a folder's path (a string or "
     "pathlib.Path), got 123"),
    (lambda s, t: mb.train(engine="numpy", dtype=64, out=t), "dtype must be a name"),
    (lambda s, t: mb.load_study(7), "a study is a bundled study's name or a TOML file's path"),
])  # fmt: skip
def test_a_wrong_kind_of_api_argument_is_one_usage_error(tiny_study, tmp_path, call, message):
    with pytest.raises(mb.UsageError) as e:
        call(mb.load_study(tiny_study), tmp_path)
    assert message in str(e.value)
    assert not (tmp_path / "mlpbench.sqlite").exists()


def test_an_unknown_metric_of_a_cell_is_a_usage_error(tiny_study, tmp_path):
    result = mb.load_study(tiny_study).run(tables=1, runs=2, engine="numpy", out=tmp_path)
    with pytest.raises(mb.UsageError, match=r"unknown metric 'bogus'; allowed: .*test_accuracy"):
        result.table(1).cell("BCE", "bogus")
