"""Statistics over runs: summaries with confidence intervals, paired comparisons.

Runs with the same index share data and initial weights across a table's
columns, so columns are compared on those pairs: a paired t-test, and the
Wilcoxon signed-rank test when a Shapiro-Wilk test says the differences are
far from normal (p < 0.05), with Holm's correction across a table's pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
ALPHA = 0.05


class Summary(NamedTuple):
    """Mean, sample standard deviation (ddof = 1) and 95% CI of the mean of the finite runs."""

    mean: float
    std: float
    count: int
    diverged: int
    ci_low: float
    ci_high: float


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """Student-t confidence interval of the mean; a point when there is no spread."""
    mean = float(values.mean())
    if values.size < 2 or values.max() == values.min():
        return mean, mean
    half = sps.t.ppf(0.5 + CONFIDENCE / 2, values.size - 1) * values.std(ddof=1)
    half /= np.sqrt(values.size)
    return mean - half, mean + half


def bounds(metric: str) -> tuple[float, float]:
    """The values a metric can take: accuracies are percentages, losses and times >= 0."""
    return (0.0, 100.0) if metric.endswith("accuracy") else (0.0, math.inf)


def summarize(values: Sequence[float], diverged: Sequence[bool], metric: str = "") -> Summary:
    """Summarise the runs that did not diverge; diverged runs are counted, never averaged.
    With the metric named, the interval is clipped to the values it can take (a 5-run
    interval of accuracies near 100% would otherwise reach past 100%)."""
    if len(values) != len(diverged):
        raise ValueError(f"{len(values)} values but {len(diverged)} divergence flags")
    kept = np.array([v for v, d in zip(values, diverged) if not d], dtype=np.float64)
    n_div = int(sum(diverged))
    if kept.size == 0:
        nan = float("nan")
        return Summary(nan, nan, 0, n_div, nan, nan)
    # identical values (a shared group time) have no spread, not a rounding residue
    same = kept.max() == kept.min()
    std = 0.0 if same or kept.size < 2 else float(kept.std(ddof=1))
    low, high = _t_interval(kept)
    if metric:
        floor, ceiling = bounds(metric)
        low, high = max(low, floor), min(high, ceiling)
    return Summary(float(kept.mean()), std, int(kept.size), n_div, low, high)


class Paired(NamedTuple):
    """Column a minus column b over the runs both finished."""

    count: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_t: float
    p_wilcoxon: float
    normal: bool

    @property
    def p(self) -> float:
        """The p-value of the test that suits the differences."""
        return self.p_t if self.normal else self.p_wilcoxon


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Paired comparison of two columns' per-run values (same run index, same seed)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.ndim != 1:
        raise ValueError(f"paired values must be 1-D, got shape {diff.shape}")
    n = diff.size
    if n < 2:
        nan = float("nan")
        return Paired(n, float(diff.mean()) if n else nan, nan, nan, nan, nan, True)
    low, high = _t_interval(diff)
    if not diff.any():  # identical columns: nothing to detect
        return Paired(n, 0.0, 0.0, 0.0, 1.0, 1.0, True)
    if diff.max() == diff.min():  # a constant nonzero shift: certain, but t is undefined
        return Paired(n, float(diff.mean()), low, high, 0.0, _wilcoxon(diff), True)
    p_t = float(sps.ttest_rel(a, b).pvalue)
    normal = n < 3 or float(sps.shapiro(diff).pvalue) >= ALPHA
    return Paired(n, float(diff.mean()), low, high, p_t, _wilcoxon(diff), normal)


def _wilcoxon(diff: np.ndarray) -> float:
    """Two-sided signed-rank p: exact without ties (n <= 50), else the normal approximation.

    Accuracy differences move in steps of 100/n percent, so ties are the rule;
    SciPy would then resample permutations, thousands of times slower.
    """
    nonzero = diff[diff != 0]
    if nonzero.size == 0:
        return 1.0
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    method = "approx" if ties or nonzero.size > 50 else "exact"
    return float(sps.wilcoxon(nonzero, method=method).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(p.shape, np.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


class Median(NamedTuple):
    """A median and its 95% percentile-bootstrap interval: inside the data's range, so a
    time's interval is never negative."""

    median: float
    low: float
    high: float


def median_interval(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> Median:
    """The median with a percentile-bootstrap 95% interval (seeded, so reports are stable)."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"need a non-empty 1-D sample, got shape {data.shape}")
    picks = np.random.default_rng(seed).integers(0, data.size, (resamples, data.size))
    medians = np.median(data[picks], axis=1)
    low, high = np.percentile(medians, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return Median(float(np.median(data)), float(low), float(high))
