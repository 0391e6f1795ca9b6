"""The plateau schedule: its rule against Keras' ReduceLROnPlateau fed the same losses, a
worked example at each decision, the NumPy engine's trajectory replayed as a fixed schedule,
and the refusals of engines and settings that cannot take it."""

from __future__ import annotations

import numpy as np
import pytest

import mlpbench as mb
from conftest import TRACED, assert_a_framework_refuses, assert_same_runs
from mlpbench import cli
from mlpbench.config.core import Config
from mlpbench.engines.registry import check_supports
from mlpbench.errors import UsageError
from mlpbench.experiment.study import load_study
from mlpbench.nn.schedules import SCHEDULES, plateau_init, plateau_update

KERAS_DEFAULTS = SCHEDULES["plateau"].defaults


def _rates(losses: list[float], lr: float = 1.0, **given) -> list[float]:
    """The rate after each epoch's end, every run of losses (epochs,) or (epochs, R)."""
    settings = KERAS_DEFAULTS | given
    state, rates = plateau_init(np.atleast_1d(np.full(np.shape(losses[0]), lr))), []
    for loss in losses:
        state = plateau_update(state, np.atleast_1d(loss), settings)
        rates.append(state.rate.tolist())
    return rates


LOSSES = [1.0, 0.9, 0.95, 0.95, 0.89995, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, np.nan, 0.6, 0.6]
CASES = [{}, {"plateau_patience": 2}, {"plateau_patience": 0},
         {"plateau_patience": 1, "plateau_cooldown": 2},
         {"plateau_patience": 1, "plateau_factor": 0.5, "min_lr": 0.3},
         {"plateau_patience": 2, "plateau_min_delta": 0.0}]  # fmt: skip
KERAS_NAMES = {"plateau_factor": "factor", "plateau_patience": "patience",
               "plateau_min_delta": "min_delta", "plateau_cooldown": "cooldown",
               "min_lr": "min_lr"}  # fmt: skip


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
@pytest.mark.parametrize("given", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_rate_is_keras_reduce_lr_on_plateau_fed_the_same_losses(given):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.8), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", **{KERAS_NAMES[k]: v for k, v in given.items()})
    callback.set_model(model)
    callback.on_train_begin()
    want = []
    for epoch, loss in enumerate(LOSSES):
        callback.on_epoch_end(epoch, {"loss": loss})
        want.append(float(model.optimizer.learning_rate))
    got = [rate[0] for rate in _rates(LOSSES, 0.8, **given)]
    np.testing.assert_allclose(got, want, rtol=1e-6)  # Keras holds its rate in float32


def test_worked_decisions_at_each_boundary():
    # patience 2, no min_delta: two epochs not below the best reduce, one below resets
    rates = _rates([1.0, 0.9, 0.9, 0.95, 0.5, 0.6, 0.5, 0.4], plateau_patience=2,
                   plateau_min_delta=0.0, plateau_factor=0.5)  # fmt: skip
    assert [r[0] for r in rates] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    # min_delta: 0.95 -> 0.9 is an improvement at 0.04, not at 0.06
    assert _rates([0.95, 0.9], plateau_patience=1, plateau_min_delta=0.04)[-1] == [1.0]
    assert _rates([0.95, 0.9], plateau_patience=1, plateau_min_delta=0.06)[-1] == [0.1]
    # cooldown c: the c - 1 epochs after a reduction neither wait nor reduce (Keras counts
    # the rest down before it looks, so a cooldown of 1 rests no epoch)
    flat = [1.0, 1.0, 1.0, 1.0, 1.0]
    rates = _rates(flat, plateau_patience=1, plateau_cooldown=2, plateau_factor=0.5)
    assert [r[0] for r in rates] == [1.0, 0.5, 0.5, 0.25, 0.25]
    rates = _rates(flat, plateau_patience=1, plateau_cooldown=1, plateau_factor=0.5)
    assert [r[0] for r in rates] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    # min_lr: a reduction stops there, and a rate at it is not reduced again
    rates = _rates([1.0] * 4, plateau_patience=0, plateau_factor=0.5, min_lr=0.3)
    assert [r[0] for r in rates] == [1.0, 0.5, 0.3, 0.3]
    # each run on its own losses
    assert _rates([[1.0, 1.0], [0.5, 1.0]], plateau_patience=1)[-1] == [1.0, 0.1]


PLATEAU = dict(m=40, n=10, epochs=12, batch_size=10, lr=2.0, l2=0.01, schedule="plateau",
               plateau_patience=1, plateau_min_delta=0.02, plateau_factor=0.5)  # fmt: skip


