"""The tuning protocol: grid, validation hold-out, choice, confirmation, and studies."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import stored_run
from mlpbench import cli, engines
from mlpbench.config.core import Config
from mlpbench.config.tuning import TuneSpec, log_grid
from mlpbench.data.dataset import make_dataset
from mlpbench.engines import prepare
from mlpbench.errors import UsageError
from mlpbench.experiment.store import Store
from mlpbench.service import tune


def test_log_grid():
    grid = log_grid(1e-4, 1e2, 4)
    assert len(grid) == 25 and grid[0] == 1e-4 and grid[-1] == 100.0
    assert grid[4] == pytest.approx(1e-3) and grid[2] == pytest.approx(10**-3.5, rel=1e-5)
    np.testing.assert_allclose(np.diff(np.log10(grid)), 0.25, rtol=1e-5)


@pytest.mark.parametrize(("args", "message"), [
    ((1e-2, 10**400, 2), "got 0.01, an integer of 401 digits, 2"),
    ((1e-2, 1.0, 10**400), "points per decade are at most 1000, got an integer of 401 digits"),
    ((1e-2, 1.0, 1001), "points per decade are at most 1000, got 1001"),
    ((1e-300, 1e300, 2), "a grid of 1201 rates is more than 1000"),
    ((1.0, 1.0, 2), "grid needs 0 < low < high"),
])  # fmt: skip
def test_a_grid_past_its_bounds_is_one_line(args, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        log_grid(*args)


def test_validation_hold_out_replaces_the_test_set():
    config = Config(m=50, n=10, validation=0.2, epochs=1)
    data = prepare(config, [3], "float64").data
    full = make_dataset(Config(m=50, n=10), seed=3)
    np.testing.assert_array_equal(data.x_train[0], full.x_train[:40])
    np.testing.assert_array_equal(data.x_test[0], full.x_train[40:])  # never full.x_test
    assert config.train_size == 40 and config.batch == 40


@pytest.mark.skipif(not engines.available("numba"), reason="numba not installed")
def test_numba_learning_rate_sweep_equals_separate_runs():
    config = Config(m=60, n=10, epochs=20, optimizer="adam", batch_size=16)
    lrs = [0.001, 0.01, 0.1]
    swept = engines.train("numba", config, [7, 7, 7], lrs=lrs)
    for lr, result in zip(lrs, swept):
        (alone,) = engines.train("numba", config.replace(lr=lr), [7])
        np.testing.assert_array_equal(result.loss_curve, alone.loss_curve)


def test_tune_picks_the_lowest_validation_loss(tmp_path):
    config = Config(m=80, n=20, epochs=40, optimizer="sgd")
    spec = TuneSpec(axes={"lr": (0.01, 1.0, 10.0)}, runs=3, seed=100)
    with Store(tmp_path) as store:
        result = tune(config, spec, "numpy", "float64", store)
    assert [p.values["lr"] for p in result.grid] == [0.01, 1.0, 10.0]
    best = min(result.grid, key=lambda p: p.mean)
    assert result.best == best and result.config.lr == best.values["lr"]
    assert result.config.validation == 0.0  # the chosen config trains on the full train set
    for point in result.grid:
        assert len(point.scores) == 3
    # the scores are validation losses of runs on the hold-out, recomputed here
    job_config = Config(m=80, n=20, epochs=40, lr=best.values["lr"], validation=0.2)
    runs = engines.train("numpy", job_config, [100, 101, 102])
    assert best.mean == pytest.approx(np.mean([r.metrics["test_loss"] for r in runs]))
    # without training, the same choice comes back from the store
    with Store(tmp_path) as store:
        again = tune(config, spec, "numpy", "float64", store, train=False)
    assert again.config == result.config


def test_tune_json(tmp_path, capsys):
    argv = ["tune", "--m", "80", "--n", "20", "--epochs", "30", "--optimizer", "adam",
            "--lr-grid", "0.001,0.05,0.5", "--runs", "3", "--engine", "numpy",
            "--json", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lr"] in (0.001, 0.05, 0.5)
    assert result["runs"] == 3 and result["seeds"] == [0, 1, 2]
    assert result["tuning_seeds"] == [10000, 10001, 10002]
    assert [p["lr"] for p in result["grid"]] == [0.001, 0.05, 0.5]
    best = min(result["grid"], key=lambda p: p["mean"])
    assert result["lr"] == best["lr"]
    assert set(result["metrics"]["test_accuracy"]) == {"mean", "std"}
    assert result["config"]["lr"] == result["lr"] and result["config"]["validation"] == 0.0
    assert (tmp_path / "plots").is_dir() and result["plot"].endswith(".png")


def test_tune_two_axes(tmp_path, capsys):
    argv = ["tune", "--m", "64", "--n", "16", "--epochs", "10", "--tune", "lr,batch_size",
            "--lr-grid", "0.01,0.1", "--batch-grid", "8,64", "--runs", "2", "--engine",
            "numpy", "--json", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["grid"]) == 4 and result["batch_size"] in (8, 64)
    assert {(p["lr"], p["batch_size"]) for p in result["grid"]} == {
        (0.01, 8),
        (0.01, 64),
        (0.1, 8),
        (0.1, 64),
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tune", "noise"], "cannot tune 'noise'; tunable: batch_size, epochs, lr, momentum"),
        (["--tune", "hidden"], "cannot tune 'hidden'"),
        (["--tune", "validation"], "cannot tune 'validation'"),
        (["--tune", "lr,batch_size"], "tuning batch_size needs --batch-grid"),
        (["--tune", "momentum"], "tuning momentum needs --grid momentum=VALUES"),
        (["--tune", "momentum", "--grid", "momentum"], "--grid must be NAME=VALUES"),
        (["--tune", "momentum", "--grid", "momentum=0.5", "--grid", "momentum=0.9"],
         "--grid gives momentum twice"),
        (["--tune", "epochs", "--epochs-grid", "5", "--grid", "epochs=6"],
         "epochs's grid is given twice"),
        (["--tune", "momentum", "--optimizer", "adam", "--grid", "momentum=0.5"],
         "momentum applies to optimizer sgd, rmsprop, not to 'adam'"),
        (["--tune", "momentum", "--grid", "momentum=0.5,1.5"], "momentum must be a number in"),
        (["--tune", "warmup_steps", "--grid", "warmup-steps=0.5"], "bad warmup_steps grid"),
        (["--lr-grid", "a:b:c"], "bad lr grid 'a:b:c'"),
        (["--lr-grid", "1:0.1:4"], "grid needs 0 < low < high"),
        (["--validation", "1.5"], "validation must be a fraction in [0, 1)"),
        (["--lr-grid", "0.1,-1"], "learning rate must be a finite number > 0"),
    ],
)
def test_bad_tune_input(extra, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["tune", "--epochs", "2", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


TUNED_STUDY = """
runs = 3
[tuning]
runs = 2
lr_grid = [0.01, 1.0, 1]
[defaults]
m = 60
n = 20
epochs = 20
[[tables]]
number = 1
title = "Tuned"
  [[tables.columns]]
  label = "fixed"
  lr = 0.5
  [[tables.columns]]
  label = "tuned"
  lr = "tuned"
