"""A user's own data: CSV files in, the same tables out; every bad file is one line."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpbench import cli
from mlpbench.config.core import Config
from mlpbench.data.dataset import make_dataset
from mlpbench.data.tables import parse_csv
from mlpbench.errors import UsageError
from mlpbench.experiment.study import parse_study


def _csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


def _binary(path, count=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (count, 3))
    label = np.where(x[:, 0] ** 2 > x[:, 1], "yes", "no")
    return _csv(path, ["a", "b", "c", "answer"], [[*p, c] for p, c in zip(x.round(4), label)])


def _three(path, count=60, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (count, 4))
    label = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.3) * 1 + 1  # classes 1, 2, 3
    return _csv(path, ["label", "p", "q", "r", "s"], [[c, *p] for p, c in zip(x.round(4), label)])


def _train(argv, capsys):
    code = cli.main(["train", "--epochs", "30", "--runs", "2", "--json", *argv])
    captured = capsys.readouterr()
    return code, captured


def test_binary_csv_trains_and_reports(tmp_path, capsys):
    path = _binary(tmp_path / "mine.csv")
    code, captured = _train(["--data", str(path), "--optimizer", "adam", "--lr", "0.05",
                             "--out", str(tmp_path / "out")], capsys)  # fmt: skip
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["config"]["m"] == 48 and result["config"]["n"] == 12  # 80/20 of 60 rows
    assert len(result["config"]["file_sha256"]) == 64
    assert 50 <= result["metrics"]["test_accuracy"]["mean"] <= 100


def test_multiclass_csv_with_a_named_target_and_a_test_file(tmp_path, capsys):
    train, test = _three(tmp_path / "train.csv"), _three(tmp_path / "test.csv", 20, seed=9)
    argv = ["--data", str(train), "--test", str(test), "--target", "label", "--loss", "cce",
            "--optimizer", "adam", "--lr", "0.05", "--hidden", "8", "--out", str(tmp_path / "o")]
    code, captured = _train(argv, capsys)
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert (result["config"]["m"], result["config"]["n"]) == (60, 20)  # every row of each file
    config = Config(data=str(train), test=str(test), target="label", loss="cce")
    assert config.layer_sizes == (4, 3, 3) and config.info.classes == ("1", "2", "3")
    # a fixed file: every seed sees the same rows (only the weights and order change)
    a, b = make_dataset(config, 0), make_dataset(config, 5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert a.y_train.shape == (60, 3) and set(a.y_train.sum(axis=1)) == {1.0}


def test_inputs_are_standardised_on_the_train_part_unless_asked_not_to(tmp_path):
    path = _binary(tmp_path / "d.csv")
    scaled = make_dataset(Config(data=str(path)), 3)
    np.testing.assert_allclose(scaled.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.x_train.std(axis=0), 1, atol=1e-12)
    raw = make_dataset(Config(data=str(path), scale="none"), 3)
    assert raw.x_train.min() >= -2 and raw.x_train.max() <= 2
    # the split is seeded: another seed, other rows for training
    assert not np.array_equal(raw.x_train, make_dataset(Config(data=str(path), scale="none"),
                                                        4).x_train)  # fmt: skip


def test_minmax_maps_the_train_parts_range_to_0_1_and_the_test_part_by_the_same(tmp_path):
    path = _csv(tmp_path / "m.csv", ["a", "b", "c", "y"],
                [[i, 10 - 2 * i, 7, i % 2] for i in range(10)])  # fmt: skip
    config = Config(data=str(path), scale="minmax", m=6, n=4)
    data = make_dataset(config, 0)
    assert data.x_train.min(axis=0).tolist() == [0, 0, 0]  # the constant column stays at 0
    assert data.x_train.max(axis=0).tolist() == [1, 1, 0]
    raw = make_dataset(config.replace(scale="none"), 0)
    low, high = raw.x_train.min(axis=0), raw.x_train.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    np.testing.assert_array_equal(data.x_test, (raw.x_test - low) / span)  # may leave [0, 1]
    generated = make_dataset(Config(data="circle", scale="minmax", m=50, n=5), 1).x_train
    assert generated.min() == 0 and generated.max() == 1


def test_a_changed_file_is_another_configuration(tmp_path, capsys):
    path, out = _binary(tmp_path / "d.csv"), str(tmp_path / "out")
    before = Config(data=str(path)).key()
    assert _train(["--data", str(path), "--out", out], capsys)[0] == 0
    _binary(path, seed=5)  # same name, other rows
    assert Config(data=str(path)).key() != before
    assert _train(["--data", str(path), "--out", out], capsys)[0] == 0
    exported = cli.main(["export", "--out", out, "--format", "json"])
    assert exported == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 4  # two runs per file content, never mixed
    assert sum(r["data_sha256"] is None for r in runs) == 2  # the old file's points are gone



def _flipped(path, flip=False):
    """60 rows of two classes 0/1; flipped: the same bytes but every label swapped (same size)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (60, 2)).round(4)
    label = (x[:, 0] ** 2 > x[:, 1]).astype(int) ^ flip
    return _csv(path, ["a", "b", "y"], [[*p, c] for p, c in zip(x, label)])