def test_the_numpy_engine_trains_as_the_rates_its_own_losses_give():
    """Each run replayed: the rates its stored losses (penalty included) give, as a fixed
    piecewise schedule, train the same trajectory; a rate applied an epoch late would not."""
    result = mb.train(runs=3, engine="numpy", **PLATEAU)
    per_epoch = Config(**PLATEAU).steps.per_epoch
    reduced = 0
    for run in result.runs:
        losses = run.loss_curve + run.curves["penalty"]
        after = [r[0] for r in _rates(list(losses), PLATEAU["lr"], **_settings())]
        rates = [PLATEAU["lr"], *after[:-1]]  # epoch e's rate, set at epoch e - 1's end
        changes = [e for e in range(1, len(rates)) if rates[e] != rates[e - 1]]
        reduced += len(changes)
        fixed = {**PLATEAU, "schedule": "constant"} | dict.fromkeys(_settings())
        if changes:
            fixed |= {"schedule": "piecewise", "boundaries": [e * per_epoch - 1 for e in changes],
                      "values": [rates[0] / PLATEAU["lr"]] + [rates[e] / PLATEAU["lr"]
                                                              for e in changes]}  # fmt: skip
        replay = mb.train(runs=1, seed=run.seed, engine="numpy", **fixed).runs[0]
        np.testing.assert_allclose(replay.loss_curve, run.loss_curve, rtol=1e-12)
        for a, b in zip(replay.params, run.params):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    assert reduced >= 3  # the rule acted, in more than one run


def _settings() -> dict:
    return {k: v for k, v in PLATEAU.items() if k in KERAS_DEFAULTS}


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
@pytest.mark.parametrize(("engine", "rtol"), [("numba", 1e-10), ("keras", 1e-4)])
def test_numba_and_keras_compute_the_same_rates(engine, rtol):
    """numba in its kernel, Keras by its own ReduceLROnPlateau (float32, to its tolerance):
    the NumPy engine's runs, each rate fallen where its losses say."""
    pytest.importorskip(engine)
    for given in ({}, {"l2": 0.0, "batch_size": None, "epochs": 40, "plateau_cooldown": 3,
                       "min_lr": 0.3}):  # fmt: skip
        ours, theirs = (mb.train(runs=3, engine=e, **(PLATEAU | given)) for e in ("numpy",
                                                                                 engine))
        assert_same_runs(ours.runs, theirs.runs, rtol=rtol)
        constant = {"schedule": "constant", "plateau_cooldown": None, "min_lr": None}
        flat = mb.train(runs=3, engine="numpy", **(PLATEAU | given | dict.fromkeys(
            _settings()) | constant))  # fmt: skip
        assert not np.allclose(flat.curves, ours.curves, rtol=1e-3)  # the rate fell


def test_engines_that_cannot_compute_rates_refuse_it_in_one_line():
    config = Config(schedule="plateau")
    for engine in TRACED:
        with pytest.raises(UsageError, match=rf"engine '{engine}' cannot train schedule "
                                             r"'plateau' \(its rate follows each run's "
                                             r"losses\); engines that can: numpy, numba, "
                                             "keras$"):  # fmt: skip
            check_supports(engine, config, "float64")
    for engine in ("numpy", "numba", "keras"):
        check_supports(engine, config, "float64")
    with pytest.raises(UsageError, match="plateau_patience applies to schedule plateau, not "
                                         "to 'cosine'"):  # fmt: skip
        Config(schedule="cosine", plateau_patience=3)
    with pytest.raises(UsageError, match=r"plateau_factor must be a number in \[0, 1\)"):
        Config(schedule="plateau", plateau_factor=1.0)  # Keras refuses a factor >= 1 too


def test_plateau_from_the_command_line_and_a_study_file(tmp_path, capsys):
    argv = ["train", "--m", "40", "--n", "10", "--epochs", "6", "--runs", "2", "--engine",
            "numpy", "--schedule", "plateau", "--plateau-patience", "1", "--min-lr", "0.5",
            "--json", "--out", str(tmp_path / "a")]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert '"plateau_patience": 1' in capsys.readouterr().out
    assert_a_framework_refuses(argv, tmp_path / "b", "cannot train schedule 'plateau'", capsys,
                               TRACED)
    study = tmp_path / "s.toml"
    study.write_text("runs = 2\n[defaults]\nm = 40\nn = 10\nepochs = 6\n"
                     "[defaults.schedule]\nname = \"plateau\"\npatience = 1\nfactor = 0.5\n"
                     "[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = \"reduced\"\n")
    column = load_study(study).tables[0].columns[0]
    assert (column.config.plateau_patience, column.config.plateau_factor) == (1, 0.5)
    assert cli.main(["run", str(study), "--out", str(tmp_path / "c"), "--engine", "numpy"]) == 0
