"""Verdicts on claims and comparisons of columns, each rule at its boundaries, with answers
worked out by hand (analysis/compare.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from conftest import stored_run
from mlpbench.analysis.compare import (
    CONTRADICTED,
    NOT_COMPARABLE,
    NOT_SUPPORTED,
    NOT_TESTABLE,
    SUPPORTED,
    ColumnRuns,
    compare_columns,
    greater_outcome,
    judge,
    overall,
    ratio_outcome,
)
from mlpbench.config.core import Config, Job
from mlpbench.engines.results import StoredRun
from mlpbench.experiment.claims import Check, Claim
from mlpbench.experiment.study import Column, Table

BASE = 80.0  # every column's values are BASE + a per-run offset


def _runs(values, metric="test_accuracy", diverged=()) -> list[StoredRun]:
    return [stored_run(i, {metric: v}, i in diverged) for i, v in enumerate(values)]


def _column(label: str, values, metric="test_accuracy", diverged=()) -> ColumnRuns:
    config = Config()
    column = Column(label, config, "numpy", "float64", "cpu", {})
    return ColumnRuns(column, Job(config, "numpy"), _runs(values, metric, diverged))


def _verdict(checks, columns) -> str:
    claim = Claim("c", tuple(checks))
    table = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in columns), (claim,))
    return judge(claim, table, columns).verdict


def _greater(a="a", b="b") -> Check:
    return Check("greater", "test_accuracy", a, b)


# a - b = 1, 2, 3, 4, 5: mean 3, s = sqrt(2.5) = 1.5811, t = 3 / (1.5811 / sqrt 5) = 4.2426,
# 4 degrees of freedom: two-sided p = 0.01324; Shapiro-Wilk finds them normal
FIVE = [1.0, 2.0, 3.0, 4.0, 5.0]
# a - b = 1, 2, 3: mean 2, s = 1, t = 3.4641, 2 degrees of freedom: p = 0.07418
THREE = [1.0, 2.0, 3.0]
# a - b = 0, 0, 1, 1, 1, 2: mean 0.8333, s = 0.7528, t = 2.7116, 5 d.o.f.: p = 0.04219
NEAR = [0.0, 0.0, 1.0, 1.0, 1.0, 2.0]


def test_the_worked_paired_examples_have_their_hand_computed_p():
    columns = [_column("a", [BASE + d for d in FIVE]), _column("b", [BASE] * 5)]
    (comparison,) = compare_columns(columns, "test_accuracy")
    assert comparison.result.p_t == pytest.approx(0.01324, abs=1e-5)
    assert (comparison.result.ci_low, comparison.result.ci_high) == pytest.approx(
        (3 - 1.9632, 3 + 1.9632), abs=1e-4)  # t(0.975, 4) = 2.7764 times s / sqrt 5 = 0.7071
    assert comparison.verdict() == "a higher"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([BASE + d for d in FIVE], [BASE] * 5, SUPPORTED),  # p = 0.0132 < 0.05, a above
        ([BASE] * 5, [BASE + d for d in FIVE], CONTRADICTED),  # p = 0.0132, a below
        ([BASE + d for d in THREE], [BASE] * 3, NOT_SUPPORTED),  # p = 0.0742
        ([BASE + 1] * 4, [BASE] * 4, SUPPORTED),  # a constant shift: certain, p = 0
        ([BASE] * 4, [BASE] * 4, NOT_SUPPORTED),  # identical columns
        ([BASE + 1], [BASE], NOT_TESTABLE),  # one pair of runs
    ],
)  # fmt: skip
def test_a_greater_check_on_small_paired_samples(a, b, expected):
    assert _verdict([_greater()], [_column("a", a), _column("b", b)]) == expected


def test_diverged_runs_leave_their_pairs_out_and_one_pair_is_not_testable():
    a = _column("a", [BASE + d for d in FIVE], diverged=(0, 1, 2, 3))
    assert _verdict([_greater()], [a, _column("b", [BASE] * 5)]) == NOT_TESTABLE


def test_holm_over_a_claims_checks_can_take_each_below_alpha_above_it():
    # each check alone: p = 0.04219 < 0.05; Holm over two: 2 x 0.04219 = 0.0844, not below
    columns = [_column("a", [BASE + d for d in NEAR]), _column("b", [BASE] * 6),
               _column("c", [BASE + d for d in NEAR]), _column("d", [BASE] * 6)]  # fmt: skip
    assert _verdict([_greater("a", "b")], columns[:2]) == SUPPORTED
    assert _verdict([_greater("a", "b"), _greater("c", "d")], columns) == NOT_SUPPORTED


def test_a_comparison_with_fewer_than_two_pairs_is_not_comparable():
    (comparison,) = compare_columns([_column("a", [BASE + 1]), _column("b", [BASE])],
                                    "test_accuracy")  # fmt: skip
    assert comparison.verdict() == NOT_COMPARABLE
    two = compare_columns([_column("a", [BASE + 1] * 2), _column("b", [BASE] * 2)],
                          "test_accuracy")  # fmt: skip
    assert two[0].verdict() == "a higher"


def test_p_exactly_at_alpha_is_not_significant():
    assert greater_outcome(0.05, 1.0) == NOT_SUPPORTED
    assert greater_outcome(0.0499999, 1.0) == SUPPORTED
    assert greater_outcome(0.0499999, -1.0) == CONTRADICTED
    assert greater_outcome(float("nan"), 1.0) == NOT_SUPPORTED
    assert greater_outcome(0.01, 0.0) == CONTRADICTED  # not above is not supported


# a / b = 1.8, 2.2, 2.0, 1.9, 2.1: geometric mean 1.99498, log-scale s = 0.079317, 95% interval
# exp(0.69064 +- 2.7764 x 0.079317 / sqrt 5) = [1.80787, 2.20146]
RATIOS = [1.8, 2.2, 2.0, 1.9, 2.1]
INTERVAL = (1.80787, 2.20146)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.5, 3.0, SUPPORTED),  # the whole interval inside
        (1.80787, 2.20147, SUPPORTED),  # at both bounds
        (1.9, math.inf, NOT_SUPPORTED),  # the point estimate 1.995 is above 1.9, the interval not
        (2.1, math.inf, NOT_SUPPORTED),  # the point estimate below 2.1, the interval straddles it
        (1.0, 1.95, NOT_SUPPORTED),  # the point estimate above 1.95, the interval straddles it
        (2.3, math.inf, CONTRADICTED),  # all of the interval below the claimed range
        (1.0, 1.7, CONTRADICTED),  # all of it above
    ],
)  # fmt: skip
def test_a_ratio_check_is_judged_by_its_interval(low, high, expected):
    a = _column("a", [r * 10 for r in RATIOS], "train_time_s")
    b = _column("b", [10.0] * 5, "train_time_s")
    check = Check("ratio", "train_time_s", "a", "b", low, high)
    assert _verdict([check], [a, b]) == expected
    assert ratio_outcome(*INTERVAL, (low, high)) == expected


def test_ratio_outcome_at_each_bound():
    assert ratio_outcome(2.0, 3.0, (2.0, 3.0)) == SUPPORTED  # bounds are inclusive
    assert ratio_outcome(1.9, 3.0, (2.0, 3.0)) == NOT_SUPPORTED
    assert ratio_outcome(1.0, 1.99, (2.0, 3.0)) == CONTRADICTED
    assert ratio_outcome(1.0, 2.0, (2.0, 3.0)) == NOT_SUPPORTED  # touching is not outside
    assert ratio_outcome(3.0, 4.0, (2.0, 3.0)) == NOT_SUPPORTED
    assert ratio_outcome(3.01, 4.0, (2.0, 3.0)) == CONTRADICTED


def test_overall_combines_the_checks():
    assert overall([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert overall([SUPPORTED, NOT_SUPPORTED]) == NOT_SUPPORTED
    assert overall([SUPPORTED, CONTRADICTED, NOT_SUPPORTED]) == CONTRADICTED
    assert overall([CONTRADICTED, NOT_TESTABLE]) == NOT_TESTABLE


def test_a_column_without_runs_makes_its_claims_not_testable():
    empty = ColumnRuns(_column("a", []).column, Job(Config(), "numpy"), [])
    assert _verdict([_greater()], [empty, _column("b", [BASE] * 3)]) == NOT_TESTABLE


def test_holm_corrects_a_tables_pairs():
    # three columns, three pairs; a and b differ by FIVE (p = 0.01324), c equals b
    columns = [_column("a", [BASE + d for d in FIVE]), _column("b", [BASE] * 5),
               _column("c", [BASE] * 5)]  # fmt: skip
    by_pair = {(c.a, c.b): c for c in compare_columns(columns, "test_accuracy")}
    # sorted raw p: 0.01324, 0.01324, 1: Holm x3, x2, x1 and running maximum
    assert by_pair["a", "b"].p_holm == pytest.approx(3 * 0.013236, abs=1e-5)
    assert by_pair["a", "c"].p_holm == pytest.approx(3 * 0.013236, abs=1e-5)
    assert by_pair["b", "c"].p_holm == 1.0
    assert by_pair["a", "b"].verdict() == "a higher"  # 0.0397 < 0.05


def test_a_claims_details_and_effects_say_the_numbers():
    columns = [_column("a", [BASE + d for d in FIVE]), _column("b", [BASE] * 5)]
    claim = Claim("a beats b", (_greater(),))
    table = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in columns), (claim,))
    v = judge(claim, table, columns)
    assert v.details == ("test_accuracy: a - b = +3, 95% CI [+1.037, +4.963], p = 0.0132 "
                         "(paired t, Holm over 1 check), n = 5",)  # fmt: skip
    assert v.effects == ("+3 pts",)
    times = [_column("a", [r * 10 for r in RATIOS], "train_time_s"),
             _column("b", [10.0] * 5, "train_time_s")]  # fmt: skip
    ratio = Claim("a is 2x b", (Check("ratio", "train_time_s", "a", "b", 1.5, 3.0),))
    v = judge(ratio, table, times)
    assert v.details == ("train_time_s: a / b = 1.99x, 95% CI [1.81, 2.2], over 5 paired runs "
                         "(claim read as 1.5x to 3x)",)  # fmt: skip
    assert v.effects == ("1.99x",)
    at_least = Claim("a is 2x b", (Check("ratio", "train_time_s", "a", "b", 1.5),))
    assert judge(at_least, table, times).details[0].endswith("(claim read as at least 1.5x)")


def test_a_loss_effect_has_no_unit_and_a_lower_column_is_named():
    # a - b = -1, -0.5, -0.75, -1.25, -1: mean -0.9, paired t p = 0.00212
    a = _column("a", [1.0, 1.5, 1.25, 0.75, 1.0], "test_loss")
    b = _column("b", [2.0] * 5, "test_loss")
    (comparison,) = compare_columns([a, b], "test_loss")
    assert comparison.verdict() == "a lower (better)"
    claim = Claim("c", (Check("greater", "test_loss", "a", "b"),))
    table = Table(1, "t", "", "", ("loss",), (a.column, b.column), (claim,))
    assert judge(claim, table, [a, b]).effects == ("-0.9",)


def test_losses_are_compared_only_between_columns_that_train_one_loss():
    bce = _column("bce", [1.0, 2.0, 3.0], "test_loss")
    config = Config(loss="mse")
    mse = ColumnRuns(Column("mse", config, "numpy", "float64", "cpu", {}), Job(config, "numpy"),
                     _runs([1.5, 2.0, 3.5], "test_loss"))  # fmt: skip
    assert compare_columns([bce, mse], "test_loss") == []
    assert len(compare_columns([bce, bce._replace(column=bce.column)], "test_loss")) == 1


def test_a_baseline_is_named_or_the_first_above_twelve_columns():
    from mlpbench.analysis.compare import MAX_ALL_PAIRS, baseline_of

    many = [_column(f"c{i}", [BASE] * 2) for i in range(MAX_ALL_PAIRS + 1)]
    table = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in many))
    assert baseline_of(table, many) is many[0]
    assert baseline_of(table, many[:MAX_ALL_PAIRS]) is None  # twelve: every pair
    named = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in many), baseline="c3")
    assert baseline_of(named, many) is many[3]
    pairs = compare_columns(many[:3], "test_accuracy", baseline=many[1])
    assert [(c.a, c.b) for c in pairs] == [("c1", "c0"), ("c1", "c2")]


def test_why_a_column_has_no_runs():
    empty = ColumnRuns(_column("a", []).column, Job(Config(), "numpy"), [])
    assert empty.missing() == "no runs stored"
    untuned = empty._replace(column=Column("a", Config(), "numpy", "float64", "cpu", {},
                                           tuned=("lr",)))  # fmt: skip
    assert untuned.missing() == "learning rate not tuned yet"
    both = untuned._replace(column=replace(untuned.column, tuned=("lr", "momentum")))
    assert both.missing() == "learning rate, momentum not tuned yet"
    chosen = both._replace(column=replace(both.column, chosen={"lr": 0.1, "momentum": 0.9}))
    assert chosen.missing() == "no runs stored"
    assert _column("a", [BASE]).missing() == ""


def test_the_claim_grid_has_groups_in_order_and_a_verdict_per_group():
    from mlpbench.analysis.compare import claim_grid

    def table(number, group, values):
        columns = [_column("a", values), _column("b", [BASE] * 5)]
        claim = Claim("a beats b", (_greater(),))
        return Table(number, str(number), "", "", ("accuracy",), tuple(c.column for c in columns),
                     (claim,), group=group), columns  # fmt: skip

    tables = [table(1, "xor", [BASE + d for d in FIVE]), table(2, "", [BASE] * 5),
              table(3, "circle", [BASE] * 5)]  # fmt: skip
    groups, rows = claim_grid(tables)
    assert groups == ["xor", "circle"]
    ((text, by_group),) = rows
    assert text == "a beats b"
    assert {g: v.verdict for g, v in by_group.items()} == {"xor": SUPPORTED,
                                                          "circle": NOT_SUPPORTED}  # fmt: skip


def test_a_comparisons_verdict_at_alpha_and_its_words():
    from mlpbench.analysis.compare import Comparison
    from mlpbench.analysis.stats import Paired

    def verdict(p: float, diff: float, count: int = 5, metric: str = "test_accuracy") -> str:
        return Comparison("a", "b", metric, Paired(count, diff, 0, 0, p, p, True),
                          p).verdict()  # fmt: skip

    assert verdict(0.05, 1.0) == "no difference detected"
    assert verdict(0.0499, 1.0) == "a higher" and verdict(0.0499, -1.0) == "b higher"
    # a loss: the lower column is named, as the better one
    assert verdict(0.0499, 1.0, metric="test_loss") == "b lower (better)"
    assert verdict(0.0499, -1.0, metric="test_loss") == "a lower (better)"
    assert verdict(0.05, -1.0, metric="test_loss") == "no difference detected"
    assert verdict(float("nan"), 1.0) == "no difference detected"
    assert verdict(0.01, 1.0, count=1) == NOT_COMPARABLE


def test_a_ratio_over_two_pairs_has_an_interval():
    from mlpbench.analysis.compare import _ratio

    # log ratios log 2 and log 8: centre log 4, s = log 4 / sqrt 2, t(0.975, 1) = 12.706,
    # so the half width is 12.706 x s / sqrt 2 = 12.706 x log 4 / 2
    ratio, low, high = _ratio([2.0, 8.0], [1.0, 1.0])
    half = 12.7062047 * math.log(4) / 2
    assert ratio == pytest.approx(4.0)
    assert (low, high) == pytest.approx((4 * math.exp(-half), 4 * math.exp(half)), rel=1e-6)
    assert _ratio([3.0, 3.0], [1.0, 1.0]) == pytest.approx((3.0, 3.0, 3.0))


def test_the_details_of_claims_that_cannot_be_judged_or_rest_on_wilcoxon():
    one = [_column("a", [BASE + 1]), _column("b", [BASE])]
    claim = Claim("c", (_greater(),))
    table = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in one), (claim,))
    v = judge(claim, table, one)
    assert v.claim is claim and v.verdict == NOT_TESTABLE
    assert v.details == (f"test_accuracy: a and b are {NOT_COMPARABLE}",)
    empty = [ColumnRuns(one[0].column, one[0].job, []), one[1]]
    assert judge(claim, table, empty).details == ("a: no runs stored",)
    # two pairs are enough to judge; far from normal differences are judged by Wilcoxon
    two = [_column("a", [BASE + 1, BASE + 2]), _column("b", [BASE, BASE])]
    assert judge(claim, table, two).verdict == NOT_SUPPORTED
    skewed = [_column("a", [BASE] * 15 + [BASE + 1] * 4 + [BASE - 9]),
              _column("b", [BASE] * 20), _column("c", [BASE] * 20)]  # fmt: skip
    checks = (_greater("a", "b"), _greater("a", "c"))
    v = judge(Claim("c", checks), table, skewed)
    assert "(Wilcoxon, Holm over 2 checks), n = 20" in v.details[0]


def test_a_named_baseline_without_runs_means_every_pair_and_comparisons_name_their_metric():
    from mlpbench.analysis.compare import baseline_of

    columns = [_column("a", [BASE] * 2), ColumnRuns(_column("b", []).column, Job(Config(),
               "numpy"), [])]  # fmt: skip
    table = Table(1, "t", "", "", ("accuracy",), tuple(c.column for c in columns), baseline="b")
    assert baseline_of(table, columns) is None
    (comparison,) = compare_columns([_column("a", [BASE] * 2), _column("c", [BASE] * 2)],
                                    "test_accuracy")  # fmt: skip
    assert comparison.metric == "test_accuracy"
    claim = Claim("c", (_greater(),))
    assert judge(claim, table, columns).claim is claim