"""


def test_study_with_a_tuned_column(tmp_path, capsys, monkeypatch):
    study = tmp_path / "tuned.toml"
    study.write_text(TUNED_STUDY)
    out = tmp_path / "out"
    args = ["run", str(study), "--out", str(out), "--engine", "numpy", "--format", "markdown"]
    assert cli.main(args) == 0
    text, err = capsys.readouterr()
    # 3 rates x 2 tuning runs, then 2 columns x 3 runs
    assert "12 runs trained (6 of them on tuning grids)\n" in err  # none came stored
    row = next(line for line in text.splitlines() if line.startswith("| Learning rate"))
    chosen = row.split("|")[4].strip()
    assert row.split("|")[3].strip() == "0.5" and chosen.endswith("(tuned)")
    assert float(chosen.split()[0]) in (0.01, 0.1, 1.0)
    assert (out / "plots" / "table-1-sensitivity.png").exists()
    assert "were chosen on a log grid of 3 rates from 0.01 to 1" in text

    calls = []
    real = engines.train
    monkeypatch.setattr(engines, "train", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert cli.main(args) == 0  # tuning grid and table runs are all reused
    assert calls == []
    assert "0 runs trained; 6 came from the store" in capsys.readouterr().err
    assert cli.main(["report", "--out", str(out), "--format", "markdown"]) == 0
    assert row in capsys.readouterr().out


def test_study_tuning_momentum_and_the_rate_together(tmp_path, capsys):
    study = tmp_path / "momentum.toml"
    study.write_text(TUNED_STUDY.replace('lr_grid = [0.01, 1.0, 1]',
                                         'grids = { momentum = [0, 0.9], lr = [0.1, 1] }')
                     .replace('lr = "tuned"', 'lr = "tuned"\n  momentum = "tuned"')
                     + '  [[tables.columns]]\n  label = "momentum"\n  lr = 0.5\n'
                       '  momentum = "tuned"\n')  # fmt: skip
    out = tmp_path / "out"
    args = ["run", str(study), "--out", str(out), "--engine", "numpy", "--format", "markdown"]
    assert cli.main(args) == 0
    text, err = capsys.readouterr()
    # 2 x 2 points and 2 points, 2 tuning runs each; then 3 columns x 3 runs
    assert "21 runs trained (12 of them on tuning grids)\n" in err
    row = next(line for line in text.splitlines() if line.startswith("| Tuned settings"))
    fixed, both, momentum = (cell.strip() for cell in row.split("|")[3:6])
    assert fixed == "lr = 0.5, momentum = 0"  # sgd's own momentum, not tuned
    lr, m = (part.split(" = ")[1] for part in both.split(", "))
    assert lr in ("0.1 (tuned)", "1 (tuned)") and m in ("0 (tuned)", "0.9 (tuned)")
    assert momentum.startswith("lr = 0.5, momentum = 0") and momentum.endswith("(tuned)")
    assert momentum.count("(tuned)") == 1
    assert ("chosen on every combination of the grids of the fields their column tunes "
            "(learning rate: 2 rates (0.1, 1); momentum: 2 values (0, 0.9))") in text
    assert (out / "plots" / "table-1-sensitivity.png").exists()
    assert cli.main(args) == 0  # the grids and the table's runs all come from the store
    assert "0 runs trained" in capsys.readouterr().err


def test_tuned_string_other_than_tuned_is_rejected(tmp_path, capsys):
    study = tmp_path / "bad.toml"
    study.write_text(TUNED_STUDY.replace('lr = "tuned"', 'lr = "auto"'))
    assert cli.main(["run", str(study), "--out", str(tmp_path / "out")]) == 2
    assert "learning rate must be a finite number > 0, got 'auto'" in capsys.readouterr().err


def test_tune_one_axis_other_than_the_rate(tmp_path, capsys):
    argv = ["tune", "--tune", "batch_size", "--batch-grid", "2,4,8", "--m", "40", "--n", "10",
            "--epochs", "5", "--runs", "2", "--engine", "numpy", "--json",
            "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["batch_size"] in (2, 4, 8) and len(result["grid"]) == 3
    assert Path(result["plot"]).exists()
    assert cli.main(["tune", "--tune", "", "--out", str(tmp_path)]) == 2
    assert "--tune names no axis" in capsys.readouterr().err


def _grid_runs(points: list[list[tuple[float, bool]]], metric: str) -> list[list]:
    """Stored runs per grid point, each (score, diverged)."""
    return [[stored_run(s, {metric: v}, d) for s, (v, d) in enumerate(runs)] for runs in points]


SPEC_RATES = (0.01, 0.1, 1.0)


@pytest.mark.parametrize(
    ("score", "metric", "points", "chosen"),
    [
        # validation loss: the lowest mean wins (means 0.5, 0.2, 0.3)
        ("loss", "test_loss", [[(0.5, False)] * 2, [(0.1, False), (0.3, False)],
                               [(0.3, False)] * 2], 0.1),
        # validation accuracy: the highest mean wins (means 80, 95, 90), never the lowest
        ("accuracy", "test_accuracy", [[(80.0, False)] * 2, [(95.0, False)] * 2,
                                       [(90.0, False)] * 2], 0.1),
        # a point with a diverged run ranks after every point without one, whatever its mean
        ("loss", "test_loss", [[(0.4, False)] * 2, [(0.01, False), (9.0, True)],
                               [(0.5, False)] * 2], 0.01),
        ("accuracy", "test_accuracy", [[(70.0, False)] * 2, [(99.0, False), (0.0, True)],
                                       [(60.0, False)] * 2], 0.01),
        # a point whose runs all diverged ranks last, after a point with one diverged run
        ("loss", "test_loss", [[(0.0, True)] * 2, [(0.3, False), (0.0, True)],
                               [(0.0, True)] * 2], 0.1),
    ],
)  # fmt: skip
def test_the_choice_for_each_score_with_diverged_points(score, metric, points, chosen):
    from mlpbench.experiment.tune import choose

    spec = TuneSpec(axes={"lr": SPEC_RATES}, runs=2, score=score)
    result = choose(Config(), spec, _grid_runs(points, metric))
    assert result.best.values == {"lr": chosen}
    assert result.config.lr == chosen


def test_a_point_missing_runs_leaves_the_choice_for_later():
    from mlpbench.experiment.tune import choose

    spec = TuneSpec(axes={"lr": SPEC_RATES}, runs=2)
    points = [[(0.5, False)] * 2, [(0.1, False)], [(0.3, False)] * 2]  # the second has 1 of 2
    assert choose(Config(), spec, _grid_runs(points, "test_loss")) is None


def test_a_grid_point_worked_by_hand_and_the_grid_as_json():
    from mlpbench.experiment.tune import choose, grid_summary

    spec = TuneSpec(axes={"lr": SPEC_RATES}, runs=3)
    points = [[(0.2, False), (0.4, False), (0.9, True)],  # mean of 0.2, 0.4 = 0.3, s = 0.1414
              [(0.5, False)] * 3, [(0.1, False), (0.2, False), (0.3, False)]]
    result = choose(Config(), spec, _grid_runs(points, "test_loss"))
    first = result.grid[0]
    assert first.values == {"lr": 0.01} and first.scores == [0.2, 0.4] and first.diverged == 1
    assert first.mean == pytest.approx(0.3) and first.std == pytest.approx(0.141421, abs=1e-6)
    assert result.grid[1].std == 0.0 and result.best.values == {"lr": 1.0}
    assert grid_summary(result, ["lr"])[0] == {"lr": 0.01, "mean": pytest.approx(0.3),
                                               "std": pytest.approx(0.141421, abs=1e-6),
                                               "runs": 3, "diverged": 1}  # fmt: skip


def test_a_grid_from_the_command_line():
    from mlpbench.errors import UsageError
    from mlpbench.experiment.tune import parse_values

    assert parse_values("lr", "1e-2:1e0:1") == (0.01, 0.1, 1.0)
    assert parse_values("lr", "0.5,2") == (0.5, 2.0)
    assert parse_values("batch_size", "1,32") == (1, 32)
    assert parse_values("momentum", "0,0.5") == (0.0, 0.5)
    assert parse_values("l2", "1e-4:1e-2:1") == (1e-4, 1e-3, 1e-2)
    assert parse_values("decay_steps", "10,20") == (10, 20)
    for name, text, example in [("batch_size", "1:8:2", "1,32,128"), ("lr", "a,b", "1e-4:1e2"),
                                ("epochs", "1.5", "1,32,128")]:  # fmt: skip
        with pytest.raises(UsageError, match=f"bad {name} grid {text!r}; write it like {example}"):
            parse_values(name, text)


def test_every_numeric_training_field_is_tunable_and_nothing_else():
    from mlpbench.config.fields import TUNABLE

    assert {"lr", "batch_size", "epochs", "momentum", "beta_1", "weight_decay", "decay_rate",
            "decay_steps", "l1", "l2"} <= set(TUNABLE)  # fmt: skip
    assert not {"m", "n", "noise", "hidden", "validation", "nesterov", "optimizer",
                "boundaries"} & set(TUNABLE)  # fmt: skip


def test_tune_momentum_and_a_penalty_beside_the_rate(tmp_path, capsys):
    argv = ["tune", "--m", "40", "--n", "10", "--epochs", "8", "--optimizer", "sgd", "--tune",
            "lr,momentum,l2", "--lr-grid", "0.1,1", "--grid", "momentum=0,0.9", "--grid",
            "l2=0,1e-3", "--runs", "2", "--engine", "numpy", "--json", "--out",
            str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert {(p["lr"], p["momentum"], p["l2"]) for p in result["grid"]} == {
        (lr, mo, l2) for lr in (0.1, 1.0) for mo in (0.0, 0.9) for l2 in (0.0, 1e-3)}
    best = min(result["grid"], key=lambda p: p["mean"])
    assert (result["lr"], result["momentum"], result["l2"]) == (best["lr"], best["momentum"],
                                                                best["l2"])  # fmt: skip
    with Store(tmp_path, readonly=True) as store:  # 8 points x 2 seeds, and the confirmation
        stored = store.all_runs()
    assert len(stored) == 8 * 2 + 2
    assert {r.config.get("momentum", 0.0) for r in stored} == {0.0, 0.9}


def test_a_grid_batch_as_large_as_the_trained_points_is_full_batch():
    from mlpbench.config.tuning import tuning_config

    config = Config(m=100)
    assert tuning_config(config, 0.2, batch_size=80).batch_size is None  # 80 = 100 - 20 held
    assert tuning_config(config, 0.2, batch_size=79).batch_size == 79
    assert tuning_config(config, 0.2, batch_size=100).batch_size is None


def test_a_point_whose_runs_all_diverged_is_in_the_grid_with_its_values():
    from mlpbench.experiment.tune import choose, grid_summary

    spec = TuneSpec(axes={"lr": SPEC_RATES}, runs=2)
    points = [[(0.0, True)] * 2, [(0.5, False)] * 2, [(0.4, False)]]  # the last lacks a run
    assert choose(Config(), spec, _grid_runs(points, "test_loss")) is None
    points[2] = [(0.4, False)] * 2
    result = choose(Config(), spec, _grid_runs(points, "test_loss"))
    row = grid_summary(result, ["lr"])[0]
    assert row["lr"] == 0.01 and row["runs"] == 2 and row["diverged"] == 2
    assert math.isnan(row["mean"]) and math.isnan(row["std"])
    assert result.grid[0].scores == [] and result.grid[1].std == 0.0


def test_tuning_seeds_start_ten_thousand_after_the_studys():
    from mlpbench.errors import UsageError
    from mlpbench.experiment.tune import tune_spec

    grids = {"lr": "0.1,1"}
    spec = tune_spec(Config(), grids, ["lr"], 3, 7, "accuracy", 0.25)
    assert (spec.seed, spec.runs, spec.score, spec.validation) == (10_007, 3, "accuracy", 0.25)
    assert tune_spec(Config(), grids, ["lr"], 3, 2**63 - 10_003, "loss", 0.2).seed == 2**63 - 3
    with pytest.raises(UsageError, match="past 2\\^63 - 1; use a seed <= 9223372036854765805"):
        tune_spec(Config(), grids, ["lr"], 3, 2**63 - 10_002, "loss", 0.2)


def test_a_point_of_one_run_has_no_spread():
    from mlpbench.experiment.tune import choose

    spec = TuneSpec(axes={"lr": SPEC_RATES}, runs=1)
    result = choose(Config(), spec, _grid_runs([[(0.5, False)], [(0.2, False)], [(0.3, False)]],
                                               "test_loss"))  # fmt: skip
    assert [p.std for p in result.grid] == [0.0, 0.0, 0.0]
