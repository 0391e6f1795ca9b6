"""Statistics checked against SciPy on fixed inputs, and paired tests on planted effects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from conftest import stored_run
from mlpbench.analysis.stats import holm, median_interval, paired, summarize

VALUES = [99.0, 98.0, 100.0, 97.0, 99.0, 98.5, 99.5, 96.0]


def test_summary_matches_scipy():
    s = summarize(VALUES, [False] * len(VALUES))
    assert s.mean == pytest.approx(np.mean(VALUES))
    assert s.std == pytest.approx(np.std(VALUES, ddof=1))
    low, high = sps.t.interval(0.95, len(VALUES) - 1, loc=np.mean(VALUES), scale=sps.sem(VALUES))
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high))
    assert (s.count, s.diverged) == (8, 0)


def test_diverged_runs_are_counted_not_averaged():
    s = summarize([1.0, float("nan"), 3.0], [False, True, False])
    assert (s.mean, s.count, s.diverged) == (2.0, 2, 1)
    everything = summarize([float("nan")] * 2, [True, True])
    assert everything.count == 0 and everything.diverged == 2 and np.isnan(everything.mean)


def test_identical_values_have_no_spread():
    s = summarize([0.1 + 0.2] * 5, [False] * 5)
    assert s.std == 0.0 and s.ci_low == s.ci_high == s.mean


def test_paired_matches_scipy():
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 1.0, 25)
    b = a - rng.normal(0.4, 0.5, 25)
    r = paired(a, b)
    assert r.p_t == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert r.p_wilcoxon == pytest.approx(sps.wilcoxon(a - b).pvalue)
    d = a - b
    low, high = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high))
    assert r.mean_diff == pytest.approx(d.mean())


def test_paired_detects_a_planted_difference_and_not_an_identical_column():
    rng = np.random.default_rng(0)
    base = rng.normal(98.0, 1.0, 20)
    shifted = base + 0.5 + rng.normal(0, 0.2, 20)
    assert paired(shifted, base).p < 1e-6 and paired(shifted, base).mean_diff > 0
    same = paired(base, base.copy())
    assert same.p == 1.0 and same.mean_diff == 0.0


def test_wilcoxon_is_used_for_far_from_normal_differences():
    # accuracy steps: mostly 0 and +1, one large outlier
    a = np.array([99.0] * 15 + [100.0] * 4 + [90.0])
    b = np.array([99.0] * 15 + [99.0] * 4 + [99.0])
    r = paired(a, b)
    assert not r.normal and r.p == r.p_wilcoxon


def test_holm_matches_the_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04) = 0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, float("nan")])[0] == 0.5 and np.isnan(holm([0.5, float("nan")])[1])


def test_median_interval_is_inside_the_data_and_never_negative():
    rng = np.random.default_rng(3)
    times = rng.lognormal(-6, 1.5, 25)  # skewed, as timings are
    m = median_interval(times)
    assert m.median == np.median(times)
    assert times.min() <= m.low <= m.median <= m.high <= times.max()
    assert m.low > 0 and median_interval(times) == m  # seeded: the same every time
    # the t interval of the mean would go below zero here; the median's cannot
    s = summarize(list(times), [False] * 25)
    assert s.ci_low < m.low


def test_time_cells_say_when_runs_shared_one_wall_time():
    from mlpbench.report.formatting import time_cell

    def run(t, group):
        return stored_run(0, {"train_time_s": t}, group=group)

    shared = time_cell([run(0.002, 20)] * 20, "train_time_s")
    assert shared.lines == ("2ms per run", "(1/20 of a call that trained 20 runs)")
    cell = time_cell([run(t, 1) for t in (0.01, 0.02, 0.03)], "train_time_s")
    assert cell.lines[0] == "median 20ms" and cell.lines[1].startswith("[")
    assert "-" not in cell.lines[1]


def test_a_small_paired_sample_worked_by_hand():
    # a - b = 1..5: mean 3, s = 1.5811, t = 4.2426 on 4 d.o.f.: p = 0.01324; 95% CI 3 +- 1.9632;
    # signed ranks all positive, no ties: exact two-sided p = 2 / 2^5 = 0.0625
    r = paired([11.0, 12.0, 13.0, 14.0, 15.0], [10.0] * 5)
    assert (r.count, r.mean_diff, r.normal) == (5, 3.0, True)
    assert r.p_t == pytest.approx(0.013236, abs=1e-6) and r.p == r.p_t
    assert r.p_wilcoxon == pytest.approx(0.0625)
    assert (r.ci_low, r.ci_high) == pytest.approx((1.036757, 4.963243), abs=1e-6)


def test_paired_edge_cases():
    shift = paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])  # a constant +1: certain
    assert (shift.mean_diff, shift.ci_low, shift.ci_high, shift.p_t) == (1.0, 1.0, 1.0, 0.0)
    one = paired([2.0], [1.0])
    assert one.count == 1 and one.mean_diff == 1.0 and np.isnan(one.p_t) and np.isnan(one.p)
    none = paired([], [])
    assert none.count == 0 and np.isnan(none.mean_diff)
    assert paired([1.0, 2.0], [1.0, 2.0])[1:] == (0.0, 0.0, 0.0, 1.0, 1.0, True)
    with pytest.raises(ValueError, match="must be 1-D"):
        paired([[1.0, 2.0]], [[0.0, 1.0]])


def test_wilcoxon_ties_take_the_normal_approximation():
    # a - b = 1, 1, 2, 2, 3: ties, so SciPy's normal approximation, not its exact table
    a, b = np.array([11.0, 11.0, 12.0, 12.0, 13.0]), np.full(5, 10.0)
    expected = sps.wilcoxon(a - b, method="approx").pvalue
    assert paired(a, b).p_wilcoxon == pytest.approx(expected)
    assert paired(a, b).p_wilcoxon != pytest.approx(sps.wilcoxon(a - b, method="exact").pvalue)


def test_holm_caps_at_one_and_keeps_order():
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # 0.6 x 2 = 1.2 -> 1
    assert holm([0.02, 0.01]) == pytest.approx([0.02, 0.02])  # 0.01 x 2, then max(0.02, 0.02)
    assert holm([]) == []


def test_a_small_summary_worked_by_hand():
    # 1, 2, 3: mean 2, s = 1, 95% CI 2 +- t(0.975, 2) / sqrt 3 = 2 +- 4.3027 / 1.7321
    s = summarize([1.0, 2.0, 3.0, 50.0], [False, False, False, True])
    assert (s.mean, s.std, s.count, s.diverged) == (2.0, 1.0, 3, 1)
    assert (s.ci_low, s.ci_high) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)
    single = summarize([4.0], [False])
    assert (single.mean, single.std, single.ci_low, single.ci_high) == (4.0, 0.0, 4.0, 4.0)
    with pytest.raises(ValueError, match="2 values but 1 divergence flags"):
        summarize([1.0, 2.0], [False])


def test_the_median_interval_is_the_percentile_bootstrap_written_out():
    data = np.arange(1.0, 21.0) ** 1.5  # skewed, as times are
    rng = np.random.default_rng(0)  # the documented seed
    medians = np.median(data[rng.integers(0, 20, (2000, 20))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    m = median_interval(data)
    assert (m.median, m.low, m.high) == (np.median(data), low, high)
    assert median_interval(data, seed=1) != m and median_interval(data) == m
    assert len(set(median_interval(data, resamples=r).low for r in (20, 2000))) == 2
    assert median_interval([7.0]) == (7.0, 7.0, 7.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        median_interval([])


def test_shapiro_is_asked_from_three_pairs():
    # a - b = 0, 0, 1: Shapiro-Wilk's W = 0.75, p = 0: far from normal, so Wilcoxon decides
    r = paired([10.0, 10.0, 11.0], [10.0] * 3)
    assert not r.normal and r.p == r.p_wilcoxon


@pytest.mark.parametrize(("n", "method"), [(50, "exact"), (51, "approx")])
def test_wilcoxon_is_exact_up_to_fifty_distinct_differences(n, method):
    diff = np.arange(1.0, n + 1) * np.where(np.arange(n) % 3 == 0, -1, 1)  # no ties
    expected = sps.wilcoxon(diff, method=method).pvalue
    assert paired(diff + 5.0, np.full(n, 5.0)).p_wilcoxon == pytest.approx(expected, rel=1e-12)


def test_two_values_have_an_interval_and_no_runs_have_nan_everywhere():
    # 1, 3: mean 2, s = sqrt 2, half width t(0.975, 1) x s / sqrt 2 = 12.7062
    s = summarize([1.0, 3.0], [False, False])
    assert (s.ci_low, s.ci_high) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)
    none = summarize([1.0], [True])
    assert all(np.isnan(v) for v in (none.mean, none.std, none.ci_low, none.ci_high))
    one = paired([2.0], [1.0])
    assert all(np.isnan(v) for v in (one.ci_low, one.ci_high, one.p_t, one.p_wilcoxon))
    assert one.normal is True
    shift = paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert 0 < shift.p_wilcoxon < 1  # the signed-rank test of three +1 differences


def test_an_interval_stays_inside_what_its_metric_can_take():
    # 5 runs, mean 99, deviations 1, 1, 1, -3, 0: sd sqrt(12 / 4) = 1.732; t(0.975, 4) =
    # 2.776: half-width 2.776 * 1.732 / sqrt(5) = 2.151, so the t interval is
    # [96.849, 101.151], and an accuracy's is cut at 100
    values = [100.0, 100.0, 100.0, 96.0, 99.0]
    plain = summarize(values, [False] * 5)
    assert plain.ci_high == pytest.approx(101.151, abs=1e-3)
    clipped = summarize(values, [False] * 5, "test_accuracy")
    assert clipped.ci_high == 100.0 and clipped.ci_low == pytest.approx(96.849, abs=1e-3)
    assert clipped.mean == plain.mean and clipped.std == plain.std
    loss = summarize([0.01, 0.5, 0.02], [False] * 3, "test_loss")
    assert loss.ci_low == 0.0 and loss.ci_high == summarize([0.01, 0.5, 0.02], [False] * 3).ci_high
    assert summarize([50.0, 60.0], [False] * 2, "train_accuracy").ci_low == 0.0  # t(1) is wide


def test_a_loss_interval_is_not_cut_at_100():
    values = [50.0, 300.0, 10.0]
    assert summarize(values, [False] * 3, "test_loss").ci_high == summarize(values,
                                                                             [False] * 3).ci_high
    assert summarize(values, [False] * 3).ci_high > 100
