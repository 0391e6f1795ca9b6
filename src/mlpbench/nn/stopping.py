"""Early stopping, as Keras 3's EarlyStopping callback decides it (mode "min").

At each epoch's end the monitored loss is read: "loss", the training loss an
epoch's History shows (the sample-weighted mean of its batches' losses, the
weight penalty included), or "val_loss", the loss on a hold-out of the train
set (its last `validation_fraction` of points, never trained on), on the
weights at the epoch's end, penalty included, as Keras' validation_split
gives it. Then, with wait counting epochs since the last improvement:

- wait += 1; an epoch whose loss is below the best so far less `stop_min_delta`
  is the new best and resets wait to 0 (with `restore_best`, its weights are
  kept; before any improvement, the first epoch's are);
- otherwise, at wait >= `stop_patience` (and past epoch 0) training stops after
  this epoch: the run has trained epoch + 1 epochs;
- at the end, with `restore_best`, the run's weights become the best epoch's
  (Keras restores them whether or not training stopped).

A NaN loss never improves. With `stop_rule = "sklearn"`, scikit-learn's
MLP decides instead (`_update_no_improvement_count`): an epoch whose loss is
not below the best less `stop_min_delta` (its `tol`) adds one to the wait,
any other resets it; the best (and, with restore_best, its weights) follows
every decrease; training stops once the wait reaches `stop_patience` (its
`n_iter_no_change` + 1). Its `early_stopping=True` monitors the validation
score, where val_loss monitors the hold-out's loss, and keeps the best
epoch's weights there (restore_best).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from mlpbench.errors import UsageError

MONITORS = {"none": "train every epoch", "loss": "stop on the training loss",
            "val_loss": "stop on the loss of a hold-out of the train set"}  # fmt: skip
DEFAULTS: dict[str, Any] = {"stop_patience": 0, "stop_min_delta": 0.0, "restore_best": False,
                            "stop_rule": "keras", "validation_fraction": 0.1}  # fmt: skip
SETTINGS = tuple(DEFAULTS)
READS = {"none": (), "loss": SETTINGS[:4], "val_loss": SETTINGS}  # the settings each reads
# how the best loss moves: Keras' only on an improvement past min_delta, scikit-learn's on any
# decrease (so a run improving by less than tol an epoch stops, where Keras' goes on)
RULES = {"keras": "Keras' EarlyStopping", "sklearn": "scikit-learn's MLP (tol, n_iter_no_change)"}


def resolve(monitor: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every setting the monitor reads, given or at its default; one it does not read is
    refused in one line."""
    for name, value in given.items():
        if value is not None and name not in READS[monitor]:
            readers = [m for m, names in READS.items() if name in names]
            raise UsageError(f"{name} applies to early_stopping {', '.join(readers)}, not to "
                             f"{monitor!r}", name)  # fmt: skip
    return {n: DEFAULTS[n] if given.get(n) is None else given[n] for n in READS[monitor]}


def held_out(monitor: str, settings: dict[str, Any], points: int) -> int:
    """How many of the train set's points val_loss holds out (its last ones); 0 otherwise."""
    return round(settings["validation_fraction"] * points) if monitor == "val_loss" else 0


class StopState(NamedTuple):
    """One run's EarlyStopping state: best loss, epochs waited, best epoch, and whether it
    has stopped."""

    best: float
    wait: int
    best_epoch: int
    stopped: bool


START = StopState(np.inf, 0, 0, False)


def stop_update(state: StopState, loss: float, epoch: int, p: dict[str, Any]) -> StopState:
    """One epoch's end (epoch from 0, loss the monitored value), by the setting's rule:
    whether the epoch improves (NaN compares false: never), and whether the best moves."""
    bar = state.best - p["stop_min_delta"]
    if p["stop_rule"] == "sklearn":  # _update_no_improvement_count: its count grows on loss > bar
        improved, moves = loss <= bar, loss < state.best
    else:
        improved = moves = loss < bar
    wait = 0 if improved else state.wait + 1
    best, at = (float(loss), epoch) if moves else (state.best, state.best_epoch)
    return StopState(best, wait, at, not improved and wait >= p["stop_patience"] and epoch > 0)
