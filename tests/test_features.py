"""Feature inputs: expressions of the drawn points, computed per seed before scaling, the
network's inputs; plots stay in the data's own plane."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlpbench import cli, engines
from mlpbench.config.core import Config
from mlpbench.data.dataset import drawn_points, make_dataset
from mlpbench.data.formula import Feature
from mlpbench.errors import UsageError

PLAYGROUND = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
X = np.array([[1.0, 2.0], [3.0, -1.0]])


@pytest.mark.parametrize(("text", "want"), [
    ("x1", [1.0, 3.0]), ("x1^2", [1.0, 9.0]), ("x1**2", [1.0, 9.0]), ("x1*x2", [2.0, -3.0]),
    ("sin(x2)", [np.sin(2.0), np.sin(-1.0)]), ("x2 > 0", [1.0, 0.0]), ("abs(x2) + 1", [3.0, 2.0]),
])  # fmt: skip
def test_feature_values_worked_by_hand(text, want):
    values = Feature(text).values(X)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, want, rtol=1e-15)


@pytest.mark.parametrize(("features", "message"), [
    (("x1", "y"), "feature 'y': unknown name 'y'"),
    (("x1 +",), "feature 'x1 +': cannot be read"),
    (("3",), "feature '3': it uses no input x1..xk"),
    (("x3",), "feature 'x3' reads x3; data 'quadratic' have 2 inputs (x1..x2)"),
    (("",), "features must be a list of at most 100 expressions"),
    ("x1", "features must be a list of at most 100 expressions"),
])  # fmt: skip
def test_a_bad_feature_is_one_line(features, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("+", r"\+")):  # fmt: skip
        Config(features=features)


def test_a_feature_not_finite_at_a_point_is_one_line():
    config = Config(data="circle", features=("x1", "exp(x2 * 1000)"), m=20, n=5)
    with pytest.raises(UsageError, match=r"feature 'exp\(x2 \* 1000\)' is inf at x1 = .*; a "
                                         "feature must be finite at every point"):  # fmt: skip
        make_dataset(config, 0)


def test_the_network_reads_the_features_computed_from_each_runs_points():
    plain, featured = Config(m=30, n=10), Config(m=30, n=10, features=PLAYGROUND)
    assert featured.layer_sizes == (7, 3, 1) and plain.layer_sizes == (2, 3, 1)
    assert featured.key() != plain.key() and Config(features=()).key() == Config().key()
    for seed in (0, 1):
        points, data = make_dataset(plain, seed), make_dataset(featured, seed)
        x = points.x_train
        want = np.stack([x[:, 0], x[:, 1], x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1],
                         np.sin(x[:, 0]), np.sin(x[:, 1])], axis=1)  # fmt: skip
        np.testing.assert_allclose(data.x_train, want, rtol=1e-15)
        assert np.array_equal(data.y_train, points.y_train)


def test_features_are_scaled_after_they_are_computed_and_plots_map_the_plane_alike():
    config = Config(data="circle", scale="standard", m=40, n=10, features=("x1", "x1*x2"))
    data = make_dataset(config, 3)
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-12)
    raw, to_inputs = drawn_points(config, 3)
    assert raw.x_train.shape == (40, 2)  # the data's own plane, for the plots
    np.testing.assert_allclose(to_inputs(raw.x_test), data.x_test, rtol=1e-12)
    same, identity = drawn_points(config.replace(features=()), 3)
    assert np.array_equal(identity(same.x_test), make_dataset(config.replace(features=()),
                                                              3).x_test)  # fmt: skip


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_every_engine_trains_the_features_as_inputs():
    config = Config(data="spiral", noise=0.1, m=40, n=10, epochs=3, batch_size=8, lr=0.5,
                    hidden=(6,), activation="tanh", features=PLAYGROUND)  # fmt: skip
    ours, theirs = (engines.train(e, config, [0, 1]) for e in ("numpy", "numba"))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b.loss_curve, a.loss_curve, rtol=1e-10)


def test_features_from_the_command_line(tmp_path, capsys):
    argv = ["train", "--data", "spiral", "--m", "40", "--n", "10", "--epochs", "3", "--runs",
            "2", "--engine", "numpy", "--features", "x1, x2, x1^2", "--json", "--out",
            str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["config"]["features"] == ["x1", "x2", "x1^2"]


def test_a_tables_feature_is_checked_before_any_run(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{(-1) ** i * 800},{i % 2}\n" for i in range(20)))
    Config(data=str(path), features=("x1", "exp(x1)"))  # finite on every row
    for scale in ("standard", "none"):  # scaled or not, the file's rows are checked at once
        with pytest.raises(UsageError, match=r"feature 'exp\(x2\)' is inf at x1 = 0, x2 = 800"):
            Config(data=str(path), scale=scale, features=("x1", "exp(x2)"))
