"""Config: validation of every field, its canonical form and the registries it reads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mlpbench.config.core import (
    Config,
    Job,
    check_device,
    check_dtype,
    check_runs,
    check_seeds,
)
from mlpbench.config.fields import CONFIG_FIELDS, FIELDS, KINDS, SECTION_KEYS, SECTIONS, Field
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
    ({"hidden": (3, 0)}, "hidden layer size must be an integer in [1, 100000], got 0"),
    ({"hidden": (10**400,)}, "hidden layer size must be an integer in [1, 100000], got an "
     "integer of 401 digits"),
    ({"lr": 10**400}, "learning rate must be a finite number > 0, got an integer of 401 digits"),
    ({"m": 10**400}, "m must be at most 1000000000, got an integer of 401 digits"),
    ({"range": (0, 10**400)}, "range must be two finite numbers low < high"),
    ({"lr": 0.0}, "learning rate must be a finite number > 0, got 0.0"),
    ({"lr": float("nan")}, "learning rate must be a finite number > 0, got nan"),
    ({"lr": "1"}, "learning rate must be a finite number > 0, got '1'"),
    ({"batch_size": 0}, "batch size must be an integer >= 1, got 0"),
    ({"batch_size": 1001}, "batch size must be between 1 and m = 1000, got 1001"),
    ({"validation": 1.0}, "validation must be a fraction in [0, 1)"),
    ({"validation": 0.0001, "m": 10}, "leaving points on both sides of m = 10"),
    ({"validation": 0.5, "batch_size": 600}, "between 1 and the trained points = 500"),
    ({"momentum": 1.0}, "momentum must be a number in [0, 1), got 1.0"),
    ({"optimizer": "adam", "epsilon": 0}, "epsilon must be a number > 0, got 0"),
    ({"weight_decay": -0.1}, "weight_decay must be a number >= 0, got -0.1"),
    ({"weight_decay": float("inf")}, "weight_decay must be a number >= 0, got inf"),
    ({"nesterov": "yes"}, "nesterov must be true or false, got 'yes'"),
    ({"momentum": True}, "momentum must be a number in [0, 1), got True"),
    ({"optimizer": "adam", "momentum": 0.9},
     "momentum applies to optimizer sgd, rmsprop, not to 'adam'"),
    ({"beta_1": 0.5}, "beta_1 applies to optimizer adam, adamw, adamax, nadam, lion, not to 'sgd'"),
    ({"optimizer": "lion", "epsilon": 1e-8}, "epsilon applies to optimizer rmsprop, adam, adamw,"
     " adagrad, adamax, nadam, not to 'lion'"),
    ({"nesterov": True}, "nesterov needs momentum > 0, got momentum None"),
    ({"nesterov": True, "momentum": 0.0}, "nesterov needs momentum > 0, got momentum 0.0"),
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
    from mlpbench.nn.activations import ACTIVATIONS
    from mlpbench.nn.initializers import INITIALIZERS
    from mlpbench.nn.losses import LOSSES
    from mlpbench.nn.optimizers import OPTIMIZERS
    from mlpbench.nn.schedules import SCHEDULES
    from mlpbench.nn.stopping import MONITORS
    from mlpbench.nn.stopping import RULES as STOP_RULES

    registries = {f.name: f.allowed() for f in FIELDS if f.kind == "choice"}
    assert registries == {"activation": tuple(ACTIVATIONS), "init": tuple(INITIALIZERS),
                          "loss": tuple(LOSSES),
                          "optimizer": tuple(OPTIMIZERS), "schedule": tuple(SCHEDULES),
                          "early_stopping": tuple(MONITORS),
                          "stop_rule": tuple(STOP_RULES)}  # fmt: skip
    needs = {"cce": {"data": "iris"},  # 3 classes or more
             "exponential": {"decay_rate": 0.5}, "inverse_time": {"decay_rate": 0.5},
             "piecewise": {"boundaries": (10,), "values": (1.0, 0.1)},
             "keras": {"early_stopping": "loss"}, "sklearn": {"early_stopping": "loss"}}
    for field, registry in registries.items():
        assert field in CONFIG_FIELDS
        for name in registry:
            Config(**{field: name}, **needs.get(name, {}))  # every registered name is valid


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


# The fields every configuration key holds: the seed's own, from before the field table. A
# field added since is left out of the key while at its default, so no stored run's key moves.
SEED_FIELDS = ("data", "m", "n", "hidden", "activation", "loss", "batch_size", "epochs",
               "validation", "optimizer", "lr")  # fmt: skip


def test_the_seed_configuration_keeps_its_key():
    assert Config().key() == "b1e142657acbe4af"
    assert sorted(Config().as_dict()) == sorted(SEED_FIELDS)


def test_every_bundled_column_keeps_its_key():
    from mlpbench.service import bundled_study

    expected = json.loads((Path(__file__).parent / "bundled_keys.json").read_text())
    for name, keys in expected.items():
        study = bundled_study(name)
        found = {f"{t.number}/{c.label}": c.config.key() for t in study.tables for c in t.columns}
        assert found == keys, name


def test_only_the_seed_fields_are_keyed_and_a_field_at_its_default_changes_no_key():
    assert tuple(f.name for f in FIELDS if f.keyed) == SEED_FIELDS
    for f in FIELDS:
        assert Config(**{f.name: f.default}).key() == Config().key(), f.name
        if not f.keyed:
            assert f.name not in Config().as_dict()


def test_a_field_away_from_its_default_is_in_the_key():
    assert "noise" in Config(data="circle", noise=0.1).as_dict()
    assert Config(data="circle", noise=0.1).key() != Config(data="circle").key()


def test_a_setting_at_its_optimizers_default_is_not_in_the_key():
    """Given or not, an optimizer's own default trains the same: one key, as stores hold."""
    same = [({"optimizer": "sgd"}, {"momentum": 0.0}), ({"optimizer": "sgd"}, {"momentum": 0}),
            ({"optimizer": "sgd"}, {"nesterov": False, "weight_decay": 0}),
            ({"optimizer": "adamw"}, {"weight_decay": 0.004}),
            ({"optimizer": "lion"}, {"beta_2": 0.99}), ({"optimizer": "adam"}, {"beta_2": 0.999}),
            ({"optimizer": "adam"}, {"momentum": 0.0})]  # fmt: skip
    for base, given in same:
        assert Config(**base, **given).key() == Config(**base).key(), given
    assert Config(optimizer="adam").as_dict() == Config(optimizer="adam", epsilon=1e-7).as_dict()


