"""How figures read: units, mean ± std with its interval, times as medians; each cell a
document.Cell of lines, so every renderer lays it out its own way."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from mlpbench.analysis.stats import Summary, median_interval, summarize
from mlpbench.engines.results import METRICS
from mlpbench.report.document import Cell

if TYPE_CHECKING:
    from mlpbench.config.core import Job
    from mlpbench.engines.results import StoredRun

# row name -> (label, [(sub-label, metric)])
ROW_METRICS = {
    "accuracy": ("Accuracy", [("Train", "train_accuracy"), ("Test", "test_accuracy")]),
    "loss": ("Loss", [("Train", "train_loss"), ("Test", "test_loss")]),
    "time": ("Elapsed time", [("Train", "train_time_s"), ("Test", "test_time_s")]),
    "compile": ("Compile, warm-up", [("First call", "compile_time_s")]),
}


def _time_unit(seconds: float) -> tuple[str, float]:
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 1000 * scale:
            return unit, scale
    return "s", 1.0


def format_duration(seconds: float, like: float | None = None) -> str:
    """Human units as the report writes them (76ms, 1.29s, 15m 5s); `like` picks the unit."""
    if not math.isfinite(seconds) or (like is not None and not math.isfinite(like)):
        return "n/a"
    unit, scale = _time_unit(seconds if like is None else like)
    if unit == "s" and like is None and seconds >= 60:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)}m {rest:.0f}s"
    value = seconds / scale
    return f"{value:.3g}{unit}" if abs(value) < 1000 else f"{value:.0f}{unit}"


def format_value(metric: str, value: float) -> str:
    """One figure in the unit of its metric."""
    if metric.endswith("_accuracy"):
        return f"{value:.2f}%"
    if metric.endswith("_time_s"):
        return format_duration(value)
    return f"{value:.6f}" if abs(value) < 1e6 else f"{value:.4g}"


def format_cell(metric: str, s: Summary) -> Cell:
    """Mean ± std, then the 95% CI of the mean, with diverged runs named, never averaged in."""
    if s.count == 0 and s.diverged == 0:
        return Cell.of("not run", kind="missing")
    if s.count == 0:
        return Cell.of(f"diverged ({s.diverged}/{s.diverged})", kind="missing")
    text = f"{format_value(metric, s.mean)} ± {format_value(metric, s.std)}"
    ci = [format_value(metric, v) for v in (s.ci_low, s.ci_high)]
    interval = f"[{ci[0]}, {ci[1]}]" if s.ci_high > s.ci_low else ""
    diverged = f"({s.diverged}/{s.count + s.diverged} diverged)" if s.diverged else ""
    return Cell.of(text, interval, diverged)


def time_cell(runs: list[StoredRun], metric: str) -> Cell:
    """A time per run: the median with its 95% bootstrap interval; where an engine timed the
    runs together and gave each the same share, that share and the size of the call it is a
    share of; a compile, paid once per call and not shared, as once per call."""
    times = [r.metrics[metric] for r in runs if r.metrics[metric] is not None]
    times = [t for t in times if math.isfinite(t)]
    if not times:
        return Cell.of("n/a", kind="missing")
    group = max(r.group_size for r in runs)
    if group > 1 and max(times) == min(times):
        if metric == "compile_time_s":
            return Cell.of(f"{format_duration(times[0])} once", f"(one compile for a call of "
                           f"{group} runs)")  # fmt: skip
        return Cell.of(f"{format_duration(times[0])} per run", f"(1/{group} of a call that "
                       f"trained {group} runs)")  # fmt: skip
    m = median_interval(times)
    low, high = (format_duration(v, like=m.median) for v in (m.low, m.high))
    return Cell.of(f"median {format_duration(m.median)}", f"[{low}, {high}]")


METRIC_NAMES = {"train_accuracy": "train accuracy", "test_accuracy": "test accuracy",
                "train_loss": "train loss", "test_loss": "test loss",
                "train_time_s": "train time", "test_time_s": "test time",
                "compile_time_s": "compile time"}  # fmt: skip
_METRIC = re.compile("|".join(METRIC_NAMES))


def human(text: str) -> str:
    """A text with metric names as people say them (test_accuracy -> test accuracy)."""
    return _METRIC.sub(lambda m: METRIC_NAMES[m.group(0)], text)


def json_number(x: float | None) -> float | None:
    """NaN and infinities become None (null), so JSON output stays strict."""
    return None if x is None or not math.isfinite(x) else x


def jsonable(value: object) -> object:
    """Every float in a nested structure through json_number."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def summary(job: Job, run_seeds: list[int], stored: list[StoredRun]) -> dict:
    """One job's runs as `train --json` prints them: mean and std of every metric (null
    where undefined)."""
    flags = [r.diverged for r in stored]
    metrics = {}
    for metric in METRICS:
        s = summarize([r.metrics[metric] for r in stored], flags, metric)
        metrics[metric] = {"mean": json_number(s.mean), "std": json_number(s.std)}
    return {
        "config": job.config.as_dict(),
        "engine": job.engine,
        "dtype": job.dtype,
        "runs": len(stored),
        "diverged": sum(flags),
        "seeds": run_seeds,
        "metrics": metrics,
    }
