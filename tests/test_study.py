"""Study files: parsing, validation naming the file and key, and selecting tables."""

from __future__ import annotations

import pytest

from conftest import TINY_STUDY
from mlpbench.config.core import Config
from mlpbench.errors import UsageError
from mlpbench.experiment.study import load_study, parse_study
from mlpbench.service import bundled_study, jobs, resolve_study

T = "[[tables]]\nnumber = 1\n"
COL = T + "[[tables.columns]]\nlabel = 'a'\n"
CLAIM = COL + "[[tables.claims]]\ntext = 'x'\n"
CHECK = (
    CLAIM + "[[tables.claims.checks]]\nkind = 'ratio'\nmetric = 'test_accuracy'\na = 'a'\nb = 'a'\n"
)
BAD_STUDIES = [
    (CLAIM + "checks = []", "bad.toml: tables[0].claims[0].checks: a claim needs at least one"),
    ("tables = [5]", "bad.toml: tables[0]: expected a table of keys, got 5"),
    (T + "columns = [5]", "bad.toml: tables[0].columns[0]: expected a table of keys, got 5"),
    (COL + "lr = -3.0", "bad.toml: tables[0].columns[0].lr: learning rate must be"),
    (COL + "hidden = [3, 'x']", "tables[0].columns[0].hidden: hidden layer size must be"),
    (
        COL + "reported = { test_accuracy = 'high' }",
        "tables[0].columns[0].reported.test_accuracy: expected a number, got 'high'",
    ),
    (COL + "reported = 5", "tables[0].columns[0].reported: expected a table of keys"),
    (COL + "engine = 5", "tables[0].columns[0].engine: expected a name, got 5"),
    (T + "claims = [5]\n" + COL[len(T) :], "tables[0].claims[0]: expected a table of keys, got 5"),
    (CLAIM + "checks = [5]", "tables[0].claims[0].checks[0]: expected a table of keys, got 5"),
    (CHECK + "low = 'x'", "tables[0].claims[0].checks[0].low: expected a number, got 'x'"),
    (CHECK + "high = [1]", "tables[0].claims[0].checks[0].high: expected a number, got [1]"),
    (
        COL + "[[tables]]\nnumber = 2\nname = '1'\n[[tables.columns]]\nlabel = 'a'",
        "bad.toml: tables: table names must be unique, got ['1', '1']",
    ),
    (
        "[tuning]\nvalidation = 1.5\n" + COL,
        "bad.toml: tuning.validation: must be a fraction in (0, 1), got 1.5",
    ),
    ("[tuning]\nlr_grid = [1e-300, 1e300, 100]\n" + COL, "more than 1000"),
    (COL + "loss = 'tuned'", "tables[0].columns[0].loss: loss cannot be tuned; tunable: "
     "batch_size, epochs, lr, momentum"),
    (COL + "momentum = 'tuned'", "tuning.grids.momentum: tuning momentum needs a grid, such as "
     "grids = { momentum = [...] } (table 1, column 'a')"),
    ("[tuning]\ngrids = { loss = ['bce'] }\n" + COL, "tuning.grids.loss: unknown key 'loss'"),
    ("[tuning]\ngrids = { momentum = 0.9 }\n" + COL,
     "tuning.grids.momentum: expected a list of momentum values, got 0.9"),
    ("[tuning]\ngrids = { momentum = [] }\n" + COL,
     "tuning.grids.momentum: a grid has 1 to 1000 values, got 0"),
    ("[tuning]\ngrids = { momentum = [0.5, 0.5] }\n" + COL,
     "tuning.grids.momentum: a grid's values must differ, got [0.5, 0.5]"),
    ("[tuning]\ngrids = { momentum = [0.5, 1.5] }\n" + COL,
     "tuning.grids.momentum[1]: momentum must be a number in [0, 1), got 1.5"),
    ("[tuning]\ngrids = { batch_size = [4, 'x'] }\n" + COL,
     "tuning.grids.batch_size[1]: batch size must be"),
    ("[tuning]\nlr_grid = [0.1, 1, 2]\ngrids = { lr = [0.1] }\n" + COL,
     "tuning.grids.lr: the lr grid is given twice, here and as lr_grid"),
    ("[tuning]\ngrids = { momentum = [0.5] }\n" + COL + "optimizer = 'adam'\nmomentum = 'tuned'",
     "tuning.grids.momentum: momentum applies to optimizer sgd, rmsprop, not to 'adam' "
     "(table 1, column 'a')"),
    ("[tuning]\ngrids = { lr = [0.1, -1.0] }\n" + COL,
     "tuning.grids.lr[1]: learning rate must be a finite number > 0, got -1.0"),
    ("seed = -1\n" + COL, "bad.toml: seed must be an integer >= 0, got -1"),
    ("seed = 9223372036854775800\n" + COL, "run past the largest seed 2^63 - 1"),
    ("runs = 'many'\n" + COL, "bad.toml: runs: expected an integer number of runs"),
    ("defaults = 3\n" + COL, "bad.toml: defaults: expected a table of keys, got 3"),
    ("runs = [", "is not valid TOML"),
    ("colour = 1\n[[tables]]\nnumber = 1", "unknown key 'colour'"),
    (
        "[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\nloss = 'hinge'",
        "unknown loss 'hinge'",
    ),
    ("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\nlr = -3.0", "learning rate"),
    (
        "[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\ndampening = 0.9",
        "unknown key 'dampening'",
    ),
    (
        "[[tables]]\nnumber = 1\nrows = ['speed']\n[[tables.columns]]\nlabel = 'a'",
        "unknown row 'speed'",
    ),
    (
        "[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\nengine = 'cuda'",
        "unknown engine 'cuda'",
    ),
    ("[defaults]\nbatch = 3\n[[tables]]\nnumber = 1", "unknown key 'batch'"),
    ("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'\nhidden = 3", "hidden"),
]


