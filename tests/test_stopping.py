"""Early stopping: its rule against Keras' EarlyStopping fed the same losses, a worked example
at each decision, the NumPy engine's stopped runs against runs trained for just those epochs,
numba's against NumPy's, and the refusals of engines and settings that cannot take it."""

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
from mlpbench.nn.stopping import DEFAULTS, START, stop_update


def _stops(losses: list[float], **given) -> tuple[int | None, int]:
    """The epoch (from 0) after which training stops, or None, and the best epoch."""
    settings, state = DEFAULTS | given, START
    for epoch, loss in enumerate(losses):
        state = stop_update(state, loss, epoch, settings)
        if state.stopped:
            return epoch, state.best_epoch
    return None, state.best_epoch


LOSSES = [1.0, 0.9, 0.95, 0.89995, 0.7, 0.71, 0.72, 0.69, 0.7, 0.7, 0.7, 0.7, np.nan, 0.7]
CASES = [{}, {"stop_patience": 2}, {"stop_patience": 3, "stop_min_delta": 0.02},
         {"stop_patience": 4, "stop_min_delta": 1e-4}, {"stop_patience": 20}]  # fmt: skip


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
@pytest.mark.parametrize("given", CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_stop_is_keras_early_stopping_fed_the_same_losses(given):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = keras.callbacks.EarlyStopping(
        monitor="loss", patience=given.get("stop_patience", 0),
        min_delta=given.get("stop_min_delta", 0.0), restore_best_weights=True)
    callback.set_model(model)
    callback.on_train_begin()
    stopped = None
    for epoch, loss in enumerate(LOSSES):
        callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            stopped = epoch
            break
    assert _stops(LOSSES, **given) == (stopped, callback.best_epoch)


def test_worked_decisions_at_each_boundary():
    # patience 0 stops at the first epoch past 0 that does not improve
    assert _stops([1.0, 0.9, 0.9, 0.5]) == (2, 1)
    # patience 2: two epochs not below the best stop; one below in between resets the wait
    assert _stops([1.0, 1.1, 0.9, 1.0, 1.0, 0.1], stop_patience=2) == (4, 2)
    # min_delta: 1.0 -> 0.95 improves at 0.04, not at 0.06
    assert _stops([1.0, 0.95, 0.95], stop_patience=1, stop_min_delta=0.04) == (2, 1)
    assert _stops([1.0, 0.95], stop_patience=1, stop_min_delta=0.06) == (1, 0)
    # epoch 0 never stops, and a NaN loss never improves
    assert _stops([np.nan, np.nan, 1.0]) == (1, 0)
    assert _stops([1.0, 0.5, 0.25], stop_patience=1) == (None, 2)


SLOW = [1.0, 0.99995, 0.9999, 0.99985, 0.9998, 0.5, 0.49999, 0.49998]  # steps below tol


@pytest.mark.parametrize(("patience", "tol"), [(1, 1e-4), (2, 1e-4), (3, 0.0), (4, 0.02),
                                               (11, 1e-4)])  # fmt: skip
def test_the_sklearn_rule_is_mlpclassifiers_fed_the_same_losses(patience, tol):
    """scikit-learn's own _update_no_improvement_count, fed our losses one epoch at a time,
    stops where stop_rule = "sklearn" does, with stop_patience its n_iter_no_change + 1."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    for losses in (LOSSES[:12], SLOW, SLOW * 3, [1.0, 0.9] * 10):
        mlp = neural_network.MLPClassifier(n_iter_no_change=patience - 1, tol=tol)
        mlp.loss_curve_, mlp.best_loss_, mlp._no_improvement_count = [], np.inf, 0
        stopped, best = None, None
        for epoch, loss in enumerate(losses):
            mlp.loss_curve_.append(loss)
            before = mlp.best_loss_
            mlp._update_no_improvement_count(False, None, None, None)
            best = epoch if mlp.best_loss_ < before else best
            if mlp._no_improvement_count > mlp.n_iter_no_change:
                stopped = epoch
                break
        ours = _stops(losses, stop_rule="sklearn", stop_patience=patience, stop_min_delta=tol)
        assert ours == (stopped, best), (losses, ours, stopped)


def test_worked_decisions_of_the_two_rules_on_slow_progress():
    # each epoch 5e-5 below the last: never min_delta 1e-4 below the epoch before, so
    # scikit-learn's wait grows from epoch 1 (its best following) and reaches 3 at epoch 3;
    # Keras' best stays at 1.0 until epoch 3's 0.99985 is past it, and the wait starts again
    assert _stops(SLOW[:5], stop_rule="sklearn", stop_patience=3, stop_min_delta=1e-4) == (3, 3)
    assert _stops(SLOW[:5], stop_patience=3, stop_min_delta=1e-4) == (None, 3)
    # a reset: an epoch at least min_delta below the best sets the wait back to 0
    sklearn = dict(stop_rule="sklearn", stop_patience=2, stop_min_delta=0.1)
    assert _stops([1.0, 1.0, 0.5, 0.5], **sklearn) == (None, 2)
    assert _stops([1.0, 1.0, 0.5, 0.5, 0.5], **sklearn) == (4, 2)
    # at min_delta 0 an equal loss resets it too: the count grows only on loss > best - tol
    assert _stops([1.0] * 6, stop_rule="sklearn", stop_patience=2) == (None, 0)
    # an improving epoch never stops, whatever the patience; a NaN loss adds to the wait
    assert _stops([1.0, 0.5, 0.25], stop_rule="sklearn") == (None, 2)
    assert _stops([1.0, np.nan], stop_rule="sklearn") == (1, 0)


BASE = dict(m=60, n=20, epochs=200, lr=10.0, batch_size=20)  # fmt: skip


@pytest.mark.parametrize("restore", [False, True])
def test_a_stopped_run_is_the_run_trained_for_just_those_epochs(restore):
    """Each stopped run's curve is the full run's first epochs and its weights those of a run
    trained for exactly its epochs (with restore_best: its best epoch's)."""
    stopped = mb.train(runs=3, engine="numpy", early_stopping="loss", stop_patience=3,
                       stop_min_delta=1e-3, restore_best=restore, **BASE)  # fmt: skip
    full = mb.train(runs=3, engine="numpy", **BASE)
    lengths = []
    for run, whole in zip(stopped.runs, full.runs):
        epochs = len(run.loss_curve)
        lengths.append(epochs)
        np.testing.assert_allclose(run.loss_curve, whole.loss_curve[:epochs], rtol=1e-12)
        end, best = _stops(list(run.loss_curve), stop_patience=3, stop_min_delta=1e-3)
        assert end == epochs - 1  # the engine stopped where the rule says
        kept = best + 1 if restore else epochs
        short = mb.train(runs=1, seed=run.seed, engine="numpy", **(BASE | {"epochs": kept}))
        for a, b in zip(run.params, short.runs[0].params):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    assert len(set(lengths)) > 1 and max(lengths) < BASE["epochs"]  # each run on its own


def test_runs_stopped_at_different_epochs_are_drawn_and_read_padded():
    from mlpbench.report.plots import learning_curves

    result = mb.train(runs=3, engine="numpy", early_stopping="val_loss", stop_patience=3,
                      **BASE)  # fmt: skip
    lengths = [len(r.loss_curve) for r in result.runs]
    assert len(set(lengths)) > 1
    curves = result.curves  # runs x epochs, NaN past each run's end
    assert curves.shape == (3, max(lengths))
    assert [int(np.isfinite(row).sum()) for row in curves] == lengths
    lines = learning_curves("t", result._columns()).axes[0].get_lines()
    mean, hold_out = lines[0], lines[1]
    assert len(mean.get_xdata()) == max(lengths) and hold_out.get_linestyle() == ":"
    last = [c[-1] for c in (r.loss_curve for r in result.runs) if len(c) == max(lengths)]
    assert mean.get_ydata()[-1] == pytest.approx(np.mean(last))  # the runs still training


def test_val_loss_monitors_a_hold_out_of_the_train_set():
    result = mb.train(runs=2, engine="numpy", early_stopping="val_loss", stop_patience=2,
                      validation_fraction=0.25, **BASE)  # fmt: skip
    assert Config(early_stopping="val_loss", validation_fraction=0.25, **BASE).train_size == 45
    for run in result.runs:
        curve = run.curves["val_loss"]
        assert curve.shape == run.loss_curve.shape and np.isfinite(curve).all()
        assert _stops(list(curve), stop_patience=2)[0] == len(curve) - 1
        assert not np.allclose(curve, run.loss_curve)  # another set's loss


NUMBA_CASES = [
    {"early_stopping": "loss", "stop_patience": 3, "stop_min_delta": 1e-3},
    {"early_stopping": "loss", "stop_patience": 3, "stop_min_delta": 1e-3, "stop_rule": "sklearn",
     "restore_best": True},
    {"early_stopping": "loss", "stop_patience": 3, "stop_min_delta": 1e-3, "restore_best": True,
     "l2": 0.01},
    {"early_stopping": "val_loss", "stop_patience": 3},
    {"early_stopping": "val_loss", "stop_patience": 5, "restore_best": True, "l2": 0.01,
     "data": "iris", "hidden": (8,), "loss": "cce", "m": None, "n": None},
]  # fmt: skip


@pytest.mark.parametrize("given", NUMBA_CASES, ids=[str(i) for i in range(len(NUMBA_CASES))])
def test_numba_stops_each_run_where_numpy_does(given):
    pytest.importorskip("numba")
    ours, theirs = (mb.train(runs=3, engine=e, **(BASE | given)) for e in ("numpy", "numba"))
    assert all(len(a.loss_curve) < BASE["epochs"] for a in ours.runs)  # every run stopped
    assert_same_runs(ours.runs, theirs.runs, rtol=1e-10)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras' own
@pytest.mark.parametrize("given", [c for c in NUMBA_CASES if "stop_rule" not in c],
                         ids=str)  # fmt: skip
def test_keras_own_earlystopping_stops_each_run_where_numpy_does(given):
    """Keras' own callback on its float32 runs: the same epochs, to float32's tolerance (iris
    at rate 1, as rate 10 there is chaotic: float32's rounding grows to 1e-3 in 20 epochs)."""
    pytest.importorskip("keras")
    given = given | ({"lr": 1.0} if given.get("data") == "iris" else {})
    ours, theirs = (mb.train(runs=3, engine=e, **(BASE | given)) for e in ("numpy", "keras"))
    assert all(len(a.loss_curve) < BASE["epochs"] for a in ours.runs)  # every run stopped
    assert_same_runs(ours.runs, theirs.runs, rtol=1e-4)


def test_keras_refuses_the_sklearn_rule():
    pytest.importorskip("keras")
    with pytest.raises(UsageError, match="engine 'keras' cannot train stop_rule 'sklearn'; it "
                                         "supports: keras"):  # fmt: skip
        check_supports("keras", Config(early_stopping="loss", stop_rule="sklearn"), "float32")


def test_engines_that_cannot_stop_a_run_refuse_it_in_one_line():
    config = Config(early_stopping="loss")
    for engine in TRACED:
        with pytest.raises(UsageError, match=rf"engine '{engine}' cannot train early_stopping "
                                             r"'loss' \(each run stops on its own losses\); "
                                             "engines that can: numpy, numba, keras$"):  # fmt: skip
            check_supports(engine, config, "float64")
    with pytest.raises(UsageError, match="stop_patience applies to early_stopping loss, "
                                         "val_loss, not to 'none'"):  # fmt: skip
        Config(stop_patience=3)
    with pytest.raises(UsageError, match="validation_fraction applies to early_stopping "
                                         "val_loss, not to 'loss'"):  # fmt: skip
        Config(early_stopping="loss", validation_fraction=0.2)
    with pytest.raises(UsageError, match="validation_fraction must leave points on both sides "
                                         r"of the 1000 trained, got 0.0 \(0 held out\)"):
        Config(early_stopping="val_loss", validation_fraction=0.0)
    # a setting at its default is the configuration that leaves it out
    assert Config(early_stopping="loss", stop_patience=0).key() == Config(
        early_stopping="loss").key()
    assert Config(early_stopping="loss").key() != Config().key()


def test_stopping_from_the_command_line_and_a_study_file(tmp_path, capsys):
    argv = ["train", "--m", "40", "--n", "10", "--epochs", "50", "--runs", "2", "--engine",
            "numpy", "--early-stopping", "loss", "--stop-patience", "1", "--json",
            "--out", str(tmp_path / "a")]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert '"early_stopping": "loss"' in capsys.readouterr().out
    assert_a_framework_refuses(argv, tmp_path / "b", "cannot train early_stopping 'loss'", capsys,
                               TRACED)
    study = tmp_path / "s.toml"
    study.write_text("runs = 2\n[defaults]\nm = 40\nn = 10\nepochs = 60\nlr = 10.0\n"
                     "[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = \"stopped\"\n"
                     "[tables.columns.stopping]\nmonitor = \"loss\"\npatience = 1\n"
                     "min_delta = 0.01\n[[tables.columns]]\nlabel = \"full\"\n")
    column = load_study(study).tables[0].columns[0]
    assert (column.config.early_stopping, column.config.stop_patience) == ("loss", 1)
    out = tmp_path / "c"
    args = ["run", str(study), "--out", str(out), "--engine", "numpy", "--format", "markdown"]
    assert cli.main(args) == 0, capsys.readouterr().err
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| Epochs trained"))  # fmt: skip
    stopped, full = (cell.strip() for cell in row.split("|")[3:5])
    assert full == "60" and stopped != "60"
    assert (out / "plots" / "table-1-curves.png").exists()
