"""Every documented bound, at the bound (allowed) and one step past it (refused)."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.config.core import (
    MAX_RUNS,
    SEED_LIMIT,
    Config,
    check_runs,
    check_seeds,
    check_size,
    memory_bytes,
)
from mlpbench.config.fields import MAX_EPOCHS
from mlpbench.data.formula import MAX_INPUTS, MAX_RULE_CHARS, Rule
from mlpbench.data.tables import MAX_CLASSES, parse_csv
from mlpbench.engines.harness import DIVERGENCE_FACTOR, WEIGHT_LIMIT, diverged
from mlpbench.errors import UsageError


def test_the_documented_values():
    assert (MAX_EPOCHS, MAX_RUNS, SEED_LIMIT) == (10**7, 100_000, 2**63)
    assert (MAX_CLASSES, MAX_INPUTS, MAX_RULE_CHARS) == (100, 100, 500)
    assert (DIVERGENCE_FACTOR, WEIGHT_LIMIT) == (1e6, 1e12)


def test_epochs():
    assert Config(epochs=MAX_EPOCHS).epochs == MAX_EPOCHS
    with pytest.raises(UsageError, match="at most 10000000 per run"):
        Config(epochs=MAX_EPOCHS + 1)


def test_runs_and_seeds():
    assert check_runs(MAX_RUNS) == MAX_RUNS
    with pytest.raises(UsageError, match="runs must be at most 100000"):
        check_runs(MAX_RUNS + 1)
    assert check_seeds(SEED_LIMIT - 5, 5) == SEED_LIMIT - 5  # the last seed is 2^63 - 1
    with pytest.raises(UsageError, match="past the largest seed"):
        check_seeds(SEED_LIMIT - 4, 5)
    assert check_seeds(0, 1) == 0
    with pytest.raises(UsageError, match="seed must be an integer >= 0"):
        check_seeds(-1, 1)


@pytest.mark.parametrize(
    ("validation", "allowed"),
    [(0.0, True), (0.1, True), (0.9, True), (0.05, False), (0.95, False), (1.0, False)],
)  # of m = 10: 0.1 holds 1 point out, 0.9 holds 9; 0.05 rounds to 0 points, 0.95 to all 10
def test_validation_leaves_points_on_both_sides(validation, allowed):
    if allowed:
        assert Config(m=10, validation=validation).validation == validation
    else:
        with pytest.raises(UsageError, match="validation must be a fraction in"):
            Config(m=10, validation=validation)


def test_batch_size_is_at_most_the_trained_points():
    assert Config(m=10, batch_size=10).batch == 10
    with pytest.raises(UsageError, match="between 1 and m = 10"):
        Config(m=10, batch_size=11)
    assert Config(m=10, validation=0.2, batch_size=8).batch == 8
    with pytest.raises(UsageError, match="the trained points = 8"):
        Config(m=10, validation=0.2, batch_size=9)


def test_noise_is_a_fraction():
    for noise in (0.0, 1.0):
        assert Config(data="circle", noise=noise).noise == noise
    for noise in (-1e-9, 1.000001):
        with pytest.raises(UsageError, match=r"noise must be a number in \[0, 1\]"):
            Config(data="circle", noise=noise)


def _csv(classes: int) -> bytes:
    return ("x,y\n" + "".join(f"{i},{i % classes}\n" for i in range(2 * classes))).encode()


def test_at_most_max_classes():
    assert len(parse_csv(_csv(MAX_CLASSES), "d.csv", "").classes) == MAX_CLASSES
    with pytest.raises(UsageError, match="holds 101 classes; at most 100"):
        parse_csv(_csv(MAX_CLASSES + 1), "d.csv", "")


def test_a_formula_reads_at_most_max_inputs_and_max_rule_chars():
    assert Rule(f"x{MAX_INPUTS} > 0").inputs == MAX_INPUTS
    with pytest.raises(UsageError, match="at most x100"):
        Rule(f"x{MAX_INPUTS + 1} > 0")
    at_limit = "x1 > " + "0" * (MAX_RULE_CHARS - 5)
    assert len(at_limit) == MAX_RULE_CHARS and Rule(at_limit).inputs == 2  # at least 2 inputs
    with pytest.raises(UsageError, match="501 characters long; at most 500"):
        Rule(at_limit + "0")


def test_memory_need_equal_to_what_there_is_fits():
    config = Config(m=20, n=5, epochs=3)
    need = memory_bytes(config, 4)
    check_size(config, 4, need)
    with pytest.raises(UsageError, match="more than the"):
        check_size(config, 4, need - 1)


def test_divergence_at_its_factor_and_weight_limit():
    params = [np.array([[1.0]])]
    assert not diverged(np.array([1.0, DIVERGENCE_FACTOR]), params, 1.0)
    assert diverged(np.array([1.0, DIVERGENCE_FACTOR * 1.0001]), params, 1.0)
    assert not diverged(np.array([1.0]), [np.array([WEIGHT_LIMIT, -WEIGHT_LIMIT])], 1.0)
    assert diverged(np.array([1.0]), [np.array([WEIGHT_LIMIT * 1.0001])], 1.0)
    assert diverged(np.array([1.0, np.inf]), params, 1.0)
    assert diverged(np.array([1.0]), params, float("nan"))