def test_a_setting_away_from_its_default_is_in_the_key_as_a_number():
    sgd = Config(optimizer="sgd", momentum=0.9)
    assert sgd.as_dict()["momentum"] == 0.9 and sgd.key() != Config().key()
    assert sgd.replace(nesterov=True).key() != sgd.key()
    assert Config(weight_decay=1).key() == Config(weight_decay=1.0).key()
    assert Config(optimizer="lion", beta_2=0.999).key() != Config(optimizer="lion").key()
    assert Config(optimizer="adamw", weight_decay=0).key() != Config(optimizer="adamw").key()
    assert Config(optimizer="adamw", weight_decay=0).key() != Config(optimizer="adam").key()


def test_settings_resolve_to_the_optimizers_keras_defaults():
    assert Config(optimizer="lion").settings.beta_2 == 0.99
    assert Config(optimizer="adamw").settings.weight_decay == 0.004
    s = Config(optimizer="rmsprop", rho=0.5, momentum=0).settings
    assert (s.rho, s.momentum, s.epsilon, s.centered) == (0.5, 0.0, 1e-7, False)
    assert isinstance(s.momentum, float)


def test_config_has_one_attribute_per_field_in_order_with_its_default():
    assert tuple(f.name for f in dataclasses.fields(Config)) == CONFIG_FIELDS
    for f in FIELDS:
        value = getattr(Config(), f.name)
        assert value == f.default or f.name in ("m", "n", "loss"), f.name  # resolved ones


def test_with_no_loss_given_the_loss_follows_the_data():
    assert Config().loss == "bce" and Config(data="circle").loss == "bce"
    assert Config(data="iris").loss == "cce"  # three classes
    assert Config(data="iris", loss="mse").loss == "mse"  # a loss given is kept
    assert Config(loss=None).key() == Config(loss="bce").key()  # the seed's keys as they were


def test_each_section_names_its_fields_by_a_key_of_its_own():
    assert set(SECTION_KEYS) == set(SECTIONS)
    assert sum(len(keys) for keys in SECTION_KEYS.values()) == len(FIELDS)
    assert SECTION_KEYS["optimizer"]["name"].name == "optimizer"
    assert SECTION_KEYS["data"]["name"].name == "data"
    assert Config(optimizer="adam", lr=0.1).section("optimizer") == {"name": "adam", "lr": 0.1}


