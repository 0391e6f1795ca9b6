"""Formula data sets: the whitelist evaluator computes what the rule says and refuses
everything else with one line; nothing reaches eval."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import cli
from mlpbench.config.core import Config
from mlpbench.data.dataset import make_dataset
from mlpbench.data.formula import Rule
from mlpbench.errors import UsageError

POINTS = np.array([[0.5, 0.1, -1.0], [-1.5, 3.0, 2.0], [0.0, 0.0, 0.0], [2.0, -0.5, 1.0]])


@pytest.mark.parametrize(("text", "expected"), [
    ("x1**2 > x2", POINTS[:, 0] ** 2 > POINTS[:, 1]),
    ("abs(x1) + -x2 >= 1", np.abs(POINTS[:, 0]) - POINTS[:, 1] >= 1),
    ("sin(x1) < cos(x2) and not x3 > 0", (np.sin(POINTS[:, 0]) < np.cos(POINTS[:, 1]))
     & ~(POINTS[:, 2] > 0)),
    ("x1 < x2 < x3 or x1 == 0", ((POINTS[:, 0] < POINTS[:, 1]) & (POINTS[:, 1] < POINTS[:, 2]))
     | (POINTS[:, 0] == 0)),
    ("exp(x1) / 2 != 1 * x3 - 0.5", np.exp(POINTS[:, 0]) / 2 != POINTS[:, 2] - 0.5),
    # a comparison in arithmetic or a function is 1 or 0, as in Python
    ("-(x1 > 0) < 0", POINTS[:, 0] > 0),
    ("(x1 > 0) - (x2 > 0) > 0", (POINTS[:, 0] > 0) & ~(POINTS[:, 1] > 0)),
    ("+(x1 > 0) > 0", POINTS[:, 0] > 0),
    ("(x1 > 0) + (x2 > 0) + (x3 > 0) >= 2",
     (POINTS > 0).sum(axis=1) >= 2),
    ("sin(x1 >= 0) > 0.5", POINTS[:, 0] >= 0),  # sin(1) = 0.84, sin(0) = 0
])  # fmt: skip
def test_rules_compute_what_they_say(text, expected):
    np.testing.assert_array_equal(Rule(text).labels(POINTS), expected)


def test_inputs_are_counted_from_the_rule():
    assert Rule("x1 > 0").inputs == 2  # at least two, so a boundary can be drawn
    assert Rule("x7 > x2").inputs == 7


def test_the_seed_rule_as_a_formula_labels_like_the_seed_set():
    data = make_dataset(Config(data="formula", rule="x1**2 > x2"), 3)
    np.testing.assert_array_equal(data.y_train[:, 0], data.x_train[:, 0] ** 2 > data.x_train[:, 1])
    assert data.x_train.min() >= -2 and data.x_train.max() <= 2


def test_huge_powers_overflow_instead_of_building_integers():
    assert Rule("9**9**9 > x1").labels(POINTS).all()  # inf > x, at once


def test_the_longest_rules_nest_within_the_stack():
    deep = Rule("-" * 480 + "x1 > 0")  # 480 unary minuses: an even count, so x1 > 0
    np.testing.assert_array_equal(deep.labels(POINTS), POINTS[:, 0] > 0)


@pytest.mark.parametrize(("text", "message"), [
    ("__import__('os').system('true')", "only abs(...), sin(...), cos(...), exp(...)"),
    ("x1.real > 0", "Attribute is not allowed"),
    ("open > 0", "unknown name 'open'"),
    ("y > 0", "unknown name 'y'"),
    ("x0 > 1", "unknown name 'x0'"),
    ("x1[0] > 0", "Subscript is not allowed"),
    ("(lambda: 1)() > x1", "only abs(...)"),
    ("'a' < x1", "'a' is not a number"),
    ("True or x1 > 0", "True is not a number"),
    ("x1 // 2 > 0", "FloorDiv is not allowed"),
    ("x1 in x2", "In is not allowed"),
    ("abs(x1, x2) > 0", "only abs(...)"),
    ("x1 + x2", "must be a comparison"),
    ("x1 >", "cannot be read"),
    ("x101 > 0", "at most x100"),
    ("1 > 0", "uses no input"),
    ("", "needs a rule"),
    ("(" * 240 + "x1" + ")" * 240 + " > 0", "cannot be read"),  # the parser's own limit
    ("x1 > 0 and " * 60 + "x2 > 0", "at most 500"),
    ("abs > x1", "abs is a function: write abs(...)"),
    ("sin(abs) > x1", "abs is a function"),
    ("x1 > 1" + "0" * 400, "the integer of 401 digits is beyond float64"),
    ("-1" + "0" * 309 + " < x1", "the integer of 310 digits"),
])  # fmt: skip
def test_anything_else_is_refused(text, message):
    with pytest.raises(UsageError) as e:
        Rule(text)
    assert message in str(e.value)


def test_formula_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["data", "--data", "formula", "--rule", "x1*x2 > 0 and x3 < 0.5", "--range", "-1,1",
            "--m", "20", "--n", "5", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    header = (out / "formula-m20-n5-seed0-train.csv").read_text().splitlines()[0]
    assert header == "x1,x2,x3,y"
    assert cli.main(["train", "--data", "formula", "--rule", "x1 > __import__", "--out",
                     str(out / "x")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "unknown name '__import__'" in err and err.count("\n") == 1
    assert cli.main(["train", "--rule", "x1 > 0", "--out", str(out / "x")]) == 2
    assert "apply to data set 'formula' only" in capsys.readouterr().err
    assert not (out / "x").exists()
