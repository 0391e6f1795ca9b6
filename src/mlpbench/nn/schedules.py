"""Learning-rate schedules: the rate of every update, as Keras 3's schedule classes compute it.

A schedule is a function of the update count s = 0, 1, 2, ... (Keras'
`optimizer.iterations` before the update; the first update uses s = 0). It
gives a factor f(s) and the update's rate is lr * f(s), so a tuned or
per-run lr composes with any schedule and every engine reads one table.
Keras' schedules are homogeneous in their rates, so lr * f(s) is exactly
Keras' schedule built with initial_learning_rate = lr (and warmup_target,
values scaled by lr):

- constant:     f = 1
- exponential:  f = decay_rate ^ p,  p = s / decay_steps (floored with staircase)
                (keras.optimizers.schedules.ExponentialDecay)
- inverse_time: f = 1 / (1 + decay_rate * p) ^ power_t, p as above
                (InverseTimeDecay at power_t = 1; scikit-learn's "invscaling",
                lr / (t + 1) ^ power_t with t the samples seen at each epoch's
                start, is decay_rate = m, decay_steps = one epoch's updates,
                staircase and its power_t, default 0.5)
- cosine:       without warmup, s' = min(s, decay_steps) and
                f = (1 - alpha) * (1 + cos(pi * s' / decay_steps)) / 2 + alpha;
                with warmup_steps W and warmup_target T (a multiple of lr),
                s' = min(s, W + decay_steps), f = 1 + (T - 1) * s' / W while
                s' < W, then T times the decay above at s' - W (CosineDecay)
- piecewise:    f = values[0] while s <= boundaries[0], values[i] while
                boundaries[i-1] < s <= boundaries[i], values[-1] after
                (PiecewiseConstantDecay, its values as multiples of lr)

- plateau:      the rate follows each run's losses, as Keras' ReduceLROnPlateau (mode
                "min", monitoring the training loss an epoch's History shows, penalty
                included) computes it at each epoch's end: after `plateau_cooldown` epochs
                of rest, an epoch whose loss is not below the best so far less
                `plateau_min_delta` adds one to a wait, one that is resets it; at
                `plateau_patience` waits, a rate above min_lr becomes
                max(rate * plateau_factor, min_lr) for the next epoch, the wait resets and
                the rest starts (plateau_update). It needs an engine that computes rates
                as it trains (Capabilities.plateau). scikit-learn's "adaptive" is near it
                at factor 0.2, patience n_iter_no_change + 1 and min_delta tol (its best
                loss follows every decrease, not only those past tol).

Settings a schedule does not read are refused; decay_rate is required where
Keras requires it, decay_steps defaults to one epoch's updates (cosine: every
update after the warmup), boundaries and values have no default.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlpbench.errors import UsageError


class Steps(NamedTuple):
    """How many updates a run makes: per epoch, and in all."""

    per_epoch: int
    total: int

    @classmethod
    def of(cls, trained: int, batch: int, epochs: int) -> Steps:
        """The updates of epochs passes over trained points in batches (the last may be short)."""
        per_epoch = -(-trained // batch)
        return cls(per_epoch, per_epoch * epochs)


def _progress(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    progress = s / p["decay_steps"]
    return np.floor(progress) if p["staircase"] else progress


def _constant(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return np.ones_like(s)


def _exponential(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return p["decay_rate"] ** _progress(s, p)


def _inverse_time(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return 1.0 / (1.0 + p["decay_rate"] * _progress(s, p)) ** p["power_t"]


def _cosine_decay(s: np.ndarray, steps: float, alpha: float) -> np.ndarray:
    return (1.0 - alpha) * (0.5 * (1.0 + np.cos(np.pi * (s / steps)))) + alpha


def _cosine(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    steps, alpha, warmup = p["decay_steps"], p["alpha"], p["warmup_steps"]
    if not warmup:
        return _cosine_decay(np.minimum(s, steps), steps, alpha)
    target = p["warmup_target"]
    s = np.minimum(s, steps + warmup)
    rising = (target - 1.0) * (s / warmup) + 1.0
    return np.where(s < warmup, rising, target * _cosine_decay(s - warmup, steps, alpha))


def _piecewise(s: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    index = np.searchsorted(np.asarray(p["boundaries"], dtype=np.float64), s, side="left")
    return np.asarray(p["values"], dtype=np.float64)[index]


class Schedule(NamedTuple):
    """A schedule's factor per update, and the settings it reads with their defaults (None:
    required, or computed from the run's length by `resolve`); adaptive: its rate follows
    the run's losses, so the engine computes it as it trains (factors is then unused)."""

    factors: Callable[[np.ndarray, dict[str, Any]], np.ndarray]
    defaults: dict[str, Any]
    adaptive: bool = False


DECAY = {"decay_rate": None, "decay_steps": None, "staircase": False}
SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule(_constant, {}),
    "exponential": Schedule(_exponential, DECAY),
    "inverse_time": Schedule(_inverse_time, DECAY | {"power_t": 1.0}),
    "cosine": Schedule(
        _cosine, {"decay_steps": None, "alpha": 0.0, "warmup_steps": 0, "warmup_target": None}
    ),
    "piecewise": Schedule(_piecewise, {"boundaries": None, "values": None}),
    "plateau": Schedule(_constant, {"plateau_factor": 0.1, "plateau_patience": 10,
                                    "plateau_min_delta": 1e-4, "plateau_cooldown": 0,
                                    "min_lr": 0.0}, adaptive=True),  # Keras' defaults
}  # fmt: skip
SETTINGS = ("decay_rate", "decay_steps", "staircase", "power_t", "alpha", "warmup_steps",
            "warmup_target", "boundaries", "values", "plateau_factor", "plateau_patience",
            "plateau_min_delta", "plateau_cooldown", "min_lr")  # fmt: skip