def test_every_kind_checks_its_values():
    cases = {  # kind: (an allowed value, a refused one, what the error says of it)
        "count": (1, 0, "got 0"), "optional count": (None, 0, "got 0"),
        "rate": (0.5, float("inf"), "got inf"), "fraction": (1.0, 1.5, "[0, 1], got 1.5"),
        "holdout": (0.5, 1.0, "[0, 1), got 1.0"), "sizes": ((2, 3), (2, -1), "got -1"),
        "interval": ((0, 1), (1, 0), "low < high"), "text": ("x", 5, "got 5"),
        "choice": ("a", "b", "'b'; allowed: a"), "scale": (None, "c", "'c'; allowed: a"),
        "coefficient": (0.0, 1, "in [0, 1), got 1"), "positive": (1e-300, 0.0, "> 0, got 0.0"),
        "nonnegative": (0, -1e-300, ">= 0, got -1e-300"), "switch": (False, 0, "got 0"),
        "steps": (0, -1, "in [0, 1000000000000], got -1"),
        "boundaries": ((0, 10), (True,), "update counts in [0, 1000000000000], got (True,)"),
        "multiples": ((1, 0.5), (1.0,), "2 to 101 finite numbers > 0, got (1.0,)"),
        "penalty": (0, -1e-300, "finite number >= 0, got -1e-300"),
        "features": (("x1", "x1*x2"), ("x1", 2), "at most 100 expressions"),
    }  # fmt: skip
    assert set(cases) == set(KINDS)
    settings = ("coefficient", "positive", "nonnegative", "switch", "steps", "boundaries",
                "multiples")  # fmt: skip
    for kind, (good, bad, said) in cases.items():
        if kind in settings:
            Field("f", "optimizer", kind, None, "help").check(None)  # not given
        default = None if kind in ("optional count", "scale", *settings) else good
        f = Field("f", "data", kind, default, "help", choices=lambda: ("a",))
        f.check(good)
        with pytest.raises(UsageError) as e:
            f.check(bad)
        assert e.value.field == "f" and said in str(e.value), kind


def test_the_memory_estimate_worked_by_hand():
    from mlpbench.config.core import check_size, memory_bytes

    # (2, 3, 1): weights (2+1)*3 + (3+1)*1 = 13, kept 5 times (weights, gradient, three
    # optimizer buffers); activations of a batch of 4: 4 * 6 * 2 = 48; per run
    # 8 * ((20 + 5) * (2 + 1) + 5 * 13 + 48) = 1504 bytes, its loss curve 8 * 3, and its batch
    # order 4 * 3 epochs * 20 points (mini-batches): 2 runs need 2 * 1768 = 3536
    config = Config(m=20, n=5, epochs=3, batch_size=4)
    assert memory_bytes(config, 2) == 3536
    assert memory_bytes(config.replace(batch_size=None), 1) == 8 * (75 + 65 + 20 * 6 * 2) + 24
    with pytest.raises(UsageError) as e:
        check_size(config, 2, 3535)
    assert str(e.value).startswith("2 run(s) of m=20, n=5, hidden=[3], epochs=3, batch=4 need "
                                   "about 3.29e-06 GiB, more than the 3.29e-06 GiB")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"target": "y"}, "target applies to a CSV data file only, not to data set 'quadratic'",
         "target"),
        ({"test": "t.txt"}, "test applies to a CSV data file only", "test"),
        ({"noise": 0.2}, "noise applies to data sets circle, xor, gauss, spiral, moons only; got "
         "data set 'quadratic'", "noise"),
        ({"rule": "x1 > 0"}, "rule and range apply to data set 'formula' only", "rule"),
        ({"range": (-1.0, 1.0)}, "rule and range apply to data set 'formula' only", "rule"),
        ({"data": "formula"}, "data set 'formula' needs a rule", "rule"),
        ({"data": "iris", "loss": "bce"}, "loss 'bce' is for two classes; data 'iris' have 3: "
         "use cce (or mse)",
         "loss"),
        ({"data": "breast-cancer", "loss": "cce"}, "loss 'cce' is for 3 or more classes; data "
         "'breast-cancer' have 2: use bce (or mse)", "loss"),
        ({"data": "iris", "loss": "mse", "m": 140, "n": 11},
         "m + n = 140 + 11 is more than the 150 rows of 'iris'", "n"),
        ({"data": "iris", "loss": "mse", "m": 150}, "m + n = 150 + 30 is more than", "m"),
        ({"data": "wonder.txt"}, "unknown data set 'wonder.txt'", "data"),
        ({"range": (1.0, 1.0), "data": "formula", "rule": "x1 > 0"},
         "range must be two finite numbers low < high", "range"),
    ],
)  # fmt: skip
def test_each_data_rule_names_its_field(fields, message, field):
    if fields.get("data") in ("iris", "breast-cancer"):
        pytest.importorskip("sklearn")  # it ships those tables
    with pytest.raises(UsageError) as e:
        Config(**fields)
    assert message in str(e.value) and e.value.field == field


