"""How figures read in the report: each format worked out by hand (report/formatting.py)."""

from __future__ import annotations

import pytest

from conftest import stored_run
from mlpbench.analysis.stats import Summary
from mlpbench.report.formatting import format_cell, format_duration, format_value, human

NAN = float("nan")


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("test_accuracy", 99.4499, "99.45%"),
        ("train_loss", 0.0218113, "0.021811"),  # six decimals, as the seed report gives losses
        ("test_loss", 1.5, "1.500000"),
        ("test_loss", 2.5e6, "2.5e+06"),  # a blown-up loss reads short
        ("train_time_s", 1.29, "1.29s"),
        ("test_time_s", 0.076, "76ms"),
        ("train_time_s", 905.0, "15m 5s"),
        ("train_time_s", 0.0000421, "42.1µs"),
    ],
)
def test_format_value(metric, value, shown):
    assert format_value(metric, value) == shown


def test_a_duration_in_the_unit_of_another():
    assert format_duration(0.0021, like=0.5) == "2.1ms"
    assert format_duration(NAN) == "n/a"


def test_a_cell_names_its_diverged_runs_out_of_all_its_runs():
    # 18 runs finished, 2 diverged: the cell says 2 of 20, and averages only the 18
    cell = format_cell("test_accuracy", Summary(98.5, 1.25, 18, 2, 97.88, 99.12))
    assert cell.lines == ("98.50% ± 1.25%", "[97.88%, 99.12%]", "(2/20 diverged)")
    assert format_cell("test_loss", Summary(NAN, NAN, 0, 3, NAN, NAN)).lines == (
        "diverged (3/3)",)  # fmt: skip
    assert format_cell("test_loss", Summary(NAN, NAN, 0, 0, NAN, NAN)).lines == ("not run",)


def test_a_cell_without_spread_has_no_interval():
    cell = format_cell("train_loss", Summary(0.5, 0.0, 4, 0, 0.5, 0.5))
    assert cell.lines == ("0.500000 ± 0.000000",)


def test_metric_names_read_as_people_say_them():
    assert human("test_accuracy: a - b") == "test accuracy: a - b"


def _run(seconds: float, group: int = 1, diverged: bool = False, seed: int = 0):
    from mlpbench.engines.results import METRICS

    return stored_run(seed, dict.fromkeys(METRICS, 1.0) | {"train_time_s": seconds}, diverged,
                      group)  # fmt: skip


def test_a_time_cell_is_a_shared_share_or_a_median_with_its_interval():
    from mlpbench.report.formatting import time_cell

    assert time_cell([_run(0.002, 20)] * 20, "train_time_s").lines == (
        "2ms per run", "(1/20 of a call that trained 20 runs)")  # fmt: skip
    # a compile is paid once per call, not shared out
    compiled = [stored_run(0, {"compile_time_s": 17.7}, group=33)] * 20
    assert time_cell(compiled, "compile_time_s").lines == (
        "17.7s once", "(one compile for a call of 33 runs)")  # fmt: skip
    # one process timed each: the median of 10, 20, 30 ms, its interval in ms too
    cell = time_cell([_run(t) for t in (0.01, 0.02, 0.03)], "train_time_s")
    assert cell.lines == ("median 20ms", "[10ms, 30ms]")
    assert time_cell([_run(float("nan"))], "train_time_s").lines == ("n/a",)


def test_the_json_summary_of_a_job():
    from mlpbench.config.core import Config, Job
    from mlpbench.report.formatting import jsonable, summary

    runs = [_run(0.5, seed=3), _run(1.5, seed=4), _run(99.0, seed=5, diverged=True)]
    out = summary(Job(Config(), "numpy"), [3, 4, 5], runs)
    assert (out["engine"], out["dtype"], out["runs"], out["diverged"]) == ("numpy", "float64",
                                                                          3, 1)  # fmt: skip
    assert out["seeds"] == [3, 4, 5] and out["config"] == Config().as_dict()
    spread = pytest.approx(0.707107, abs=1e-6)  # of 0.5 and 1.5; the diverged run left out
    assert out["metrics"]["train_time_s"] == {"mean": 1.0, "std": spread}
    alone = summary(Job(Config(), "numpy"), [3], runs[:1])
    assert alone["metrics"]["train_time_s"] == {"mean": 0.5, "std": 0.0}
    assert jsonable({"a": [NAN, 1.0, (float("inf"),)], "b": "x"}) == {"a": [None, 1.0, [None]],
                                                                      "b": "x"}  # fmt: skip


def test_the_units_change_at_their_bounds():
    assert format_duration(0.000999) == "999µs" and format_duration(0.001) == "1ms"
    assert format_duration(59.0) == "59s" and format_duration(60.0) == "1m 0s"
    assert format_duration(5000.0, like=0.5) == "5000000ms"
    assert format_value("test_loss", 999999.0) == "999999.000000"
    assert format_value("test_loss", 1e6) == "1e+06"


def test_missing_cells_are_marked_missing():
    from mlpbench.report.formatting import time_cell

    assert format_cell("test_loss", Summary(NAN, NAN, 0, 0, NAN, NAN)).kind == "missing"
    assert format_cell("test_loss", Summary(NAN, NAN, 0, 2, NAN, NAN)).kind == "missing"
    assert time_cell([_run(NAN)], "train_time_s").kind == "missing"
    # one process timed these runs one by one and they took the same time: a median
    assert time_cell([_run(0.002)] * 3, "train_time_s").lines[0] == "median 2ms"
    # shared by two runs, the first one's share is shown
    assert time_cell([_run(0.004, 2), _run(0.004, 2)], "train_time_s").lines == (
        "4ms per run", "(1/2 of a call that trained 2 runs)")  # fmt: skip
    cell = time_cell([_run(t) for t in (0.0005, 0.002, 0.003)], "train_time_s")
    assert cell.lines[1].endswith("ms]") and "µs" not in cell.lines[1]  # in the median's unit