def _study(tmp_path, data):
    columns = "".join(f'\n[[tables.columns]]\nlabel = "lr {lr}"\nlr = {lr}\n'
                      for lr in (0.5, 1.5, 3.0))  # fmt: skip
    text = (f'runs = 2\n[defaults]\ndata = "{data}"\nepochs = 40\nbatch_size = 4\n'
            f'[[tables]]\nnumber = 1\nname = "t"\ntitle = "t"\nrows = ["accuracy"]\n{columns}')
    return str(_csv_text(tmp_path / "s.toml", text))


def _csv_text(path, text):
    path.write_text(text)
    return path


def _accuracies(out, capsys):
    assert cli.main(["export", "--out", out, "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    return sorted((r["column"], r["seed"], r["test_accuracy"]) for r in runs
                  if r["data_sha256"] is not None)  # runs on the file as it is now


def test_a_file_changed_while_the_study_runs_is_never_stored_as_the_new_file(
    tmp_path, capsys, monkeypatch
):
    """The issue's probe: d.csv rewritten (same size, labels swapped) while column 2 trains."""
    from mlpbench import engines

    data = _flipped(tmp_path / "d.csv")
    study, out = _study(tmp_path, data), str(tmp_path / "out")
    real, calls = engines.train, []

    def train_then_rewrite(*args, **kwargs):
        results = real(*args, **kwargs)  # column 2 trained on the rows it read
        calls.append(args[1].lr)
        if len(calls) == 2:
            _flipped(data, flip=True)
            stamp = data.stat().st_mtime_ns + 10**9
            os.utime(data, ns=(stamp, stamp))
        return results

    monkeypatch.setattr(engines, "train", train_then_rewrite)
    assert cli.main(["run", study, "--out", out, "--engine", "numpy"]) == 2
    err = capsys.readouterr().err.strip()
    assert "changed while the study ran" in err and "d.csv" in err and "\n" not in err
    assert calls == [0.5, 1.5]  # column 3 never trained on the new rows under the old key
    monkeypatch.setattr(engines, "train", real)
    assert cli.main(["run", study, "--out", out, "--engine", "numpy"]) == 0
    fresh = str(tmp_path / "fresh")
    assert cli.main(["run", study, "--out", fresh, "--engine", "numpy"]) == 0
    capsys.readouterr()
    assert _accuracies(out, capsys) == _accuracies(fresh, capsys)  # every column anew


def test_a_config_keeps_the_sha256_it_read_and_training_checks_it(tmp_path):
    data = _flipped(tmp_path / "d.csv")
    config = Config(data=str(data))
    before = config.key()
    _flipped(data, flip=True)
    stamp = data.stat().st_mtime_ns + 10**9
    os.utime(data, ns=(stamp, stamp))
    assert config.key() == before  # the key is of the bytes it read, not of the file now
    with pytest.raises(UsageError, match="changed while the study ran"):
        make_dataset(config, 0)
    assert Config(data=str(data)).key() != before
    make_dataset(Config(data=str(data)), 0)  # read again: trains on the new rows

BAD = [
    ("missing.csv", None, [], "cannot read data file"),
    ("empty.csv", "", [], "is empty"),
    ("header.csv", "a,b,y\n", [], "has a header but no data rows"),
    ("word.csv", "a,b,y\n1,2,0\n3,x,1\n", [], "line 3, column 'b': 'x' is not a number; if "
     "column 'b' holds the labels, name it the target (--target b, or target = \"b\" in a "
     "study)"),
    ("nan.csv", "a,b,y\n1,nan,0\n3,4,1\n", [], "line 2, column 'b': 'nan' is not a finite"),
    ("inf.csv", "a,b,y\n1,2,0\n-inf,4,1\n", [], "line 3, column 'a': '-inf' is not a finite"),
    ("short.csv", "a,b,y\n1,2,0\n3,1\n", [], "line 3: 2 cells, the header has 3"),
    ("target.csv", "a,b,y\n1,2,0\n3,4,1\n", ["--target", "z"], "has no column 'z'; columns: a"),
    ("one.csv", "a,b,y\n1,2,0\n3,4,0\n", [], "holds one class only ('0')"),
    ("many.csv", "a,y\n" + "".join(f"{i},c{i}\n" for i in range(101)), [],
     "holds 101 classes; at most 100"),
    ("rows.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n", ["--m", "4"], "m + n = 4 + 1 is more than the 4"),
    ("binary.csv", "a,y\n1,0\n2,1\n3,2\n4,1\n", ["--loss", "bce"], "'bce' is for two classes"),
    ("bytes.csv", b"a,y\n\xff\xfe,1\n", [], "is not UTF-8 text"),
    ("twice.csv", "a,a,y\n1,2,0\n3,4,1\n", [], "column name(s) 'a' appear more than once"),
    ("huge.csv", "a,b,y\n1,1e308,0\n2,-1e308,1\n3,1,0\n4,2,1\n5,0,1\n", [],
     "column 'b': standardising values up to 1e+308 overflows float64"),
    ("square.csv", "a,b,y\n1,1e200,0\n2,1,1\n3,1,0\n4,2,1\n5,0,1\n", [],
     "column 'b': standardising values up to 1e+200 overflows"),  # its square does
    ("range.csv", "a,b,y\n1,1e308,0\n2,-1e308,1\n3,1,0\n4,2,1\n5,0,1\n", ["--scale", "minmax"],
     "column 'b': min-max scaling values up to 1e+308 overflows"),  # its range does
]


@pytest.mark.parametrize(("name", "text", "extra", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_csv_is_one_line_and_exit_2_and_nothing_written(
    tmp_path, capsys, name, text, extra, message
):
    path = tmp_path / name
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    code = cli.main(["train", "--data", str(path), "--epochs", "2", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and name in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_test_file_with_other_columns_or_classes_is_refused(tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", ["a", "b", "y"], [[1, 2, 0], [2, 3, 1], [3, 1, 0]])
    other = _csv(tmp_path / "other.csv", ["a", "c", "y"], [[1, 2, 0], [2, 3, 1]])
    novel = _csv(tmp_path / "novel.csv", ["a", "b", "y"], [[1, 2, 0], [2, 3, 7]])
    for test, message in ((other, "has columns a, c, y; the train file"),
                          (novel, "class '7' is not a class of the train file (0, 1)"),
                          (train, "n = 5 is larger than the 3 rows of 'train.csv'")):  # fmt: skip
        extra = ["--n", "5"] if test == train else []
        code = cli.main(["train", "--data", str(train), "--test", str(test), "--epochs", "2",
                         "--out", str(tmp_path / "out"), *extra])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
    assert not (tmp_path / "out").exists()


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path, capsys):
    import os

    fifo, folder = tmp_path / "pipe.csv", tmp_path / "dir.csv"
    os.mkfifo(fifo)
    folder.mkdir()
    for path in (fifo, folder):
        assert cli.main(["train", "--data", str(path), "--out", str(tmp_path / "o")]) == 2
        assert "is not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_target_and_test_apply_to_files_only(capsys, tmp_path):
    assert cli.main(["train", "--target", "y", "--out", str(tmp_path / "o")]) == 2
    assert "target applies to a CSV data file only" in capsys.readouterr().err


def test_a_study_reads_csv_relative_to_its_own_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    _three(folder / "three.csv")
    text = """
name = "mine"
runs = 2
[defaults]
data = "three.csv"
target = "label"
epochs = 5
[[tables]]
number = 1
name = "loss"
  [[tables.columns]]
  label = "CCE"
  loss = "cce"
  lr = 0.5
  [[tables.columns]]
  label = "MSE"
  loss = "mse"
  lr = 0.5
"""
    study = parse_study(text, str(folder / "mine.toml"))
    config = study.tables[0].columns[0].config
    assert config.data == str(folder / "three.csv") and config.layer_sizes == (4, 3, 3)
    with pytest.raises(Exception, match=r"tables\[0\]\.columns\[1\]\.loss: loss 'bce'"):
        parse_study(text.replace('loss = "mse"', 'loss = "bce"'), str(folder / "mine.toml"))


def test_a_csv_study_runs_and_reports_from_anywhere(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    _three(folder / "three.csv")
    _csv(folder / "one.csv", ["v", "label"], [[i, "ab"[i % 3 == 0]] for i in range(12)])
    study = folder / "mine.toml"
    study.write_text("""
name = "mine"
runs = 2
[defaults]
epochs = 5
[[tables]]
number = 1
name = "three"
  [[tables.columns]]
  label = "CCE"
  data = "three.csv"
  target = "label"
  loss = "cce"
  lr = 0.5
[[tables]]
number = 2
name = "one"
  [[tables.columns]]
  label = "one input"
  data = "one.csv"
  lr = 0.5
""")
    out = tmp_path / "out"
    monkeypatch.chdir(folder)
    assert cli.main(["run", "mine.toml", "--out", str(out), "--engine", "numpy"]) == 0
    for table in (1, 2):  # 4 inputs on principal components; one input along x1
        assert (out / "plots" / f"table-{table}-boundary.png").stat().st_size > 5000
    monkeypatch.chdir(tmp_path)  # the study's CSV paths stay relative to the study file
    capsys.readouterr()
    assert cli.main(["report", "--out", str(out)]) == 0, capsys.readouterr().err
    assert "### Table 2: one" in (out / "report.md").read_text()


@pytest.mark.parametrize(("labels", "classes", "index"), [
    (["1", "1.0", "01", "2", "2.00", "+1"], ("1", "2"), [0, 0, 0, 1, 1, 0]),
    (["10", "9", "-1", "-1", "9.0"], ("-1", "9", "10"), [2, 1, 0, 0, 1]),
    (["1", "1.0", "a"], ("1", "1.0", "a"), [0, 1, 2]),  # not all numbers: labels as written
    (["nan", "1"], ("1", "nan"), [1, 0]),
    # beyond 2^53 integers stay exact; a decimal is the float it parses to (...992)
    (["9007199254740993", "9007199254740992", "9007199254740993.0"],
     ("9007199254740992", "9007199254740993"), [1, 0, 0]),
])  # fmt: skip
def test_numeric_labels_are_classes_by_value(labels, classes, index):
    raw = "x,y\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels))
    table = parse_csv(raw.encode(), "t.csv", "")
    assert table.classes == classes
    assert table.labels.tolist() == index


@pytest.mark.parametrize(("labels", "message"), [
    ([f"{0.37 * i:.2f}" for i in range(60)], "holds numbers that are not whole ('0.37', "
                                             "'0.74', '1.11'): a continuous target"),
    (["1", "2", ".5"] * 4, "numbers that are not whole ('0.5')"),
    ([str(i % 40) for i in range(60)], "holds 40 distinct values in 60 rows: a continuous"),
])  # fmt: skip
def test_a_continuous_target_is_refused_not_trained_as_classes(labels, message):
    raw = "x,y\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels))
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_csv(raw.encode(), "t.csv", "")
    # at the boundary: 10 whole-number classes, or half the rows, are still classes
    assert len(parse_csv(("x,y\n" + "".join(f"{i},{i % 10}\n" for i in range(12))).encode(),
                         "t.csv", "").classes) == 10  # fmt: skip
    assert len(parse_csv(("x,y\n" + "".join(f"{i},{i % 15}\n" for i in range(30))).encode(),
                         "t.csv", "").classes) == 15  # fmt: skip


def test_a_test_files_numeric_labels_match_the_train_files_by_value():
    train = parse_csv(b"x,y\n0,0\n1,1\n2,2\n", "train.csv", "")
    test = parse_csv(b"x,y\n0,2.0\n1,0.0\n2,1e0\n", "test.csv", "", train.classes)
    assert test.classes == ("0", "1", "2") and test.labels.tolist() == [2, 0, 1]
    words = parse_csv(b"x,y\n0,a\n1,1\n", "train.csv", "")
    with pytest.raises(UsageError, match=r"class '1\.0' is not a class of the train file"):
        parse_csv(b"x,y\n0,1.0\n", "test.csv", "", words.classes)


def test_huge_unscaled_inputs_train_and_report_with_their_panels_left_out(tmp_path, capsys):
    """scale = "none" keeps 1e307 inputs as they are: the runs saturate, the boundary plot
    says which columns it cannot draw instead of failing on infinite axis limits."""
    rows = "".join(f"{(-1) ** i * 1e307 * (i % 3)},{i % 5},{i % 2}\n" for i in range(30))
    data = tmp_path / "huge.csv"
    data.write_text("a,b,y\n" + rows)
    study = tmp_path / "s.toml"
    study.write_text(f'runs = 2\n[defaults]\ndata = "{data}"\nscale = "none"\nepochs = 5\n'
                     '[[tables]]\nnumber = 1\nname = "t"\ntitle = "t"\nrows = ["accuracy"]\n'
                     '[[tables.columns]]\nlabel = "sgd"\n')  # fmt: skip
    code = cli.main(["run", str(study), "--out", str(tmp_path / "out"), "--engine", "numpy"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "plots" / "table-1-boundary.png").stat().st_size > 0
    with pytest.raises(UsageError, match="column 'a': standardising values up to 2e"):
        Config(data=str(data))  # scaled, the same file is refused before any run


def _careful(raw: bytes, target: str = "", classes: tuple[str, ...] = ()):
    """The cell-by-cell reader's table of the same bytes, as parse_csv falls back to it."""
    from mlpbench.data import tables

    body = raw.removeprefix(b"\xef\xbb\xbf")
    header, t = tables._header(body.decode().splitlines()[0], "f.csv", target)
    x, labels = tables._careful_rows(body.decode(), "f.csv", header, t)
    columns = (*[h for j, h in enumerate(header) if j != t], header[t])
    numeric = not classes or tables._values(list(classes)) is not None
    return tables._table(x, labels, columns, classes, numeric, "f.csv", "")


LABELS = st.one_of(st.integers(-5, 5).map(str), st.sampled_from(["a", "b", "#c", " d ", "1.0",
                   "01", "2e0", str(2**60), str(2**60 + 1)]))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), LABELS),
                     min_size=2, max_size=30),
       newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), blank=st.booleans(),
       target=st.sampled_from(["", "u", "y"]))  # fmt: skip
def test_the_fast_reader_reads_every_plain_file_as_the_careful_one(rows, newline, bom, blank,
                                                                    target):  # fmt: skip
    lines = ["u,v,y", *(f"{u!r}, {v!r},{label}" for u, v, label in rows)]
    raw = (("\ufeff" if bom else "") + newline.join(lines) + newline + (newline if blank else "")
           ).encode()  # fmt: skip
    try:
        want = _careful(raw, target)
    except UsageError as e:
        with pytest.raises(UsageError) as got:
            parse_csv(raw, "f.csv", target)
        assert str(got.value) == str(e)
        return
    got = parse_csv(raw, "f.csv", target)
    np.testing.assert_array_equal(got.x, want.x)
    assert got.labels.tolist() == want.labels.tolist() and got.classes == want.classes
    assert got.columns == want.columns


def test_a_row_with_cells_past_the_header_is_refused_naming_its_line():
    with pytest.raises(UsageError, match=r"line 3: 4 cells, the header has 3"):
        parse_csv(b"a,b,y\n1,2,0\n3,4,1,9\n5,6,1\n", "f.csv", "")


def test_a_hash_in_a_label_is_a_label_not_a_comment():
    table = parse_csv(b"a,y\n1,#x\n2,#y\n", "f.csv", "")
    assert table.classes == ("#x", "#y") and table.labels.tolist() == [0, 1]


def test_a_plain_file_is_read_by_numpys_parser_not_cell_by_cell(monkeypatch):
    from mlpbench.data import tables

    def careful(*args):
        raise AssertionError("a plain file was read cell by cell")

    monkeypatch.setattr(tables, "_careful_rows", careful)
    table = parse_csv(b"a,b,y\n1,2,x\n3,4,z\n", "f.csv", "")
    assert table.x.tolist() == [[1, 2], [3, 4]] and table.classes == ("x", "z")


@pytest.mark.parametrize("chunk", [3, 4, 5, 2**24])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_byte_that_is_not_utf8_is_named_by_its_place_in_the_file(chunk, bom):
    from mlpbench.data import tables

    raw = bom + "a,y\n\u00e9,1\n".encode() + b"\xff,0\n"
    at = raw.index(b"\xff")
    body = raw[len(bom):]
    with pytest.raises(UsageError, match=f"is not UTF-8 text: invalid start byte at byte {at}$"):
        tables._check_utf8(body, "f.csv", len(bom), chunk)
    tables._check_utf8(body[: body.index(b"\xff")], "f.csv", len(bom), chunk)  # before it: UTF-8
    with pytest.raises(UsageError, match=f"at byte {at}$"):
        parse_csv(raw, "f.csv", "")