@pytest.mark.parametrize(("text", "message"), BAD_STUDIES)
def test_bad_study_text_is_refused(text, message):
    with pytest.raises(UsageError) as e:
        parse_study(text, "bad.toml")
    assert message in str(e.value) and str(e.value).startswith("bad.toml")


def test_columns_inherit_the_defaults_and_override_them():
    study = parse_study(TINY_STUDY, "tiny.toml")
    assert (study.name, study.runs, study.seeds) == ("tiny", 3, [5, 6, 7])
    loss, batch = study.tables
    assert loss.rows == ("accuracy", "loss", "time") and batch.rows == ("accuracy",)
    bce = loss.column("BCE").config
    assert bce == Config(m=60, n=20, epochs=15, loss="bce", lr=2.0)
    assert batch.columns[0].config.batch_size == 7 and batch.columns[0].config.m == 60
    assert loss.column("MSE").engine is None and loss.column("MSE").device == "cpu"


def test_select_by_number_or_name_and_override_runs_and_seed():
    study = parse_study(TINY_STUDY)
    assert [t.number for t in study.select("batch").tables] == [2]
    assert [t.number for t in study.select("2, loss").tables] == [1, 2]
    assert study.select(None) is study
    assert study.with_runs(5).seeds == [5, 6, 7, 8, 9]
    assert study.with_seed(100).with_runs(2).seeds == [100, 101]
    with pytest.raises(UsageError, match=r"unknown table '9'; this study has: 1 \(loss\), 2"):
        study.select("9")
    with pytest.raises(UsageError, match="runs must be an integer >= 1"):
        study.with_runs(0)


def test_jobs_are_distinct_and_take_the_column_engine_first():
    text = (
        TINY_STUDY
        + """
[[tables]]
number = 3
name = "again"
  [[tables.columns]]
  label = "BCE again"
  loss = "bce"
  lr = 2.0
  [[tables.columns]]
  label = "BCE on keras"
  loss = "bce"
  lr = 2.0
  engine = "keras"
"""
    )
    found = jobs(parse_study(text), "numpy")
    assert len(found) == 4  # "BCE again" is the same job as "BCE"
    assert [(j.engine, j.dtype) for j in found][-1] == ("keras", "float32")
    assert {j.dtype for j in jobs(parse_study(text), "numpy", "float32")} == {"float32"}


