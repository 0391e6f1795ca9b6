"""Paired comparisons between a table's columns, and verdicts on a report's claims."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy import stats as sps

from mlpbench.analysis.stats import ALPHA, CONFIDENCE, Paired, holm, paired
from mlpbench.engines.registry import unavailable

if TYPE_CHECKING:
    from mlpbench.config.core import Job
    from mlpbench.engines.results import StoredRun
    from mlpbench.experiment.claims import Check, Claim
    from mlpbench.experiment.study import Column, Table


COMPARED = ("test_accuracy", "test_loss")
SUPPORTED = "supported"
NOT_SUPPORTED = "not supported at this sample size"
CONTRADICTED = "contradicted"
NOT_TESTABLE = "not testable here"
NOT_COMPARABLE = "not comparable (fewer than 2 paired runs without divergence)"
MAX_ALL_PAIRS = 12  # more columns than this: each is compared with a baseline only


class ColumnRuns(NamedTuple):
    """A column, the job that fills it, and its stored runs in seed order."""

    column: Column
    job: Job
    runs: list[StoredRun]

    def missing(self) -> str:
        """Why the column has no runs, or '' when it has some."""
        if self.runs:
            return ""
        if self.column.untuned:
            tuned = ", ".join("learning rate" if n == "lr" else n for n in self.column.tuned)
            return f"{tuned} not tuned yet"
        return unavailable(self.job.engine, self.job.device) or "no runs stored"


def paired_values(a: ColumnRuns, b: ColumnRuns, metric: str) -> tuple[list, list]:
    """Values of both columns on the seeds where neither diverged, matched by seed."""
    b_by_seed = {r.seed: r for r in b.runs if not r.diverged}
    pairs = [(r.metrics[metric], b_by_seed[r.seed].metrics[metric])
             for r in a.runs if not r.diverged and r.seed in b_by_seed]  # fmt: skip
    return [p[0] for p in pairs], [p[1] for p in pairs]


class Comparison(NamedTuple):
    """Column a minus column b on one metric, with Holm's p over the table's pairs."""

    a: str
    b: str
    metric: str
    result: Paired
    p_holm: float

    def verdict(self) -> str:
        """Which column is higher, when the difference is detectable; on a loss, which is
        lower, the better one (so "higher" never reads as better for a loss)."""
        if self.result.count < 2:
            return NOT_COMPARABLE
        if math.isnan(self.p_holm) or self.p_holm >= ALPHA:
            return "no difference detected"
        higher, lower = (self.a, self.b) if self.result.mean_diff > 0 else (self.b, self.a)
        return f"{lower} lower (better)" if "loss" in self.metric else f"{higher} higher"


def baseline_of(table: Table, columns: list[ColumnRuns]) -> ColumnRuns | None:
    """The column every other is compared with: the table's named baseline, or its first
    column when there are too many for all pairs; None means all pairs."""
    with_runs = [c for c in columns if c.runs]
    if table.baseline:
        return next((c for c in with_runs if c.column.label == table.baseline), None)
    return with_runs[0] if len(with_runs) > MAX_ALL_PAIRS else None


def compare_columns(
    columns: list[ColumnRuns], metric: str, baseline: ColumnRuns | None = None
) -> list[Comparison]:
    """Every pair of columns with runs (or each against the baseline), paired by seed,
    Holm-corrected across the pairs.

    Losses are compared only between columns that train the same loss function.
    """
    with_runs = [c for c in columns if c.runs]
    if baseline is None:
        candidates = list(itertools.combinations(with_runs, 2))
    else:
        candidates = [(baseline, c) for c in with_runs if c is not baseline]
    pairs = [
        (a, b)
        for a, b in candidates
        if not metric.endswith("_loss") or a.job.config.loss == b.job.config.loss
    ]
    results = [paired(*paired_values(a, b, metric)) for a, b in pairs]
    adjusted = holm([r.p for r in results])
    return [
        Comparison(a.column.label, b.column.label, metric, r, p)
        for (a, b), r, p in zip(pairs, results, adjusted)
    ]


class Verdict(NamedTuple):
    """A claim, what the data say about it, the numbers behind that, and each check's
    effect size in short (a mean difference, or a ratio)."""

    claim: Claim
    verdict: str
    details: tuple[str, ...]
    effects: tuple[str, ...] = ()


def _effect(metric: str, diff: float) -> str:
    unit = " pts" if metric.endswith("_accuracy") else ""
    return f"{diff:+.3g}{unit}"


def _ratio(a: list, b: list) -> tuple[float, float, float]:
    """Geometric-mean ratio a/b over the pairs with its t-interval on the log scale."""
    logs = np.log(np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64))
    centre = float(logs.mean())
    if logs.size < 2 or logs.max() == logs.min():
        return math.exp(centre), math.exp(centre), math.exp(centre)
    half = sps.t.ppf(0.5 + CONFIDENCE / 2, logs.size - 1) * logs.std(ddof=1) / math.sqrt(logs.size)
    return math.exp(centre), math.exp(centre - half), math.exp(centre + half)


def greater_outcome(p_holm: float, mean_diff: float) -> str:
    """A 'greater' check from its Holm-corrected p: supported when p < ALPHA with a above b,
    contradicted when p < ALPHA with a below b, else not supported (NaN p included)."""
    if math.isnan(p_holm) or p_holm >= ALPHA:
        return NOT_SUPPORTED
    return SUPPORTED if mean_diff > 0 else CONTRADICTED


def ratio_outcome(low: float, high: float, bounds: tuple[float, float]) -> str:
    """A 'ratio' check from the ratio's 95% interval [low, high]: supported when the whole
    interval lies within the claimed bounds, contradicted when all of it lies outside, else
    not supported. The point estimate never decides."""
    if bounds[0] <= low and high <= bounds[1]:
        return SUPPORTED
    if high < bounds[0] or low > bounds[1]:
        return CONTRADICTED
    return NOT_SUPPORTED


def overall(outcomes: list[str]) -> str:
    """A claim from its checks' outcomes: not testable if any is, else contradicted if any
    is, else supported if all are, else not supported."""
    if NOT_TESTABLE in outcomes:
        return NOT_TESTABLE
    if CONTRADICTED in outcomes:
        return CONTRADICTED
    return SUPPORTED if all(o == SUPPORTED for o in outcomes) else NOT_SUPPORTED


def _judge_ratio(check: Check, a: list, b: list) -> tuple[str, str]:
    ratio, low, high = _ratio(a, b)
    outcome = ratio_outcome(low, high, (check.low, check.high))
    expected = (
        f"{check.low:g}x to {check.high:g}x"
        if math.isfinite(check.high)
        else (f"at least {check.low:g}x")
    )
    text = (f"{check.metric}: {check.a} / {check.b} = {ratio:.3g}x, 95% CI [{low:.3g}, "
            f"{high:.3g}], over {len(a)} paired runs (claim read as {expected})")  # fmt: skip
    return outcome, text


def judge(claim: Claim, table: Table, columns: list[ColumnRuns]) -> Verdict:
    """Verdict on one claim from its checks: all supported, any contradicted, or neither."""
    by_label = {c.column.label: c for c in columns}
    labels = dict.fromkeys(label for ch in claim.checks for label in (ch.a, ch.b))
    missing = [f"{label}: {by_label[label].missing()}" for label in labels
               if by_label[label].missing()]  # fmt: skip
    if missing:
        return Verdict(claim, NOT_TESTABLE, tuple(missing))

    outcomes, details, greater, effects = [], [], [], []
    for check in claim.checks:
        a, b = paired_values(by_label[check.a], by_label[check.b], check.metric)
        if len(a) < 2:
            outcomes.append(NOT_TESTABLE)
            details.append(f"{check.metric}: {check.a} and {check.b} are {NOT_COMPARABLE}")
        elif check.kind == "ratio":
            outcome, text = _judge_ratio(check, a, b)
            outcomes.append(outcome)
            details.append(text)
            effects.append(f"{_ratio(a, b)[0]:.3g}x")
        else:
            greater.append((check, paired(a, b)))
    adjusted = holm([r.p for _, r in greater])
    for (check, r), p in zip(greater, adjusted):
        outcomes.append(greater_outcome(p, r.mean_diff))
        effects.append(_effect(check.metric, r.mean_diff))
        test = "paired t" if r.normal else "Wilcoxon"
        details.append(
            f"{check.metric}: {check.a} - {check.b} = {r.mean_diff:+.4g}, 95% CI "
            f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}], p = {p:.3g} ({test}, Holm over "
            f"{len(greater)} check{'s' if len(greater) > 1 else ''}), n = {r.count}"
        )
    return Verdict(claim, overall(outcomes), tuple(details), tuple(effects))


def claim_grid(
    tables: list[tuple[Table, list[ColumnRuns]]],
) -> tuple[list[str], list[tuple[str, dict[str, Verdict]]]]:
    """Claims as rows and table groups as columns: the groups in order, then each claim
    text with its verdict in every group whose tables state it."""
    groups = list(dict.fromkeys(t.group for t, _ in tables if t.group))
    rows: dict[str, dict[str, Verdict]] = {}
    for table, columns in tables:
        for claim in table.claims if table.group else ():
            rows.setdefault(claim.text, {})[table.group] = judge(claim, table, columns)
    return groups, list(rows.items())