def test_a_files_key_is_its_content_not_its_path(tmp_path):
    rows = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20))
    for name in ("one.csv", "two.csv", "test.csv", "other-test.csv"):
        (tmp_path / name).write_text(rows)
    one, two = Config(data=str(tmp_path / "one.csv")), Config(data=str(tmp_path / "two.csv"))
    assert one.key() == two.key() and one.as_dict()["data"] != two.as_dict()["data"]
    tested = [Config(data=str(tmp_path / "one.csv"), test=str(tmp_path / name))
              for name in ("test.csv", "other-test.csv")]  # fmt: skip
    assert tested[0].key() == tested[1].key() != one.key()
    (tmp_path / "two.csv").write_text(rows + "99,1\n")
    assert Config(data=str(tmp_path / "two.csv")).key() != one.key()


def test_the_seed_limit_message_says_the_seeds_and_the_largest_first_seed():
    with pytest.raises(UsageError) as e:
        check_seeds(2**63 - 2, 5)
    assert str(e.value) == (f"seeds {2**63 - 2}..{2**63 + 2} run past the largest seed 2^63 - 1;"
                            f" use a seed <= {2**63 - 5}")  # fmt: skip
    with pytest.raises(UsageError, match="seed must be an integer >= 0, got True"):
        check_seeds(True, 1)


def test_a_csv_configurations_key_stays_what_stores_hold(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    config = Config(data=str(path))
    assert config.key() == "ac6c76ff0d1abfd9"  # as before the field table; "data": "file"
    assert config.as_dict()["file_sha256"] == config.info.sha256


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"validation": 0.95, "m": 10}, "leaving points on both sides of m = 10", "validation"),
        ({"batch_size": 1001}, "batch size must be between 1 and m = 1000", "batch_size"),
        ({"data": "iris", "loss": "mse", "m": 149, "n": 2},
         "m + n = 149 + 2 is more than the 150 rows", "n"),  # m leaves a row: n is at fault
    ],
)  # fmt: skip
def test_cross_field_rules_name_the_field_at_fault(fields, message, field):
    if fields.get("data") == "iris":
        pytest.importorskip("sklearn")
    with pytest.raises(UsageError) as e:
        Config(**fields)
    assert message in str(e.value) and e.value.field == field


def test_a_test_files_rows_bound_n(tmp_path):
    rows = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(10))
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "test.csv").write_text(rows[: rows.index("4,0")])  # 4 rows
    with pytest.raises(UsageError) as e:
        Config(data=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"), n=5)
    assert str(e.value) == "n = 5 is larger than the 4 rows of 'test.csv'" and e.value.field == "n"
    with pytest.raises(UsageError) as e:
        Config(data=str(tmp_path / "train.csv"), test="test.txt")
    assert e.value.field == "test" and "test must be a .csv file, got 'test.txt'" in str(e.value)
    assert check_runs(1) == 1


def test_a_stored_configuration_says_the_settings_it_trained_with():
    from mlpbench.config.core import trained_settings

    sgd = trained_settings(Config(optimizer="sgd", momentum=0.9).as_dict())
    assert sgd["momentum"] == 0.9 and sgd["nesterov"] is False and sgd["weight_decay"] == 0.0
    assert sgd["beta_1"] is None and sgd["epsilon"] is None  # sgd reads neither
    lion = trained_settings({"optimizer": "lion"})  # a store written before these fields
    assert (lion["beta_2"], lion["weight_decay"], lion["momentum"]) == (0.99, 0.0, None)
    assert trained_settings({"optimizer": "adamw"})["weight_decay"] == 0.004


def test_a_section_shows_a_setting_once_it_is_given():
    assert Config(optimizer="sgd", momentum=0.9, lr=0.1).section("optimizer") == {
        "name": "sgd", "lr": 0.1, "momentum": 0.9}  # fmt: skip


@pytest.mark.parametrize(("fields", "field"), [
    ({"optimizer": "adam", "momentum": 0.9}, "momentum"), ({"nesterov": True}, "nesterov"),
])  # fmt: skip
def test_a_settings_error_names_its_field(fields, field):
    with pytest.raises(UsageError) as e:
        Config(**fields)
    assert e.value.field == field
