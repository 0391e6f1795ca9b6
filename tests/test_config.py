"""Config: validation of every field, its canonical form and the registries it reads."""

from __future__ import annotations

import pytest

from mlpbench.config.core import (
    CONFIG_FIELDS,
    REGISTRIES,
    Config,
    Job,
    check_device,
    check_dtype,
    check_runs,
)
from mlpbench.errors import UsageError

BAD = [
    ({"data": "helix"}, "unknown data set 'helix'; allowed: quadratic"),
    ({"loss": "hinge"}, "unknown loss 'hinge'; allowed: bce, cce, mse"),
    ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
    ({"activation": "swish"}, "unknown activation 'swish'"),
    ({"m": 0}, "m must be an integer >= 1, got 0"),
    ({"n": 2.5}, "n must be an integer >= 1, got 2.5"),
    ({"epochs": True}, "epochs must be an integer >= 1, got True"),
    ({"epochs": 10**7 + 1}, "epochs must be at most 10000000 per run, got 10000001"),
    ({"hidden": 3}, "hidden must be a list of layer sizes such as [3], got 3"),
    ({"hidden": ()}, "hidden must list at least one layer size"),
    ({"hidden": (3, 0)}, "hidden layer size must be an integer >= 1, got 0"),
    ({"lr": 0.0}, "learning rate must be a finite number > 0, got 0.0"),
    ({"lr": float("nan")}, "learning rate must be a finite number > 0, got nan"),
    ({"lr": "1"}, "learning rate must be a finite number > 0, got '1'"),
    ({"batch_size": 0}, "batch size must be an integer >= 1, got 0"),
    ({"batch_size": 1001}, "batch size must be between 1 and m = 1000, got 1001"),
    ({"validation": 1.0}, "validation must be a fraction in [0, 1)"),
    ({"validation": 0.0001, "m": 10}, "leaving points on both sides of m = 10"),
    ({"validation": 0.5, "batch_size": 600}, "between 1 and the trained points = 500"),
]


@pytest.mark.parametrize(("fields", "message"), BAD)
def test_bad_fields_are_refused_with_the_value_and_what_is_allowed(fields, message):
    with pytest.raises(UsageError) as e:
        Config(**fields)
    assert message in str(e.value)


def test_replace_validates_again():
    with pytest.raises(UsageError, match="learning rate"):
        Config().replace(lr=-1.0)


def test_full_batch_and_batch_of_m_are_one_configuration():
    assert Config(batch_size=None).key() == Config(batch_size=1000).key()
    assert Config(batch_size=None).as_dict()["batch_size"] == 1000
    assert Config(lr=10).key() == Config(lr=10.0).key()  # an int rate is the same rate
    assert Config(lr=10.0).key() != Config(lr=1.0).key()


def test_validation_holds_out_the_last_points():
    config = Config(m=100, validation=0.2)
    assert config.train_size == 80 and config.batch == 80
    assert Config(hidden=[4, 3]).layer_sizes == (2, 4, 3, 1)


def test_registries_are_the_only_source_of_names():
    for field, (_, registry) in REGISTRIES.items():
        assert field in CONFIG_FIELDS
        for name in registry:
            data = {"data": "iris"} if name == "cce" else {}  # cce needs 3 classes or more
            Config(**{field: name}, **data)  # every registered name is a valid value


def test_job_describes_itself():
    assert Job(Config(), "numba").describe() == "numba, float64"
    assert Job(Config(), "jax", "float32", "gpu").describe() == "jax, float32, GPU"


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_dtype, "float16", "unknown dtype 'float16'; allowed: float64, float32"),
        (check_device, "tpu", "unknown device 'tpu'; allowed: cpu, gpu"),
        (check_runs, 0, "runs must be an integer >= 1, got 0"),
        (check_runs, "3", "runs must be an integer >= 1, got '3'"),
    ],
)
def test_checks(check, value, message):
    with pytest.raises(UsageError) as e:
        check(value)
    assert str(e.value) == message