REQUIRED = {"exponential": ("decay_rate",), "inverse_time": ("decay_rate",),
            "piecewise": ("boundaries", "values")}  # fmt: skip


def uses(schedule: str, setting: str) -> bool:
    """Whether a schedule reads a setting."""
    return setting in SCHEDULES[schedule].defaults


def at_default(schedule: str, setting: str, value: Any, steps: Steps) -> bool:
    """Whether a setting is left out or given at the value it takes when left out."""
    if value is None:
        return True
    if not uses(schedule, setting):
        return False
    return value == _default(schedule, setting, {}, steps)


def _default(schedule: str, setting: str, given: dict[str, Any], steps: Steps) -> Any:
    if setting == "decay_steps":
        warmup = given.get("warmup_steps") or 0
        return steps.total - warmup if schedule == "cosine" else steps.per_epoch
    return SCHEDULES[schedule].defaults[setting]


def resolve(schedule: str, given: dict[str, Any], steps: Steps) -> dict[str, Any]:
    """Every setting the schedule reads: given, else its default; a missing required one, an
    unread one, or ones that contradict each other are one line."""
    for name, value in given.items():
        if value is not None and not uses(schedule, name):
            readers = [s for s in SCHEDULES if uses(s, name)]
            raise UsageError(f"{name} applies to schedule {', '.join(readers)}, not to "
                             f"{schedule!r}", name)  # fmt: skip
    missing = [n for n in REQUIRED.get(schedule, ()) if given.get(n) is None]
    if missing:
        raise UsageError(f"schedule {schedule!r} needs {' and '.join(missing)} (Keras' "
                         "schedule has no default for it)", missing[0])  # fmt: skip
    p = {n: given.get(n) if given.get(n) is not None else _default(schedule, n, given, steps)
         for n in SCHEDULES[schedule].defaults}  # fmt: skip
    _check(schedule, p)
    return p


def _check(schedule: str, p: dict[str, Any]) -> None:
    if schedule == "cosine" and bool(p["warmup_steps"]) != (p["warmup_target"] is not None):
        raise UsageError("a cosine warmup needs both warmup_steps and warmup_target, got "
                         f"warmup_steps {p['warmup_steps']!r} and warmup_target "
                         f"{p['warmup_target']!r}", "warmup_steps")  # fmt: skip
    if schedule == "cosine" and p["decay_steps"] < 1:
        raise UsageError(f"a cosine warmup of {p['warmup_steps']} steps leaves no update to "
                         "decay over; give decay_steps", "decay_steps")  # fmt: skip
    if schedule == "piecewise":
        b, v = p["boundaries"], p["values"]
        if len(v) != len(b) + 1:
            raise UsageError(f"piecewise needs one value more than boundaries, got "
                             f"{len(b)} boundaries and {len(v)} values", "values")  # fmt: skip
        if any(lo >= hi for lo, hi in itertools.pairwise(b)):
            raise UsageError(f"piecewise boundaries must increase, got {list(b)}", "boundaries")


def factors(schedule: str, settings: dict[str, Any], total: int) -> np.ndarray | None:
    """The factor of every update s = 0 .. total - 1, float64 (total,); None for constant,
    which engines then skip, and for an adaptive schedule, whose engine computes rates."""
    if schedule == "constant" or SCHEDULES[schedule].adaptive:
        return None
    s = np.arange(total, dtype=np.float64)
    return np.asarray(SCHEDULES[schedule].factors(s, settings), dtype=np.float64)


class PlateauState(NamedTuple):
    """Each run's ReduceLROnPlateau state (R,): its rate, best loss, wait and rest left."""

    rate: np.ndarray
    best: np.ndarray
    wait: np.ndarray
    cooldown: np.ndarray


def plateau_init(lrs: np.ndarray) -> PlateauState:
    """Every run at its own rate, nothing seen yet (Keras' best starts at infinity)."""
    rate = np.asarray(lrs, dtype=np.float64).copy()
    zeros = np.zeros(rate.shape, dtype=np.int64)
    return PlateauState(rate, np.full(rate.shape, np.inf), zeros, zeros)


def plateau_update(state: PlateauState, loss: np.ndarray, p: dict[str, Any]) -> PlateauState:
    """One epoch's end of ReduceLROnPlateau for every run (loss (R,) the epoch's training
    loss); the returned rate is the next epoch's."""
    resting = state.cooldown > 0
    cooldown = np.where(resting, state.cooldown - 1, state.cooldown)
    improved = loss < state.best - p["plateau_min_delta"]  # a NaN loss never improves
    best = np.where(improved, loss, state.best)
    waiting = ~improved & (cooldown == 0)
    wait = np.where(improved | resting, 0, state.wait) + waiting
    reduce = waiting & (wait >= p["plateau_patience"]) & (state.rate > np.float32(p["min_lr"]))
    rate = np.where(reduce, np.maximum(state.rate * p["plateau_factor"], p["min_lr"]),
                    state.rate)  # fmt: skip
    return PlateauState(rate, best, np.where(reduce, 0, wait),
                        np.where(reduce, p["plateau_cooldown"], cooldown))  # fmt: skip