def test_bundled_studies_parse_and_a_path_wins_over_a_bundled_name(tmp_path, monkeypatch):
    seed = bundled_study("seed")
    assert [t.number for t in seed.tables] == [1, 2, 3, 4] and seed.runs == 20
    assert any(c.tuned for t in bundled_study("seed-tuned").tables for c in t.columns)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed").write_text(TINY_STUDY)
    assert resolve_study("seed").name == "tiny"


def test_unreadable_study_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read study file"):
        load_study(tmp_path / "missing.toml")


def test_a_study_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("name = 'café'\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1.toml' is not UTF-8 text: invalid .* at byte 11"):
        load_study(path)


def test_bundled_studies_are_the_repository_copies_and_parse():
    import importlib.util
    from pathlib import Path

    from mlpbench.service import BUNDLED

    root = Path(__file__).parents[1]
    shipped = {p.name for p in (root / "src" / "mlpbench" / "studies").glob("*.toml")}
    assert shipped == {f"{name}.toml" for name in BUNDLED}
    for name in BUNDLED:
        copy = root / "studies" / f"{name}.toml"
        assert copy.read_text() == (root / "src" / "mlpbench" / "studies" / f"{name}.toml"
                                    ).read_text(), name  # fmt: skip
        if name != "beyond-seed" or importlib.util.find_spec("sklearn"):  # its tables need it
            assert bundled_study(name).tables


def test_beyond_seed_states_four_claims_on_seven_data_sets():
    import pytest

    pytest.importorskip("sklearn")
    study = bundled_study("beyond-seed")
    groups = list(dict.fromkeys(t.group for t in study.tables))
    assert groups == ["seed", "circle", "xor", "spiral", "moons", "breast-cancer", "digits"]
    claims = {c.text for t in study.tables for c in t.claims}
    assert len(claims) == 4
    assert all(col.tuned for t in study.tables for col in t.columns)


SECTIONED = """
[defaults.data]
name = "circle"
noise = 0.1
m = 200

[defaults.network]
hidden = [8]
activation = "tanh"

[[tables]]
number = 1

[[tables.columns]]
label = "a"
[tables.columns.optimizer]
name = "adam"
lr = 0.01

[[tables.columns]]
label = "b"
optimizer = "adam"
lr = 0.01
training = { loss = "mse", epochs = 50 }
"""


def test_sections_name_the_same_fields_as_flat_keys():
    a, b = parse_study(SECTIONED, "s.toml").tables[0].columns
    flat = Config(data="circle", noise=0.1, m=200, hidden=(8,), activation="tanh",
                  optimizer="adam", lr=0.01)  # fmt: skip
    assert a.config == flat
    assert b.config == flat.replace(loss="mse", epochs=50)
    assert a.config.section("optimizer") == {"name": "adam", "lr": 0.01}
    assert a.config.section("data")["name"] == "circle"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (COL + "[tables.columns.optimizer]\ndampening = 0.9",
         "s.toml: tables[0].columns[0].optimizer.dampening: unknown key 'dampening'; allowed: "
         "name, lr, momentum, nesterov, rho, centered, beta_1, beta_2, amsgrad, epsilon, "
         "initial_accumulator, weight_decay"),
        (COL + "[tables.columns.optimizer]\nname = 'adam'\nmomentum = 0.9",
         "s.toml: tables[0].columns[0].optimizer.momentum: momentum applies to optimizer sgd, "
         "rmsprop, not to 'adam'"),
        (COL + "lr = 1.0\n[tables.columns.optimizer]\nlr = 2.0",
         "tables[0].columns[0].optimizer.lr: lr is given twice, as lr and as optimizer.lr"),
        (COL + "network = 3", "tables[0].columns[0].network: expected a table of keys, got 3"),
        (COL + "[tables.columns.optimizer]\nlr = -1.0",
         "s.toml: tables[0].columns[0].optimizer.lr: learning rate must be a finite number > 0"),
        ("[defaults.training]\nepochs = 0\n" + COL,
         "s.toml: tables[0].columns[0].training.epochs: epochs must be an integer >= 1, got 0"),
        ("[defaults]\nnetwork = { width = 3 }\n" + COL,
         "s.toml: defaults.network.width: unknown key 'width'; allowed: hidden, activation"),
    ],
)  # fmt: skip
def test_a_bad_section_names_its_key_path(text, message):
    with pytest.raises(UsageError) as e:
        parse_study(text, "s.toml")
    assert message in str(e.value)


