"""The harness: each run's share of the measured times, checked with a clock we control."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mlpbench.config.core import Config
from mlpbench.engines import harness
from mlpbench.engines.harness import _per_run


def test_a_share_is_one_rth_or_in_proportion_to_a_runs_own_time():
    assert _per_run(8.0, None, 4).tolist() == [2.0, 2.0, 2.0, 2.0]
    assert _per_run(8.0, np.array([1.0, 3.0]), 2).tolist() == [2.0, 6.0]  # 1:3 of 8 s
    assert _per_run(6.0, np.array([0.0, 0.0]), 2).tolist() == [3.0, 3.0]  # no own times
    assert _per_run(6.0, np.array([1.0, np.nan]), 2).tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="one time per run"):
        _per_run(6.0, np.array([1.0, 2.0, 3.0]), 2)


class _Clock:
    """time.perf_counter that reads 0, 1, 4, 4.5, ...: compile 1 s, fit 3 s, predict 0.5 s."""

    def __init__(self):
        self.ticks = itertools.chain([0.0, 1.0, 1.0, 4.0, 4.0, 4.5], itertools.count(5.0))

    def perf_counter(self) -> float:
        return next(self.ticks)


@pytest.mark.parametrize("runs", [1, 3])
def test_the_shares_add_up_to_the_measured_wall_time(monkeypatch, runs):
    monkeypatch.setattr(harness, "time", _Clock())
    results = harness.train("numpy", Config(m=20, n=5, epochs=2), list(range(runs)))
    train = [r.metrics["train_time_s"] for r in results]
    test = [r.metrics["test_time_s"] for r in results]
    assert sum(train) == pytest.approx(3.0) and sum(test) == pytest.approx(0.5)
    assert train == pytest.approx([3.0 / runs] * runs)  # numpy trains runs together
    assert all(r.metrics["compile_time_s"] == pytest.approx(1.0) for r in results)


def test_accuracy_of_one_sigmoid_unit_worked_by_hand():
    # run 0: outputs 0.5 (class 1: a tie goes to 1), 0.49, 0.9, 0.1 against 1, 1, 0, 0: 2 of 4
    # run 1: 0.7, 0.6, 0.2, 0.3 against the same: all 4 right
    p = np.array([[0.5, 0.49, 0.9, 0.1], [0.7, 0.6, 0.2, 0.3]])[..., None]
    y = np.array([[1.0, 1.0, 0.0, 0.0]] * 2)[..., None]
    assert harness.accuracy(p, y).tolist() == [50.0, 100.0]


def test_accuracy_of_a_softmax_is_its_largest_output_the_first_of_equals():
    y = np.eye(3)[[[0, 1, 2], [2, 2, 0]]]  # (2 runs, 3 samples, 3 classes), one-hot
    p = np.array([[[0.4, 0.4, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]],  # first of equals: 0
                  [[0.2, 0.3, 0.5], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]]])  # fmt: skip
    # run 0: predicts 0, 1, 2 -> 3 of 3; run 1: predicts 2, 0, 2 against 2, 2, 0 -> 1 of 3
    assert harness.accuracy(p, y).tolist() == pytest.approx([100.0, 100.0 / 3])


def test_accuracy_refuses_outputs_and_targets_of_other_shapes():
    with pytest.raises(ValueError, match=r"outputs \(1, 2, 1\) and targets \(1, 2, 3\)"):
        harness.accuracy(np.zeros((1, 2, 1)), np.zeros((1, 2, 3)))


def test_divergence_is_measured_against_the_first_epoch():
    params = [np.zeros((1, 1))]
    assert not harness.diverged(np.array([2.0, 1.5e6]), params, 1.0)  # 0.75e6 x the first
    assert harness.diverged(np.array([2.0, 2.5e6]), params, 1.0)  # 1.25e6 x the first


def test_shares_of_own_times_below_a_second_and_results_of_other_run_counts():
    assert _per_run(1.0, np.array([0.3, 0.2]), 2).tolist() == pytest.approx([0.6, 0.4])
    metrics = {m: np.zeros(2) for m in harness.METRICS}
    with pytest.raises(ValueError, match="other than 2 runs"):
        harness.collect([0, 1], np.zeros((3, 4)), [np.zeros((2, 1))], metrics)
    with pytest.raises(ValueError, match="other than 2 runs"):
        harness.collect([0, 1], np.zeros((2, 4)), [np.zeros((3, 1))], metrics)