def test_a_column_overrides_a_default_given_in_a_section():
    text = "[defaults.optimizer]\nname = 'adam'\nlr = 0.5\n" + COL + "lr = 0.1\n"
    assert parse_study(text).tables[0].columns[0].config.section("optimizer") == {
        "name": "adam", "lr": 0.1}  # fmt: skip


def test_a_study_file_may_start_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + COL.encode())
    assert load_study(path).tables[0].columns[0].label == "a"


@pytest.mark.parametrize(("text", "message"), [
    ("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = \"\\u001b[2J\\u001b]0;PWNED\\u0007A\"",
     "tables[0].columns[0].label: control character U+001B is not allowed in a label"),
    ("[[tables]]\nnumber = 1\ntitle = \"a\\rb\"\n[[tables.columns]]\nlabel = 'a'",
     "tables[0].title: control character U+000D is not allowed in a title"),
    ("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = \"a\\n\\nb\"",
     "control character U+000A is not allowed in a label"),
    (f"[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = '{'x' * 101}'",
     "tables[0].columns[0].label: a label is at most 100 characters, got 101"),
    (f"title = '{'t' * 301}'\n[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'",
     "title: a title is at most 300 characters, got 301"),
    ("name = ''\n[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = 'a'",
     "name: a name must not be empty"),  # MLflow refused it as an experiment's, after training
    ("[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = ' '", "a label must not be empty"),
])  # fmt: skip
def test_text_for_people_has_no_control_characters_and_a_length_cap(text, message):
    with pytest.raises(UsageError) as e:
        parse_study(text, "s.toml")
    assert message in str(e.value)


def test_a_note_may_break_lines_and_a_label_may_be_100_characters():
    study = parse_study(f"[[tables]]\nnumber = 1\nnote = \"one\\ntwo\"\n[[tables.columns]]\n"
                        f"label = '{'x' * 100}'", "s.toml")  # fmt: skip
    assert study.tables[0].note == "one\ntwo" and len(study.tables[0].columns[0].label) == 100


def test_a_hold_out_too_large_for_a_tuned_column_is_refused_when_read(tmp_path):
    """Once refused only after the store was made, without its key path."""
    text = ("[defaults]\nm = 30\nn = 10\n[tuning]\nvalidation = 0.99\n[[tables]]\nnumber = 1\n"
            "[[tables.columns]]\nlabel = \"a\"\nlr = \"tuned\"\n")
    with pytest.raises(UsageError, match=r"tuning\.validation: validation must be a fraction "
                                         r".* m = 30, got 0\.99 \(table 1, column 'a'\)"):
        parse_study(text, "s.toml")
    parse_study(text.replace("0.99", "0.2"), "s.toml")  # 6 held out of 30: fine


TUNES_TWO = """
[tuning]
grids = { momentum = [0, 0.9], lr = [0.1, 1] }
[[tables]]
number = 1
  [[tables.columns]]
  label = "fixed"
  lr = 0.5
  [[tables.columns]]
  label = "both"
  lr = "tuned"
  [tables.columns.optimizer]
  momentum = "tuned"
  [[tables.columns]]
  label = "momentum"
  lr = 0.5
  momentum = "tuned"
"""


def test_any_tunable_field_may_be_tuned_each_column_on_its_own_axes():
    study = parse_study(TUNES_TWO, "two.toml")
    fixed, both, momentum = study.tables[0].columns
    assert (fixed.tuned, both.tuned, momentum.tuned) == ((), ("lr", "momentum"), ("momentum",))
    assert both.untuned and not fixed.untuned
    assert momentum.config == Config(lr=0.5)  # momentum at its default until chosen
    assert study.tuning_for(both).axes == {"lr": (0.1, 1), "momentum": (0, 0.9)}
    assert study.tuning_for(momentum).axes == {"momentum": (0, 0.9)}
    assert study.tuning.runs == study.tuning_for(momentum).runs
